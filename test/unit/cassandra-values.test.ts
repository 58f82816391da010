import cassandra from 'cassandra-driver';
import { describe, it, expect } from 'vitest';
import { CassandraValueError } from '../../runtime/connectors/cassandra/errors.ts';
import { cassandraColumn } from '../../runtime/connectors/cassandra/metadata.ts';
import { baseType, bigDecimal, timestamp, toCassandra, toText, typeArgs } from '../../runtime/connectors/cassandra/values.ts';

const { BigDecimal, Duration, InetAddress, Integer, LocalDate, LocalTime, Long, TimeUuid, Tuple, Uuid, Vector } = cassandra.types;
const col = (type: string) => cassandraColumn({ column_name: 'c', type });
const to = (type: string, value: string | number | boolean | null) => toCassandra(value, col(type));
const refusal = (type: string, value: string): string => {
  try {
    to(type, value);
  } catch (err) {
    expect(err).toBeInstanceOf(CassandraValueError);
    return (err as Error).message;
  }
  throw new Error(`${type} took '${value}'`);
};

describe('typeArgs / baseType', () => {
  it('strips frozen and splits top-level arguments', () => {
    expect(baseType(' Frozen<List<Int>> ')).toBe('list<int>');
    expect(typeArgs('map<text, frozen<list<int>>>')).toEqual({ name: 'map', args: ['text', 'frozen<list<int>>'] });
    expect(typeArgs('vector<float, 3>')).toEqual({ name: 'vector', args: ['float', '3'] });
    expect(typeArgs('int')).toEqual({ name: 'int', args: [] });
  });
});

describe('toCassandra', () => {
  it('binds NULL as null (a tombstone for the column)', () => {
    expect(to('int', null)).toBeNull();
    expect(to('text', null)).toBeNull();
  });

  it('binds int, smallint and tinyint as Number', () => {
    expect(to('int', '+27')).toBe(27);
    expect(to('smallint', '-32768')).toBe(-32768);
    expect(to('tinyint', 127)).toBe(127);
  });

  it('binds bigint and counter as Long, varint as Integer, decimal as BigDecimal', () => {
    const big = to('bigint', '-9223372036854775808');
    expect(big).toBeInstanceOf(Long);
    expect(String(big)).toBe('-9223372036854775808');
    expect(String(to('counter', '+5'))).toBe('5');
    const vi = to('varint', '123456789012345678901234567890');
    expect(vi).toBeInstanceOf(Integer);
    expect(String(vi)).toBe('123456789012345678901234567890');
    const de = to('decimal', '-1.50');
    expect(de).toBeInstanceOf(BigDecimal);
    expect(String(de)).toBe('-1.50');
  });

  it('reads decimals in every form convert.ts accepts, never with a negative scale', () => {
    expect(String(bigDecimal('1.5e3'))).toBe('1500');
    expect(String(bigDecimal('-1.50e-3'))).toBe('-0.00150');
    expect(String(bigDecimal('.5'))).toBe('0.5');
    expect(String(bigDecimal('+7.'))).toBe('7');
    expect(String(bigDecimal('-0.0'))).toBe('0.0');
    expect(String(bigDecimal('007'))).toBe('7');
    expect(bigDecimal('1e99999')).toBeUndefined();
    expect(bigDecimal('abc')).toBeUndefined();
    expect(bigDecimal('.')).toBeUndefined();
  });

  it('binds float and double as Number, with infinities and NaN', () => {
    expect(to('double', '2.5e300')).toBe(2.5e300);
    expect(to('float', '1.1')).toBe(1.1);
    expect(to('float', '-inf')).toBe(-Infinity);
    expect(to('double', 'Infinity')).toBe(Infinity);
    expect(to('double', 'nan')).toBeNaN();
  });

  it('binds booleans, timestamps (UTC unless a zone is given), dates and times', () => {
    expect(to('boolean', true)).toBe(true);
    expect(to('boolean', 'off')).toBe(false);
    expect(to('timestamp', '2024-02-29 23:59:58.123')).toEqual(new Date('2024-02-29T23:59:58.123Z'));
    expect(to('timestamp', '2024-02-29')).toEqual(new Date('2024-02-29T00:00:00Z'));
    expect(to('timestamp', '2024-02-29T10:00+0200')).toEqual(new Date('2024-02-29T08:00:00Z'));
    expect(to('timestamp', '2024-02-29 10:00:00.123456z')).toEqual(new Date('2024-02-29T10:00:00.123Z'));
    expect(timestamp('2024-02-30')).toBeUndefined();
    const d = to('date', '2024-02-29');
    expect(d).toBeInstanceOf(LocalDate);
    expect(String(d)).toBe('2024-02-29');
    const t = to('time', '10:05');
    expect(t).toBeInstanceOf(LocalTime);
    expect(String(t)).toBe('10:05:00');
    expect(String(to('time', '23:59:59.123456789'))).toBe('23:59:59.123456789');
  });

  it('binds uuid, timeuuid, inet, duration, blob and text', () => {
    expect(to('uuid', '8f0b8c8e-1d2a-4a6b-9c1e-2f4d5e6a7b8c')).toEqual(Uuid.fromString('8f0b8c8e-1d2a-4a6b-9c1e-2f4d5e6a7b8c'));
    expect(to('timeuuid', '50554d6e-29bb-11e5-b345-feff819cdc9f')).toBeInstanceOf(TimeUuid);
    expect(to('inet', '::1')).toBeInstanceOf(InetAddress);
    expect(to('duration', '1h30m')).toEqual(Duration.fromString('1h30m'));
    expect(to('duration', 'P1DT2H')).toEqual(Duration.fromString('P1DT2H'));
    expect(to('blob', 'héllo')).toEqual(Buffer.from('héllo', 'utf8'));
    expect(to('text', ' keep spaces ')).toBe(' keep spaces ');
    expect(to('varchar', 42)).toBe('42');
    expect(to('ascii', 'plain')).toBe('plain');
  });

  it('binds collections written as JSON, each element converted for its type', () => {
    expect(to('list<int>', '[1, "2"]')).toEqual([1, 2]);
    expect(to('frozen<set<text>>', '["b","a"]')).toEqual(['b', 'a']);
    expect(to('map<int, bigint>', '{"1":"9223372036854775807"}')).toEqual(new Map([[1, Long.fromString('9223372036854775807')]]));
    expect(to('tuple<int, text>', '[1, "x"]')).toEqual(Tuple.fromArray([1, 'x']));
    const v = to('vector<float, 3>', '[0.5, 1, 2]') as InstanceType<typeof Vector>;
    expect(v).toBeInstanceOf(Vector);
    expect(v.length).toBe(3);
    expect(to('list<frozen<map<text, int>>>', '[{"a":1}]')).toEqual([new Map([['a', 1]])]);
  });

  it.each([
    ['int', '2147483648', 'out of range for int'], ['tinyint', '1.5', 'not an integer'], ['bigint', '9223372036854775808', 'out of range for bigint'],
    ['varint', '1e3', 'not an integer'], ['decimal', 'abc', 'not a number'], ['float', '1e39', 'out of range for float'],
    ['double', '1e400', 'out of range for double'], ['boolean', 'maybe', 'not a boolean'], ['date', '2023-02-29', 'not a date'],
    ['time', '24:00', 'not a time'], ['timestamp', '2024-13-01 10:00', 'not a timestamp'], ['uuid', 'nope', 'Invalid string representation of Uuid'],
    ['inet', 'nope', 'could not be parsed'], ['duration', 'forever', 'not a duration'], ['ascii', 'héllo', 'not ASCII'],
    ['list<int>', 'nope', 'not JSON'], ['list<int>', '{"a":1}', 'not a JSON array'], ['list<int>', '[1,"x"]', 'element 1: not an integer'],
    ['list<int>', '[1,null]', 'element 1 is null'], ['map<int, text>', '{"k":"v"}', "key 'k': not an integer"], ['map<text, int>', '[1]', 'not a JSON object'],
    ['vector<float, 3>', '[1,2]', '2 elements, not 3'],
  ])('refuses %s %j (%s), naming only this value', (type, value, reason) => {
    expect(refusal(type, value)).toContain(reason);
    expect(refusal(type, value)).toMatch(new RegExp(`^value '`));
  });

  it('names the key column when the id does not fit', () => {
    expect(() => toCassandra('abc', { name: 'Id', type: 'int', family: 'integer' }, true)).toThrow("key column Id (int) cannot take id 'abc': not an integer");
  });
});

describe('toText', () => {
  it('turns what the driver reads into the text a hash would hold', () => {
    expect(toText(null)).toBeNull();
    expect(toText(undefined)).toBeNull();
    expect(toText('x')).toBe('x');
    expect(toText(27)).toBe('27');
    expect(toText(true)).toBe('true');
    expect(toText(false)).toBe('false');
    expect(toText(new Date('2024-02-29T23:59:58.123Z'))).toBe('2024-02-29T23:59:58.123Z');
    expect(toText(Long.fromString('-9223372036854775808'))).toBe('-9223372036854775808');
    expect(toText(Integer.fromString('123456789012345678901234567890'))).toBe('123456789012345678901234567890');
    expect(toText(BigDecimal.fromString('-0.00150'))).toBe('-0.00150');
    expect(toText(LocalDate.fromString('2024-02-29'))).toBe('2024-02-29');
    expect(toText(Uuid.fromString('8f0b8c8e-1d2a-4a6b-9c1e-2f4d5e6a7b8c'))).toBe('8f0b8c8e-1d2a-4a6b-9c1e-2f4d5e6a7b8c');
    expect(toText(Buffer.from('héllo'))).toBe('héllo');
  });

  it('shows a 32-bit float by its shortest text', () => {
    expect(toText(Math.fround(1.1), col('float'))).toBe('1.1');
    expect(toText(Math.fround(1.1), col('double'))).toBe(String(Math.fround(1.1)));
    expect(toText(Infinity, col('float'))).toBe('Infinity');
  });

  it('shows collections as JSON', () => {
    expect(toText([1, 2])).toBe('[1,2]');
    expect(toText(new Set(['a', 'b']))).toBe('["a","b"]');
    expect(toText(new Map([[1, 'one']]))).toBe('{"1":"one"}');
    expect(toText([new Map([['b', Long.fromString('5')]])])).toBe('[{"b":"5"}]');
    expect(toText(Tuple.fromArray([1, 'x']))).toBe('[1,"x"]');
  });
});

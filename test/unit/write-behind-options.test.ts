import { describe, it, expect } from 'vitest';
import { MySqlConnection, MySqlConnector, RecipeError, writeBehind, type WriteBehindOptions } from '../../recipes/index.ts';
import { isRegistration } from '../../recipes/options.ts';

const connector = new MySqlConnector(new MySqlConnection('u', 'p', 'localhost:3306/test'), 'persons', 'id');
const base: WriteBehindOptions = {
  name: 'Persons',
  version: '1',
  connector,
  keysPrefix: 'person',
  mappings: { first_name: 'first', last_name: 'last' },
};

/** Calls writeBehind with `base` overridden by `patch` (any value, to reach the runtime checks). */
function compile(patch: Record<string, unknown>) {
  return writeBehind({ ...base, ...patch } as unknown as WriteBehindOptions);
}

function errorOf(patch: Record<string, unknown>): RecipeError {
  try {
    compile(patch);
  } catch (err) {
    expect(err).toBeInstanceOf(RecipeError);
    return err as RecipeError;
  }
  throw new Error('expected writeBehind to throw');
}

describe('writeBehind', () => {
  it('applies defaults and returns a frozen registration', () => {
    const reg = writeBehind(base);
    expect(reg).toStrictEqual({
      kind: 'writeBehind', name: 'Persons', version: '1', connector, keysPrefix: 'person',
      mappings: { first_name: 'first', last_name: 'last' }, onExpire: 'keep', onFlush: 'keep', batchSize: 1000, parallelism: 2, keyMatch: 'exact', maxBacklog: 1_000_000, partitions: 8, stagingPrefix: '',
    });
    expect(Object.isFrozen(reg)).toBe(true);
    expect(Object.isFrozen(reg.mappings)).toBe(true);
    expect(isRegistration(reg)).toBe(true);
    expect(isRegistration({ ...reg })).toBe(false);
  });

  it('keeps explicit onExpire, onFlush, batchSize and parallelism', () => {
    const reg = compile({ onExpire: 'delete', onFlush: 'delete', batchSize: 10_000, parallelism: 16 });
    expect([reg.onExpire, reg.onFlush, reg.batchSize, reg.parallelism]).toStrictEqual(['delete', 'delete', 10_000, 16]);
    expect(compile({ parallelism: 1, batchSize: 1 })).toMatchObject({ parallelism: 1, batchSize: 1 });
  });

  it('defaults an explicitly undefined or null parallelism', () => {
    expect(compile({ parallelism: undefined }).parallelism).toBe(2);
    expect(compile({ parallelism: null }).parallelism).toBe(2);
  });

  it('rejects an empty or invalid name', () => {
    expect(errorOf({ name: '' }).message).toBe(
      "writeBehind name must be a non-empty string of letters, digits, '_', '-' or '.' (got '')",
    );
    expect(errorOf({ name: 'a b' }).message).toMatch(/^writeBehind name must be/);
    expect(errorOf({ name: undefined }).message).toMatch(/\(got nothing\)$/);
  });

  it.each(['1.a', '', 'v1', '1.', '.1', 1])('rejects version %j', (version) => {
    const shown = typeof version === 'string' ? `'${version}'` : String(version);
    expect(errorOf({ version }).message).toBe(
      `writeBehind 'Persons': version must be a dotted number such as '1' or '1.2.0' (got ${shown})`,
    );
  });

  it('rejects a connector that is not a connector', () => {
    expect(errorOf({ connector: { table: 'persons', pkColumn: 'id' } }).message).toBe(
      "writeBehind 'Persons': connector must be a connector such as new MySqlConnector(...) or new PostgresConnector(...)",
    );
  });

  it('rejects empty, non-object or array mappings', () => {
    expect(errorOf({ mappings: {} }).message).toBe(
      "writeBehind 'Persons': mappings must map at least one hash field to a column",
    );
    expect(errorOf({ mappings: ['first'] }).message).toMatch(/mappings must be an object of hash field -> column \(got \["first"\]\)/);
    expect(errorOf({ mappings: null }).message).toMatch(/mappings must be an object/);
  });

  it('rejects a mapping to the primary-key column', () => {
    expect(errorOf({ mappings: { first_name: 'first', key: 'id' } }).message).toBe(
      "writeBehind 'Persons': mappings.key maps to the primary-key column 'id', which always receives the id from the key; remove that mapping",
    );
  });

  it('rejects two fields mapped to the same column', () => {
    expect(errorOf({ mappings: { a: 'first', b: 'first' } }).message).toBe(
      "writeBehind 'Persons': mappings.b and mappings.a both map to column 'first'",
    );
  });

  it("rejects the reserved field '#' and blank columns", () => {
    expect(errorOf({ mappings: { '#': 'x' } }).message).toMatch(/mappings has an invalid field name '#'/);
    expect(errorOf({ mappings: { a: '  ' } }).message).toBe("writeBehind 'Persons': mappings.a must be a non-empty column name (got '  ')");
  });

  it("rejects a keysPrefix with '*' and names the covered keys", () => {
    expect(errorOf({ keysPrefix: 'person*' }).message).toBe(
      "writeBehind 'Persons': keysPrefix must not contain '*', '?', '[', ']' or '\\' (got 'person*'); it is a plain prefix, keys 'person:{id}' are covered",
    );
  });

  it("rejects a keysPrefix ending with ':'", () => {
    expect(errorOf({ keysPrefix: 'person:' }).message).toBe(
      "writeBehind 'Persons': keysPrefix must not end with ':' (got 'person:'); write 'person', the ':' is added for you",
    );
    expect(errorOf({ keysPrefix: '' }).message).toMatch(/keysPrefix must be a non-empty string \(got ''\)/);
  });

  it.each(['never', '', 'Keep', 0, true])('rejects onExpire %j', (onExpire) => {
    expect(errorOf({ onExpire }).message).toMatch(/^writeBehind 'Persons': onExpire must be 'keep' or 'delete' \(got /);
  });

  it.each([0, -1, 1.5, 10_001, '10', Number.NaN])('rejects batchSize %j', (batchSize) => {
    expect(errorOf({ batchSize }).message).toMatch(/^writeBehind 'Persons': batchSize must be an integer from 1 to 10000 \(got /);
  });

  it.each([
    [0, '0'],
    [17, '17'],
    [-1, '-1'],
    [1.5, '1.5'],
    ['2', "'2'"],
    [true, 'true'],
    [[2], '[2]'],
  ] as const)('rejects parallelism %j, naming the field', (parallelism, shown) => {
    expect(errorOf({ parallelism }).message).toBe(`writeBehind 'Persons': parallelism must be an integer from 1 to 16 (got ${shown})`);
  });

  it.each([Number.NaN, Number.POSITIVE_INFINITY])('rejects parallelism %j', (parallelism) => {
    expect(errorOf({ parallelism }).message).toMatch(/^writeBehind 'Persons': parallelism must be an integer from 1 to 16 \(got /);
  });

  it('keeps an explicit maxBacklog within its range', () => {
    expect(compile({ maxBacklog: 100 }).maxBacklog).toBe(100);
    expect(compile({ maxBacklog: 1_000_000_000 }).maxBacklog).toBe(1_000_000_000);
    expect(compile({ maxBacklog: undefined }).maxBacklog).toBe(1_000_000);
  });

  it.each([
    [99, '99'],
    [0, '0'],
    [-1, '-1'],
    [1.5, '1.5'],
    [1_000_000_001, '1000000001'],
    ['1000', "'1000'"],
    [Number.NaN, 'null'],
    [Number.POSITIVE_INFINITY, 'null'],
  ] as const)('rejects maxBacklog %j, naming the field', (maxBacklog, shown) => {
    expect(errorOf({ maxBacklog }).message).toBe(`writeBehind 'Persons': maxBacklog must be an integer from 100 to 1000000000 records (got ${shown})`);
  });

  it.each(['never', 'Delete', 1])('rejects onFlush %j', (onFlush) => {
    expect(errorOf({ onFlush }).message).toMatch(/^writeBehind 'Persons': onFlush must be 'keep' or 'delete' \(got /);
  });

  it.each(['Exact', 'loose', true])('rejects keyMatch %j', (keyMatch) => {
    expect(errorOf({ keyMatch }).message).toMatch(/^writeBehind 'Persons': keyMatch must be 'exact' or 'inexact' \(got /);
  });

  it('takes keyMatch inexact', () => {
    expect(writeBehind({ ...base, keyMatch: 'inexact' }).keyMatch).toBe('inexact');
  });

  it.each(['__', '', 'x{', null])('refuses stagingPrefix %j, which applies to writeThrough only', (stagingPrefix) => {
    expect(errorOf({ stagingPrefix }).message).toBe(
      "writeBehind 'Persons': stagingPrefix applies to writeThrough only; use writeThrough({...}) to stage writes",
    );
  });

  it('accepts an explicitly undefined stagingPrefix', () => {
    expect(compile({ stagingPrefix: undefined }).stagingPrefix).toBe('');
  });
});

// MySQL column names are case-insensitive: a recipe naming one column twice in two spellings would
// make every INSERT fail with errno 1110 (column specified twice), so it is refused up front.
describe('writeBehind column names (MySQL is case-insensitive)', () => {
  it('rejects a mapping to the primary-key column spelled in another case', () => {
    expect(() => compile({ mappings: { first_name: 'first', key: 'ID' } })).toThrow(/maps to the primary-key column/);
  });

  it('rejects two fields mapped to the same column in different cases', () => {
    expect(() => compile({ mappings: { a: 'first', b: 'First' } })).toThrow(/both map to column/);
  });
});

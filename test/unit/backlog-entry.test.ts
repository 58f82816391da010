import { describe, it, expect } from 'vitest';
import { decodeEntry, entryRef, type BacklogEntry } from '../../runtime/backlog/entry.ts';

/** The records of one stream entry `id` holding `raw`. */
const records = (raw: string[] | null, id = '1-0'): readonly BacklogEntry[] => decodeEntry([id, raw]).records;

describe('decodeEntry: one record', () => {
  it('decodes an upsert with its fields and no ack, keeping the stream id and the partition', () => {
    expect(decodeEntry(['1-0', ['person:1', 'u:2:', 'first_name', 'Ann', 'age', '30']], 3)).toStrictEqual({
      id: '1-0',
      partition: 3,
      records: [{ id: '1-0', key: 'person:1', ack: '', op: 'u', fields: new Map([['first_name', 'Ann'], ['age', '30']]) }],
    });
  });

  it('decodes an upsert carrying an ack id', () => {
    expect(records(['person:1', 'u:1:ack7', 'age', '30'], '1-1')).toStrictEqual([
      { id: '1-1', key: 'person:1', ack: 'ack7', op: 'u', fields: new Map([['age', '30']]) },
    ]);
  });

  it('keeps everything after the second colon as the ack id, colons and newlines included', () => {
    expect(records(['person:1', 'd:0:a:b:c'])).toStrictEqual([{ id: '1-0', key: 'person:1', ack: 'a:b:c', op: 'd' }]);
    expect(records(['person:1', 'd:0:x\ny'])).toStrictEqual([{ id: '1-0', key: 'person:1', ack: 'x\ny', op: 'd' }]);
  });

  it('decodes an upsert of fields and values that look like keys and headers', () => {
    const [r] = records(['p:1', 'u:2:', 'd:0:', 'u:1:', 'person:2', 'x:0:']);
    expect(r).toStrictEqual({ id: '1-0', key: 'p:1', ack: '', op: 'u', fields: new Map([['d:0:', 'u:1:'], ['person:2', 'x:0:']]) });
  });

  it('decodes an upsert of an empty field list', () => {
    expect(records(['p:1', 'u:0:'])).toStrictEqual([{ id: '1-0', key: 'p:1', ack: '', op: 'u', fields: new Map() }]);
  });

  it('decodes a delete, with and without an ack', () => {
    expect(records(['person:1', 'd:0:'], '2-1')).toStrictEqual([{ id: '2-1', key: 'person:1', ack: '', op: 'd' }]);
    expect(records(['person:1', 'd:0:x1'], '2-2')).toStrictEqual([{ id: '2-2', key: 'person:1', ack: 'x1', op: 'd' }]);
  });

  it('decodes a wrong type from the value of its pair, defaulting to unknown', () => {
    expect(records(['person:1', 't:1:', 't', 'list'], '3-0')).toStrictEqual([{ id: '3-0', key: 'person:1', ack: '', op: 't', type: 'list' }]);
    expect(records(['person:1', 't:0:q'], '3-0')).toStrictEqual([{ id: '3-0', key: 'person:1', ack: 'q', op: 't', type: 'unknown' }]);
    expect(records(['person:1', 't:1:q', 't', 'hash'], '3-1')).toStrictEqual([{ id: '3-1', key: 'person:1', ack: 'q', op: 't', type: 'hash' }]);
  });

  it('decodes an invalid # op report with its message, defaulting the message', () => {
    expect(records(['person:1', 'p:1:', 'm', "'#' op '?' is not one of =, ~, + or -"], '5-0')).toStrictEqual([
      { id: '5-0', key: 'person:1', ack: '', op: 'p', message: "'#' op '?' is not one of =, ~, + or -" },
    ]);
    expect(records(['person:1', 'p:0:'], '5-1')).toStrictEqual([{ id: '5-1', key: 'person:1', ack: '', op: 'p', message: 'invalid # op' }]);
  });

  it('decodes staged write-through fields', () => {
    expect(records(['person:1', 'w:2:w1', 'first_name', 'Ada', 'age', '36'], '6-0')).toStrictEqual([
      { id: '6-0', key: 'person:1', ack: 'w1', op: 'w', fields: new Map([['first_name', 'Ada'], ['age', '36']]) },
    ]);
    expect(records(['person:1', 'w:0:'], '6-1')).toStrictEqual([{ id: '6-1', key: 'person:1', ack: '', op: 'w', fields: new Map() }]);
  });

  it('decodes a write-through delete', () => {
    expect(records(['person:1', 'x:0:gone'], '7-0')).toStrictEqual([{ id: '7-0', key: 'person:1', ack: 'gone', op: 'x' }]);
  });
});

describe('decodeEntry: many records', () => {
  it('decodes every record of a capture call in order, each with the stream id', () => {
    const raw = [
      'person:1', 'u:1:a1', 'age', '30',
      'person:2', 'd:0:',
      'person:3', 't:1:', 't', 'zset',
      'person:4', 'p:1:', 'm', 'bad op',
      'person:1', 'u:2:', 'age', '31', 'first_name', 'Ann',
    ];
    expect(decodeEntry(['9-3', raw], 7)).toStrictEqual({
      id: '9-3',
      partition: 7,
      records: [
        { id: '9-3', key: 'person:1', ack: 'a1', op: 'u', fields: new Map([['age', '30']]) },
        { id: '9-3', key: 'person:2', ack: '', op: 'd' },
        { id: '9-3', key: 'person:3', ack: '', op: 't', type: 'zset' },
        { id: '9-3', key: 'person:4', ack: '', op: 'p', message: 'bad op' },
        { id: '9-3', key: 'person:1', ack: '', op: 'u', fields: new Map([['age', '31'], ['first_name', 'Ann']]) },
      ],
    });
  });

  it('decodes a run of staged writes and deletes', () => {
    expect(records(['person:1', 'w:1:w1', 'age', '1', 'person:1', 'x:0:x1', 'person:2', 'w:0:'], '8-0')).toStrictEqual([
      { id: '8-0', key: 'person:1', ack: 'w1', op: 'w', fields: new Map([['age', '1']]) },
      { id: '8-0', key: 'person:1', ack: 'x1', op: 'x' },
      { id: '8-0', key: 'person:2', ack: '', op: 'w', fields: new Map() },
    ]);
  });

  it('skips the pairs a record declares even where they are not read', () => {
    expect(records(['person:1', 'd:1:', 'f', 'v', 'person:2', 'x:2:', 'a', 'b', 'c', 'd', 'person:3', 'd:0:'])).toStrictEqual([
      { id: '1-0', key: 'person:1', ack: '', op: 'd' },
      { id: '1-0', key: 'person:2', ack: '', op: 'x' },
      { id: '1-0', key: 'person:3', ack: '', op: 'd' },
    ]);
  });

  it('reads the type and message from the second value of a record with several pairs', () => {
    expect(records(['person:1', 't:2:', 't', 'list', 'extra', 'x', 'person:2', 'p:2:', 'm', 'why', 'n', 'o'])).toStrictEqual([
      { id: '1-0', key: 'person:1', ack: '', op: 't', type: 'list' },
      { id: '1-0', key: 'person:2', ack: '', op: 'p', message: 'why' },
    ]);
  });
});

describe('decodeEntry: nothing to decode', () => {
  it('has no records for an entry deleted meanwhile', () => {
    expect(decodeEntry(['4-0', null], 2)).toStrictEqual({ id: '4-0', partition: 2, records: [] });
  });

  it('has no records for an empty entry', () => {
    expect(decodeEntry(['4-1', []])).toStrictEqual({ id: '4-1', partition: 0, records: [] });
  });

  it('says why a lone key is malformed', () => {
    expect(decodeEntry(['4-2', ['person:1']], 5)).toStrictEqual({
      id: '4-2', partition: 5, records: [], malformed: 'backlog entry 4-2 of partition 5, value 1 of 1: key "person:1" has no record header; 1 values not synced',
    });
  });

  it.each([
    ['an entry of the old layout', ['k', 'person:1', 'o', 'u', 'a', '', 'first_name', 'Ann']],
    ['an unknown op', ['person:1', 'z:0:']],
    ['the refresh-only op n', ['person:1', 'n:0:']],
    ['a header without a count', ['person:1', 'u::']],
    ['a header with a negative count', ['person:1', 'u:-1:']],
    ['a header without the ack separator', ['person:1', 'u:0']],
    ['a header with a bare op', ['person:1', 'd']],
    ['a header in capitals', ['person:1', 'D:0:']],
    ['a header with text before it', ['person:1', ' d:0:']],
    ['more pairs declared than present', ['person:1', 'u:2:', 'age', '30', 'first_name']],
  ] as const)('has no records for %s, and says why (never an entry acknowledged unseen)', (_, raw) => {
    expect(decodeEntry(['4-0', [...raw]])).toStrictEqual({ id: '4-0', partition: 0, records: [], malformed: expect.stringMatching(/^backlog entry 4-0 of partition 0, value 1 of \d+: .+; \d+ values not synced$/) });
  });

  it.each([
    ['an unknown op', ['person:1', 'z:0:'], 'key "person:1" has an unknown op "z"'],
    ['a header without a count', ['person:1', 'u::'], 'key "person:1" has no record header (op:pairs:ack) but "u::"'],
    ['more pairs declared than present', ['person:1', 'u:2:', 'age', '30', 'first_name'], 'key "person:1" announces 2 field pairs, the entry has 1 left'],
  ] as const)('names the reason for %s', (_, raw, why) => {
    expect(decodeEntry(['4-0', [...raw]]).malformed).toBe(`backlog entry 4-0 of partition 0, value 1 of ${raw.length}: ${why}; ${raw.length} values not synced`);
  });

  it('shortens a long value quoted in the reason', () => {
    const { malformed } = decodeEntry(['4-0', ['k'.repeat(500), 'garbage']]);
    expect(malformed).toContain(`"${'k'.repeat(80)}…"`);
    expect(malformed?.length).toBeLessThan(300);
  });
});

describe('decodeEntry: a malformed record stops decoding', () => {
  const good = ['person:1', 'u:1:a1', 'age', '30', 'person:2', 'd:0:d2'];
  const kept = [
    { id: '5-5', key: 'person:1', ack: 'a1', op: 'u', fields: new Map([['age', '30']]) },
    { id: '5-5', key: 'person:2', ack: 'd2', op: 'd' },
  ];

  it.each([
    ['an unknown op', ['person:3', 'q:0:', 'person:4', 'd:0:']],
    ['the refresh-only op n', ['person:3', 'n:0:', 'person:4', 'd:0:']],
    ['a header missing', ['person:3', 'age', '30', 'person:4', 'd:0:']],
    ['a record cut short', ['person:3', 'u:3:', 'a', '1', 'b', '2', 'person:4']],
    ['a dangling key', ['person:3']],
  ] as const)('keeping the records before %s, and saying where it stopped', (_, tail) => {
    const raw = [...good, ...tail];
    expect(decodeEntry(['5-5', raw], 1)).toStrictEqual({
      id: '5-5', partition: 1, records: kept, malformed: expect.stringMatching(new RegExp(`^backlog entry 5-5 of partition 1, value 7 of ${raw.length}: key "person:3" .+; ${tail.length} values not synced$`)),
    });
  });

  it('drops nothing for a well-formed entry', () => {
    expect(decodeEntry(['5-5', [...good]], 4)).toStrictEqual({ id: '5-5', partition: 4, records: kept });
  });
});

describe('entryRef', () => {
  it('names an entry by its partition and id: the same id in two partitions is two entries', () => {
    expect(entryRef({ id: '5-5', partition: 4 })).toBe('4/5-5');
    expect(entryRef(decodeEntry(['5-5', null], 0))).not.toBe(entryRef(decodeEntry(['5-5', null], 1)));
  });
});

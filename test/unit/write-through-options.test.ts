import { describe, it, expect } from 'vitest';
import { MySqlConnection, MySqlConnector, RecipeError, writeBehind, writeThrough, type WriteThroughOptions } from '../../recipes/index.ts';
import { compileWriteThrough, isRegistration } from '../../recipes/options.ts';

const connector = new MySqlConnector(new MySqlConnection('u', 'p', 'localhost:3306/test'), 'persons', 'id');
const base: WriteThroughOptions = {
  name: 'PersonsWT',
  version: '2.1',
  connector,
  keysPrefix: 'person',
  mappings: { first_name: 'first', last_name: 'last' },
};

/** Calls writeThrough with `base` overridden by `patch` (any value, to reach the runtime checks). */
function compile(patch: Record<string, unknown>) {
  return writeThrough({ ...base, ...patch } as unknown as WriteThroughOptions);
}

function errorOf(patch: Record<string, unknown>): RecipeError {
  try {
    compile(patch);
  } catch (err) {
    expect(err).toBeInstanceOf(RecipeError);
    return err as RecipeError;
  }
  throw new Error('expected writeThrough to throw');
}

describe('writeThrough', () => {
  it("applies defaults, staging under '__', and returns a frozen registration", () => {
    const reg = writeThrough(base);
    expect(reg).toStrictEqual({
      kind: 'writeThrough', name: 'PersonsWT', version: '2.1', connector, keysPrefix: 'person',
      mappings: { first_name: 'first', last_name: 'last' }, onExpire: 'keep', onFlush: 'keep', batchSize: 1000, parallelism: 2, keyMatch: 'exact', maxBacklog: 1_000_000, partitions: 8, stagingPrefix: '__',
    });
    expect(Object.isFrozen(reg)).toBe(true);
    expect(Object.isFrozen(reg.mappings)).toBe(true);
    expect(isRegistration(reg)).toBe(true);
    expect(isRegistration({ ...reg })).toBe(false);
  });

  it('is what compileWriteThrough builds', () => {
    expect(compileWriteThrough(base)).toStrictEqual(writeThrough(base));
  });

  it('keeps an explicit stagingPrefix, onExpire, onFlush, batchSize and parallelism', () => {
    const reg = compile({ stagingPrefix: 'staged:', onExpire: 'delete', onFlush: 'delete', batchSize: 7, parallelism: 5 });
    expect([reg.kind, reg.stagingPrefix, reg.onExpire, reg.onFlush, reg.batchSize, reg.parallelism]).toStrictEqual(['writeThrough', 'staged:', 'delete', 'delete', 7, 5]);
  });

  it('differs from writeBehind only in kind and stagingPrefix', () => {
    const { kind: k1, stagingPrefix: s1, ...wt } = writeThrough(base);
    const { kind: k2, stagingPrefix: s2, ...wb } = writeBehind(base);
    expect(wt).toStrictEqual(wb);
    expect([k1, s1, k2, s2]).toStrictEqual(['writeThrough', '__', 'writeBehind', '']);
  });

  it.each([
    ['', "''"],
    ['a{', "'a{'"],
    ['}', "'}'"],
    ['__*', "'__*'"],
    ['a?', "'a?'"],
    ['[x]', "'[x]'"],
    ['a\\b', "'a\\b'"],
    [5, '5'],
    [false, 'false'],
  ] as const)('refuses stagingPrefix %j, naming the field', (stagingPrefix, shown) => {
    expect(errorOf({ stagingPrefix }).message).toBe(
      `writeThrough 'PersonsWT': stagingPrefix must be a non-empty string without '*', '?', '[', ']', '\\', '{' or '}' (got ${shown})`,
    );
  });

  it('names writeThrough in the errors shared with writeBehind', () => {
    expect(errorOf({ name: '' }).message).toBe(
      "writeThrough name must be a non-empty string of letters, digits, '_', '-' or '.' (got '')",
    );
    expect(errorOf({ keysPrefix: 'person:' }).message).toBe(
      "writeThrough 'PersonsWT': keysPrefix must not end with ':' (got 'person:'); write 'person', the ':' is added for you",
    );
    expect(errorOf({ mappings: { '#': 'x' } }).message).toBe(
      "writeThrough 'PersonsWT': mappings has an invalid field name '#' ('#' is reserved for the sync protocol)",
    );
    expect(errorOf({ batchSize: 0 }).message).toBe("writeThrough 'PersonsWT': batchSize must be an integer from 1 to 10000 (got 0)");
    expect(errorOf({ parallelism: 17 }).message).toBe("writeThrough 'PersonsWT': parallelism must be an integer from 1 to 16 (got 17)");
    expect(errorOf({ parallelism: 0.5 }).message).toBe("writeThrough 'PersonsWT': parallelism must be an integer from 1 to 16 (got 0.5)");
  });

  it('needs an options object', () => {
    expect(() => writeThrough(null as unknown as WriteThroughOptions)).toThrow(new RecipeError('writeThrough needs an options object'));
  });
});

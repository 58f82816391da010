import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { evaluateRecipe } from '../../recipes/evaluate.ts';
import { loadRegistration } from '../../runtime/registry/load.ts';
import { loggingConsole } from '../../runtime/sandbox/console.ts';

const CONNECTOR = "new w.MySqlConnector(new w.MySqlConnection(() => { console.log('credential', 7); return 'u'; }, 'p', 'localhost:3306/test'), 'persons', 'id')";
const RECIPE = `const w = require('wbsync');
console.log('hello', { a: 1 });
console.warn('careful');
module.exports.default = w.writeBehind({ name: 'A', version: '1', connector: ${CONNECTOR}, keysPrefix: 'person', mappings: { first_name: 'first' } });`;

/** A pino logger whose records land in `records`. */
function memoryLogger() {
  const records: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) records.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'debug' }, stream), records };
}

afterEach(() => vi.restoreAllMocks());

describe("a recipe's console", () => {
  it('in the runtime, logs records with the recipe name, at its top level and in its credential functions', async () => {
    const { log, records } = memoryLogger();
    // The recipe runs in its sandbox (a worker thread of the build in dist/); its console comes back as messages.
    const { reg, sandbox } = await loadRegistration('A', RECIPE, 'wb', { log, params: async () => undefined });
    const user = reg.connector.connection as unknown as { user: () => Promise<string> };
    expect(await user.user()).toBe('u');
    await vi.waitFor(() => expect(records).toHaveLength(3));
    await sandbox.close();
    expect(records.map((r) => [r['level'], r['recipe'], r['msg']])).toEqual([
      [30, 'A', 'hello { a: 1 }'],
      [40, 'A', 'careful'],
      [30, 'A', 'credential 7'],
    ]);
  });

  it('maps every console method onto a level; the others log the lines they print', async () => {
    const { log, records } = memoryLogger();
    const c = loggingConsole(log);
    c.debug('d');
    c.info('i %s', 'x');
    c.error(new Error('boom').message);
    c.dir({ b: 2 });
    await new Promise((r) => setImmediate(r));
    expect(records.map((r) => [r['level'], r['msg']])).toEqual([
      [20, 'd'],
      [30, 'i x'],
      [50, 'boom'],
      [30, '{ b: 2 }'],
    ]);
  });

  it('elsewhere (wb-cli), prints to stderr, never to stdout', () => {
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    evaluateRecipe(RECIPE, 'r.ts');
    expect(out).not.toHaveBeenCalled();
    expect(err.mock.calls.map((c) => String(c[0]))).toEqual(['hello { a: 1 }\n', 'careful\n']);
  });
});

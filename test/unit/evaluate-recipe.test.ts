import { describe, it, expect } from 'vitest';
import { assertSdkImports, evaluateRecipe, RecipeLoadError, SDK_EXPORTS, unknownSdkImports } from '../../recipes/evaluate.ts';
import { MySqlConnector } from '../../recipes/index.ts';

const CONNECTOR = "new w.MySqlConnector(new w.MySqlConnection('u', 'p', 'localhost:3306/test'), 'persons', 'id')";
const reg = (name: string) =>
  `w.writeBehind({ name: '${name}', version: '1', connector: ${CONNECTOR}, keysPrefix: 'person', mappings: { first_name: 'first' } })`;

function loadError(code: string): RecipeLoadError {
  try {
    evaluateRecipe(code, 'r.ts');
  } catch (err) {
    expect(err).toBeInstanceOf(RecipeLoadError);
    return err as RecipeLoadError;
  }
  throw new Error('expected evaluateRecipe to throw');
}

describe('evaluateRecipe', () => {
  it('returns the registration of a default export', () => {
    const regs = evaluateRecipe(`const w = require('wbsync'); module.exports.default = ${reg('A')};`, 'r.ts');
    expect(regs).toHaveLength(1);
    expect(regs[0]?.name).toBe('A');
    expect(regs[0]?.connector).toBeInstanceOf(MySqlConnector);
    expect(regs[0]?.connector.connection.describe()).toBe('localhost:3306/test');
  });

  it('returns every registration of an exported array', () => {
    const regs = evaluateRecipe(`const w = require('wbsync'); module.exports.default = [${reg('A')}, ${reg('B')}];`, 'r.ts');
    expect(regs.map((r) => r.name)).toEqual(['A', 'B']);
  });

  it('works when module.exports is replaced, as esbuild does', () => {
    const regs = evaluateRecipe(`const w = require('wbsync'); module.exports = { default: ${reg('A')} };`, 'r.ts');
    expect(regs.map((r) => r.name)).toEqual(['A']);
  });

  it('allows Node built-ins', () => {
    const code = `const path = require('node:path'); const w = require('wbsync');
      module.exports.default = w.writeBehind({ name: path.basename('/x/A'), version: '1', connector: ${CONNECTOR}, keysPrefix: 'p', mappings: { a: 'a' } });`;
    expect(evaluateRecipe(code, 'r.ts')[0]?.name).toBe('A');
  });

  it('reports a missing default export', () => {
    expect(loadError(`module.exports.named = 1;`).message).toBe(
      'r.ts has no default export; end it with: export default writeBehind({ ... })',
    );
  });

  it('reports a default export that is not a registration', () => {
    expect(loadError(`module.exports.default = { name: 'A', kind: 'writeBehind' };`).message).toBe(
      "r.ts: default export is not a registration; build it with writeBehind({ ... }) from 'wbsync'",
    );
    expect(loadError(`const w = require('wbsync'); module.exports.default = [${reg('A')}, 42];`).message).toBe(
      "r.ts: default export [1] is not a registration; build it with writeBehind({ ... }) from 'wbsync'",
    );
  });

  it('reports an empty array', () => {
    expect(loadError(`module.exports.default = [];`).message).toBe('r.ts exports an empty array of registrations');
  });

  it('refuses modules that are neither wbsync nor built-in', () => {
    expect(loadError(`const _ = require('lodash'); module.exports.default = 1;`).message).toBe(
      "r.ts requires 'lodash', which is not part of the bundle",
    );
  });

  it('wraps a throw at load time', () => {
    expect(loadError(`throw new Error('boom');`).message).toBe('r.ts failed while loading: boom');
    expect(loadError(`const w = require('wbsync'); module.exports.default = w.writeBehind({ name: '' });`).message).toMatch(
      /^r\.ts failed while loading: writeBehind name must be/,
    );
  });

  it('refuses a name registered twice', () => {
    expect(loadError(`const w = require('wbsync'); module.exports.default = [${reg('A')}, ${reg('A')}];`).message).toBe(
      "r.ts registers the name 'A' twice",
    );
  });
});

describe('names imported from wbsync', () => {
  it('collects what a bundle reads from its wbsync binding and keeps the ones wbsync does not export', () => {
    const code = `var import_wbsync = require("wbsync");
var connection = new import_wbsync.MySqlConnection(() => (0, import_wbsync.configGet)("U"), "p", "h/db");
var import_wbsync2 = __toESM(require("wbsync"));
module.exports = { default: (0, import_wbsync.writeBehindd)({ connector: new import_wbsync2.MongoConnector(), other: x.import_wbsync.Nope }) };`;
    expect(unknownSdkImports(code)).toEqual(['MongoConnector', 'writeBehindd']);
  });

  it('reads a destructuring require too', () => {
    expect(unknownSdkImports(`const { writeBehind, configGet: get, Nope } = require('wbsync');`)).toEqual(['Nope']);
  });

  it('finds nothing in a recipe that imports only what wbsync exports', () => {
    expect(unknownSdkImports(`const w = require('wbsync'); module.exports.default = ${reg('A')};`)).toEqual([]);
  });

  it('refuses naming the missing names, a near export and the list of exports', () => {
    let message = '';
    try {
      assertSdkImports('var import_wbsync = require("wbsync"); (0, import_wbsync.writeBehindd)({});', 'r.ts');
    } catch (err) {
      expect(err).toBeInstanceOf(RecipeLoadError);
      message = (err as Error).message;
    }
    expect(message).toBe(`r.ts imports 'writeBehindd' from 'wbsync', which does not export it (did you mean 'writeBehind'?); wbsync exports: ${SDK_EXPORTS.join(', ')}`);
    expect(SDK_EXPORTS).toContain('MySqlConnector');
    expect(() => assertSdkImports('var import_wbsync = require("wbsync"); new import_wbsync.MongoConnector(); import_wbsync.Zzz;', 'r.ts')).toThrow(
      /^r\.ts imports 'MongoConnector', 'Zzz' from 'wbsync', which does not export them; wbsync exports: /,
    );
  });
});

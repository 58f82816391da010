import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, it, expect } from 'vitest';
import { bundleRecipe, BundleError } from '../../recipes/bundle.ts';
import { evaluateRecipe, unknownSdkImports } from '../../recipes/evaluate.ts';

const dir = mkdtempSync(join(tmpdir(), 'wbsync-bundle-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

async function bundleError(file: string): Promise<BundleError> {
  try {
    await bundleRecipe(file);
  } catch (err) {
    expect(err).toBeInstanceOf(BundleError);
    return err as BundleError;
  }
  throw new Error('expected bundleRecipe to throw');
}

describe('bundleRecipe', () => {
  it('bundles a recipe and its local imports; wbsync stays external', async () => {
    write('columns.ts', "export const mappings: Record<string, string> = { first_name: 'first', age: 'age' };\n");
    const file = write(
      'ok.recipe.ts',
      `import { MySqlConnection, MySqlConnector, writeBehind } from 'wbsync';
import { mappings } from './columns';
const persons = new MySqlConnector(new MySqlConnection('u', () => 'p', 'db:3307/test'), 'persons', 'id');
export default writeBehind({ name: 'Persons', version: '1.2', connector: persons, keysPrefix: 'person', mappings, onExpire: 'delete' });
`,
    );
    const code = await bundleRecipe(file);
    expect(code).toContain('require("wbsync")');
    const regs = evaluateRecipe(code, file);
    expect(regs).toHaveLength(1);
    const reg = regs[0];
    expect(reg).toMatchObject({ name: 'Persons', version: '1.2', keysPrefix: 'person', onExpire: 'delete', batchSize: 1000 });
    expect(reg?.mappings).toEqual({ first_name: 'first', age: 'age' });
    expect(reg?.connector.describe()).toBe('mysql db:3307/test table persons');
  });

  it('reports a syntax error with file:line:column', async () => {
    const file = write('syntax.recipe.ts', "import { writeBehind } from 'wbsync';\nconst x = ;\nexport default x;\n");
    const err = await bundleError(file);
    expect(err.file).toBe(file);
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0]).toMatch(/syntax\.recipe\.ts:2:11: /);
    expect(err.message).toContain(`cannot bundle ${file}:\n  - `);
  });

  it('reports a missing module with npm install advice', async () => {
    const file = write('missing.recipe.ts', "import leftPad from 'left-pad-wbsync-missing';\nexport default leftPad;\n");
    const err = await bundleError(file);
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0]).toMatch(/missing\.recipe\.ts:1:\d+: /);
    expect(err.problems[0]).toContain(
      "cannot find module 'left-pad-wbsync-missing'; install it next to the recipe (npm install left-pad-wbsync-missing) or fix the import path",
    );
  });

  it('reports a file that does not exist', async () => {
    const file = join(dir, 'nope.recipe.ts');
    const err = await bundleError(file);
    expect(err.problems).toEqual([`file not found: ${file}`]);
  });

  it("keeps every named wbsync import readable in the bundle, so upload can name the ones wbsync does not export", async () => {
    write('helper.ts', "import { configGett } from 'wbsync';\nexport const user = () => configGett('U');\n");
    const file = write(
      'imports.recipe.ts',
      `import { MySqlConnection, MySqlConnector, writeBehindd, type Registration } from 'wbsync';
import * as sdk from 'wbsync';
import { user } from './helper';
const reg: Registration = writeBehindd({ name: 'P', version: '1', connector: new MySqlConnector(new MySqlConnection(user, 'p', 'h/db'), 't', 'id'), keysPrefix: 'p', mappings: { a: 'a' } });
export default [reg, new sdk.MongoConnector()];
`,
    );
    expect(unknownSdkImports(await bundleRecipe(file))).toEqual(['MongoConnector', 'configGett', 'writeBehindd']);
  });
});

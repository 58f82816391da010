import { Command } from 'commander';
import type { Redis } from 'ioredis';
import { RecipeError } from '../../recipes/errors.ts';
import { assertSdkImports, RecipeLoadError } from '../../recipes/evaluate.ts';
import type { Registration } from '../../recipes/options.ts';
import { checkTable, describeConversion, inexactKeyMessage, type CheckReport } from '../../runtime/connectors/check.ts';
import { driverFor } from '../../runtime/connectors/drivers.ts';
import type { Keys } from '../../runtime/keys.ts';
import { ParamStore } from '../../runtime/params/param-store.ts';
import type { SandboxLimits } from '../../runtime/sandbox/limits.ts';
import { RecipeSandbox } from '../../runtime/sandbox/sandbox.ts';
import { errorText } from '../../runtime/writer/table-writer.ts';
import { withRedis } from '../context.ts';
import { CliError, say } from '../output.ts';

/** Bundles and evaluates a recipe file (no database touched); refusals become CLI errors. */
export async function loadRecipeFile(file: string, redis: Redis, keys: Keys, limits?: SandboxLimits): Promise<{ code: string; regs: Registration[] }> {
  // esbuild is loaded only by the commands that bundle.
  const { bundleRecipe, BundleError } = await import('../../recipes/bundle.ts');
  let code: string;
  try {
    code = await bundleRecipe(file);
  } catch (err) {
    if (err instanceof BundleError) throw new CliError(`upload refused: ${err.message}`);
    throw err;
  }
  const params = new ParamStore(redis, keys);
  try {
    assertSdkImports(code, file);
    // Evaluated the way the runtime does: in a sandbox, within the same time limit.
    const { regs } = await RecipeSandbox.load(code, file, { params: (name) => params.get(name), ...(limits ? { limits } : {}) });
    return { code, regs };
  } catch (err) {
    if (err instanceof RecipeLoadError || err instanceof RecipeError) throw new CliError(`upload refused: ${err.message}`);
    throw err;
  }
}

/** Connects with the current parameters and checks every registration's table; prints the report. */
export async function checkRegistrations(regs: readonly Registration[]): Promise<boolean> {
  let ok = true;
  for (const reg of regs) {
    const driver = driverFor(reg.connector);
    let report: CheckReport;
    try {
      const session = await driver.connect(reg.connector.table);
      try {
        report = checkTable(reg, session.table);
      } finally {
        await session.close();
      }
    } catch (err) {
      report = { problems: [`cannot connect to ${driver.describe()}: ${errorText(err)}; check the connection and its parameters (wb-cli params)`], columns: [] };
    }
    say(`${reg.name} -> ${driver.describe()}`);
    for (const c of report.columns) say(`  ${c.field} -> ${c.column} ${c.type}: ${describeConversion(c.family)}`);
    for (const p of report.problems) say(`  PROBLEM: ${p}`);
    if (report.problems.length === 0) say('  ok: table, columns and primary key match');
    ok &&= report.problems.length === 0;
  }
  return ok;
}

/**
 * Upload's check of each key column: refuses one that does not compare exactly unless the recipe
 * says `keyMatch: 'inexact'`. It only reads the table's description; when the database cannot be
 * reached from here (or its driver is not installed here) it says so and lets the upload go on:
 * the runtime then warns in `status`. Returns the problems found.
 */
export async function checkKeyColumns(regs: readonly Registration[], timeoutMs = 5000): Promise<string[]> {
  const problems: string[] = [];
  for (const reg of regs) {
    const driver = driverFor(reg.connector);
    let timer: NodeJS.Timeout | undefined;
    const connecting = driver.connect(reg.connector.table);
    try {
      const session = await Promise.race([
        connecting,
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs))),
      ]);
      try {
        const key = session.table.columns.get(reg.connector.pkColumn.toLowerCase());
        if (key?.inexact !== undefined && reg.keyMatch !== 'inexact') problems.push(`${reg.name}: ${inexactKeyMessage(reg.connector.table, key.name, key.inexact)}`);
      } finally {
        await session.close();
      }
    } catch (err) {
      connecting.then((s) => s.close(), () => undefined).catch(() => undefined); // a late connect is closed
      say(`${reg.name}: could not check the key column of ${driver.describe()} (${errorText(err)}); the runtime checks it when it connects and warns in wb-cli status`);
    } finally {
      clearTimeout(timer);
    }
  }
  return problems;
}

export const check = new Command('check')
  .description("load a recipe and check it against its live table: table, mapped columns, primary key, type conversions; exit 1 on a problem")
  .argument('<file>', 'recipe module')
  .action(async (file: string, _opts: unknown, cmd: Command) => {
    await withRedis(cmd, async ({ redis, keys, limits }) => {
      const { regs } = await loadRecipeFile(file, redis, keys, limits).catch((err: unknown) => {
        throw err instanceof CliError ? new CliError(err.message.replace(/^upload refused: /, 'check failed: ')) : err;
      });
      if (!(await checkRegistrations(regs))) throw new CliError('check found problems (see above)');
    });
  });

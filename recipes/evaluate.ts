import { Console } from 'node:console';
import { createRequire, isBuiltin } from 'node:module';
import * as sdk from './index.ts';
import { isRegistration, type Registration } from './options.ts';

/** A bundled recipe could not be evaluated or did not export registrations. */
export class RecipeLoadError extends Error {
  override readonly name = 'RecipeLoadError';
}

const nodeRequire = createRequire(import.meta.url);

/** The names `wbsync` exports, sorted. */
export const SDK_EXPORTS: readonly string[] = Object.keys(sdk).sort();

/**
 * The names a bundle reads from `wbsync` that it does not export. esbuild keeps `wbsync`
 * external: a CommonJS bundle binds `require("wbsync")` to a variable (`import_wbsync`) and reads
 * every named import as a property of it, so the names are read from the bundle's text; a
 * destructuring `const { a, b } = require('wbsync')` is read too.
 */
export function unknownSdkImports(code: string): string[] {
  const known = new Set([...SDK_EXPORTS, 'default', '__esModule']);
  const used = new Set<string>();
  const bound = /\b(?:var|let|const)\s+([A-Za-z_$][\w$]*)\s*=\s*(?:__toESM\()?require\(\s*["']wbsync["']\s*\)/g;
  for (const [, name] of code.matchAll(bound)) {
    const escaped = (name as string).replace(/\$/g, '\\$');
    for (const [, prop] of code.matchAll(new RegExp(`(?<![\\w$.])${escaped}\\s*\\.\\s*([A-Za-z_$][\\w$]*)`, 'g'))) used.add(prop as string);
  }
  const destructured = /\{([^{}]*)\}\s*=\s*require\(\s*["']wbsync["']\s*\)/g;
  for (const [, list] of code.matchAll(destructured)) {
    for (const part of (list as string).split(',')) {
      const name = /^\s*([A-Za-z_$][\w$]*)/.exec(part)?.[1];
      if (name !== undefined) used.add(name);
    }
  }
  return [...used].filter((n) => !known.has(n)).sort();
}

/**
 * Refuses a bundle that imports a name `wbsync` does not export (`import { MongoConnector } from
 * 'wbsync'`), which would otherwise fail later as a TypeError, maybe only at a connection attempt.
 */
export function assertSdkImports(code: string, origin: string): void {
  const unknown = unknownSdkImports(code);
  if (unknown.length === 0) return;
  const them = unknown.length === 1 ? 'it' : 'them';
  throw new RecipeLoadError(
    `${origin} imports ${unknown.map((n) => `'${n}'`).join(', ')} from 'wbsync', which does not export ${them}${suggestion(unknown)}; wbsync exports: ${SDK_EXPORTS.join(', ')}`,
  );
}

let stderrConsole: Console | undefined;

export interface EvaluateOptions {
  /**
   * The `console` the recipe sees, at its top level and in its credential functions. The runtime
   * passes one that logs through its JSON logger; by default it prints to stderr, so a recipe
   * never writes into a command's output.
   */
  readonly console?: Console;
}

/**
 * Evaluates a bundle produced by `bundleRecipe` and returns its registrations. Nothing connects
 * to a database here: connectors are descriptions, and credential functions run only at connect.
 */
export function evaluateRecipe(code: string, origin: string, options: EvaluateOptions = {}): Registration[] {
  const recipeConsole = options.console ?? (stderrConsole ??= new Console({ stdout: process.stderr, stderr: process.stderr }));
  const module = { exports: {} as Record<string, unknown> };
  const requireForRecipe = (id: string): unknown => {
    if (id === 'wbsync') return sdk;
    if (isBuiltin(id)) return nodeRequire(id);
    throw new RecipeLoadError(`${origin} requires '${id}', which is not part of the bundle`);
  };
  try {
    new Function('require', 'module', 'exports', 'console', code)(requireForRecipe, module, module.exports, recipeConsole);
  } catch (err) {
    if (err instanceof RecipeLoadError) throw err;
    throw new RecipeLoadError(`${origin} failed while loading: ${err instanceof Error ? err.message : String(err)}`);
  }
  const exported = module.exports['default'];
  if (exported === undefined) {
    throw new RecipeLoadError(`${origin} has no default export; end it with: export default writeBehind({ ... })`);
  }
  const list = Array.isArray(exported) ? exported : [exported];
  if (list.length === 0) throw new RecipeLoadError(`${origin} exports an empty array of registrations`);
  const names = new Set<string>();
  for (const [i, item] of list.entries()) {
    if (!isRegistration(item)) {
      const where = Array.isArray(exported) ? `default export [${i}]` : 'default export';
      throw new RecipeLoadError(`${origin}: ${where} is not a registration; build it with writeBehind({ ... }) from 'wbsync'`);
    }
    if (names.has(item.name)) throw new RecipeLoadError(`${origin} registers the name '${item.name}' twice`);
    names.add(item.name);
  }
  return list as Registration[];
}

/** ` (did you mean 'writeBehind'?)` for names one or two edits away from an export. */
function suggestion(unknown: readonly string[]): string {
  const hints = unknown.flatMap((name) => {
    const near = SDK_EXPORTS.find((e) => editDistance(name.toLowerCase(), e.toLowerCase()) <= 2);
    return near === undefined ? [] : [{ name, near }];
  });
  if (hints.length === 0) return '';
  if (unknown.length === 1) return ` (did you mean '${hints[0]?.near}'?)`;
  return ` (did you mean ${hints.map((h) => `'${h.near}' for '${h.name}'`).join(', ')}?)`;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length] as number;
}

import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { build, type Message } from 'esbuild';

/** The recipe could not be bundled; `problems` lists every offending location. */
export class BundleError extends Error {
  readonly file: string;
  readonly problems: readonly string[];
  override readonly name = 'BundleError';
  constructor(
    file: string,
    problems: readonly string[],
  ) {
    super(`cannot bundle ${file}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.file = file;
    this.problems = problems;
  }
}

/**
 * Bundles a recipe module and everything it imports into one CommonJS script. `wbsync` stays
 * external: the runtime provides the SDK. Node built-ins stay external too.
 */
export async function bundleRecipe(file: string): Promise<string> {
  const path = resolve(file);
  if (!existsSync(path)) throw new BundleError(file, [`file not found: ${path}`]);
  try {
    const result = await build({
      entryPoints: [path],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      external: ['wbsync'],
      write: false,
      logLevel: 'silent',
      sourcemap: false,
    });
    const out = result.outputFiles[0];
    if (out === undefined) throw new BundleError(file, ['esbuild produced no output']);
    return out.text;
  } catch (err) {
    if (err instanceof BundleError) throw err;
    const errors = (err as { errors?: Message[] }).errors;
    if (!Array.isArray(errors) || errors.length === 0) throw new BundleError(file, [String(err)]);
    throw new BundleError(file, errors.map(describeMessage));
  }
}

function describeMessage(m: Message): string {
  const where = m.location ? `${m.location.file}:${m.location.line}:${m.location.column + 1}: ` : '';
  const missing = /^Could not resolve "(.+)"$/.exec(m.text);
  if (missing) {
    return `${where}cannot find module '${missing[1]}'; install it next to the recipe (npm install ${missing[1]}) or fix the import path`;
  }
  return `${where}${m.text}`;
}

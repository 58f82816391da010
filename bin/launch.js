// Runs a TypeScript entry point of this package as one plain-JavaScript bundle built by esbuild,
// so a long-running process carries no TypeScript loader (tsx keeps a loader thread of ~30 MB).
// No build step after `npm ci`: the bundle is built at start (a fraction of a second) and kept
// in the package's own `.cache/runtime/<content hash>/`, so concurrent starts never clash and
// nobody else can put code there; where the package folder is read-only, in a private temp
// folder of this process, removed when it exits.
import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, stop } from 'esbuild';

/**
 * The bundle lives away from the sources (in `.cache`, or in a temp folder), so each package
 * import is pinned to the file this package resolves it to, and each source's `import.meta.url`
 * stays its own (the Lua scripts are read next to their sources).
 */
const pinToSources = {
  name: 'pin-to-sources',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (isBuiltin(args.path)) return { path: args.path, external: true };
      return { path: import.meta.resolve(args.path), external: true };
    });
    b.onLoad({ filter: /\.ts$/ }, (args) => {
      const url = JSON.stringify(pathToFileURL(args.path).href);
      const contents = readFileSync(args.path, 'utf8').replaceAll('import.meta.url', url);
      return { contents, loader: 'ts' };
    });
  },
};

/**
 * Bundles `entry` (relative to the package root) and imports it. Should bundling or the temp
 * folder fail, it says so on stderr and runs the sources through tsx instead: slower to start
 * and heavier, but running.
 */
export async function launch(entry) {
  let file;
  try {
    file = await bundle(entry);
  } catch (err) {
    process.stderr.write(`wbsync: could not bundle ${entry} (${err instanceof Error ? err.message : String(err)}); running it through tsx\n`);
    const { register } = await import('tsx/esm/api');
    register();
    await import(new URL(`../${entry}`, import.meta.url).href);
    return;
  }
  await import(pathToFileURL(file).href);
}

/** Builds the bundle of `entry` (once per content) and returns the path of its main file. */
async function bundle(entry) {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const out = join(root, 'out'); // nothing is written there: the files are placed below
  const result = await build({
    entryPoints: [join(root, entry)],
    bundle: true,
    splitting: true, // connectors stay lazily loaded chunks
    format: 'esm',
    platform: 'node',
    target: 'node20',
    outdir: out,
    write: false,
    logLevel: 'silent',
    plugins: [pinToSources],
  });
  await stop(); // esbuild's service process is not needed for the rest of a long life
  const main = basename(entry).replace(/\.ts$/, '.js');
  const place = (dir) => {
    for (const f of result.outputFiles) {
      const path = join(dir, f.path.slice(out.length));
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, f.contents);
    }
  };
  const cache = join(root, '.cache', 'runtime');
  try {
    mkdirSync(cache, { recursive: true });
    accessSync(cache, constants.W_OK);
  } catch {
    // A read-only install: a folder only this process knows, gone when it exits.
    const dir = mkdtempSync(join(tmpdir(), 'wbsync-runtime-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    place(dir);
    return join(dir, main);
  }
  const hash = createHash('sha256');
  for (const f of result.outputFiles) hash.update(f.path).update(f.contents);
  const dir = join(cache, hash.digest('hex').slice(0, 16));
  if (!existsSync(dir)) {
    const staging = `${dir}.${process.pid}`;
    place(staging);
    try {
      renameSync(staging, dir);
    } catch (err) {
      rmSync(staging, { recursive: true, force: true });
      if (!existsSync(dir)) throw err; // another start won the race with the same content
    }
  }
  return join(dir, main);
}

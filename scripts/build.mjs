// Builds dist/: tsc emits .js and .d.ts from the TypeScript sources (relative imports rewritten
// from .ts to .js), then the Lua scripts the runtime reads next to its modules are copied over.
// Run by `npm run build`, and so by `prepare` (after `npm ci` in a clone, and before `npm pack`).
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const final = join(root, 'dist');
// Built beside dist/ and swapped in at the end, so a runtime or test started meanwhile never
// finds dist/ half-written or gone.
const dist = join(root, `dist.${process.pid}`);
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

rmSync(dist, { recursive: true, force: true });
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', dist], { stdio: 'inherit' });

let lua = 0;
let dts = 0;
for (const dir of ['runtime', 'recipes', 'cli']) {
  for (const file of readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })) {
    if (!file.endsWith('.lua')) continue;
    cpSync(join(root, dir, file), join(dist, dir, file));
    lua += 1;
  }
}
// tsc rewrites `.ts` specifiers in the .js it emits but not in declarations: a user's compiler
// (moduleResolution node10, node16, bundler) must find `./options.js` next to `./options.d.ts`.
for (const file of readdirSync(dist, { recursive: true, encoding: 'utf8' })) {
  if (!file.endsWith('.d.ts')) continue;
  const path = join(dist, file);
  const text = readFileSync(path, 'utf8');
  const fixed = text.replace(/((?:from|import)\s*\(?\s*['"])(\.{1,2}\/[^'"]*?)\.ts(['"])/g, '$1$2.js$3');
  if (fixed !== text) writeFileSync(path, fixed);
  dts += 1;
}
const old = `${final}.old.${process.pid}`;
// Another build may swap its own in at the same moment: move whatever is there aside and retry.
for (let attempt = 0; ; attempt++) {
  try {
    if (existsSync(final)) renameSync(final, old);
    renameSync(dist, final);
    break;
  } catch (err) {
    if (attempt >= 5) throw err;
    rmSync(old, { recursive: true, force: true });
  }
}
rmSync(old, { recursive: true, force: true });
process.stdout.write(`built ${relative(root, final)}/: ${dts} declarations, ${lua} Lua scripts\n`);

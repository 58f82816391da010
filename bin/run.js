// Imports a compiled entry of this package; if dist/ is missing (a clone installed with
// --ignore-scripts, say), says how to build it instead of a bare ERR_MODULE_NOT_FOUND.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export async function run(name, entry) {
  const url = new URL(entry, import.meta.url);
  if (!existsSync(fileURLToPath(url))) {
    process.stderr.write(`${name}: ${fileURLToPath(url)} is missing; build it with \`npm run build\` in the wbsync folder\n`);
    process.exit(1);
  }
  await import(url.href);
}

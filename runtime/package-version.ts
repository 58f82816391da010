import { readFileSync } from 'node:fs';

/**
 * wbsync's own version, from the package.json above this module: two folders up from
 * `dist/<part>/`, one from the sources.
 */
export function packageVersion(): string {
  for (const rel of ['../../package.json', '../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'wbsync' && pkg.version) return pkg.version;
    } catch {
      // not this folder
    }
  }
  return 'unknown';
}

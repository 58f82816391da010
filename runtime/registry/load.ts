import { Console } from 'node:console';
import { Writable } from 'node:stream';
import { format } from 'node:util';
import type { Logger } from 'pino';
import { evaluateRecipe } from '../../recipes/evaluate.ts';
import type { Registration } from '../../recipes/options.ts';

/**
 * Evaluates a stored bundle and picks the registration stored under `name`. With `log` (the
 * runtime's), the recipe's `console` logs through it, bound to the recipe's name, so a
 * `console.log` in a recipe is a JSON log line like any other; without it, it prints to stderr.
 */
export function loadRegistration(name: string, code: string, namespace: string, log?: Logger): Registration {
  const regs = evaluateRecipe(code, `recipe '${name}'`, log ? { console: loggingConsole(log.child({ recipe: name })) } : {});
  const reg = regs.find((r) => r.name === name);
  if (reg === undefined) throw new Error(`recipe '${name}': the stored bundle no longer declares '${name}'; upload it again`);
  if (reg.keysPrefix === namespace || reg.keysPrefix.startsWith(`${namespace}:`)) {
    throw new Error(`recipe '${name}': keysPrefix '${reg.keysPrefix}' overlaps wbsync's own namespace '${namespace}'; choose another prefix or run with another --namespace`);
  }
  return reg;
}

/**
 * A `console` that writes log records: `log`, `info` and `debug` at their level, `warn` and
 * `error` at theirs, each call one record whose `msg` is the text console.log would print. The
 * other methods (`dir`, `table`, `trace`, `count`, …) write one record per line they print, at
 * info (stdout) or warn (stderr).
 */
export function loggingConsole(log: Logger): Console {
  const sink = (level: 'info' | 'warn'): Writable =>
    new Writable({
      write(chunk: Buffer | string, _encoding, done) {
        log[level](String(chunk).replace(/\n$/, ''));
        done();
      },
    });
  const recipeConsole = new Console({ stdout: sink('info'), stderr: sink('warn') });
  const at = (level: 'debug' | 'info' | 'warn' | 'error') => (...args: unknown[]): void => log[level](format(...args));
  return Object.assign(recipeConsole, { log: at('info'), info: at('info'), debug: at('debug'), warn: at('warn'), error: at('error') });
}

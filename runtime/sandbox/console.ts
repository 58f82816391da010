import { Console } from 'node:console';
import { Writable } from 'node:stream';
import { format } from 'node:util';
import type { Logger } from 'pino';

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

import { pino, type Logger } from 'pino';

/** JSON-lines logger on stdout. Credentials are never passed to it; these paths are redacted anyway. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['password', '*.password', 'user', '*.user', 'options.password'], censor: '[redacted]' },
  });
}

/**
 * A recipe's sandbox: a worker thread that evaluates one bundle and runs its functions (the
 * credentials) when the runtime asks. Whatever the recipe does here (throws from a timer, loops,
 * never settles, calls process.exit) ends this thread at worst, never the runtime.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Logger } from 'pino';
import { setParamSource } from '../../recipes/config-get.ts';
import { evaluateRecipe } from '../../recipes/evaluate.ts';
import { loggingConsole } from './console.ts';
import type { FromSandbox, SandboxData, ToSandbox } from './messages.ts';
import { toWire } from './wire.ts';

const port = parentPort;
if (port === null) throw new Error('runtime/sandbox/worker.ts runs as a worker thread only');
const data = workerData as SandboxData;
const post = (message: FromSandbox): void => port.postMessage(message);

// The recipe's console and configGet go to the runtime, which logs and reads Redis.
const toLog = (level: 'debug' | 'info' | 'warn' | 'error') => (msg: string): void => post({ t: 'log', level, msg });
const recipeConsole = loggingConsole({ debug: toLog('debug'), info: toLog('info'), warn: toLog('warn'), error: toLog('error') } as unknown as Logger);
// process.stdout/stderr too: never into a command's output, never a second log format.
for (const [stream, level] of [[process.stdout, 'info'], [process.stderr, 'warn']] as const) {
  stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    for (const line of text.replace(/\n$/, '').split('\n')) post({ t: 'log', level, msg: line });
    const done = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    done?.();
    return true;
  }) as typeof stream.write;
}
let nextParam = 0;
const params = new Map<number, { resolve: (v: string | undefined) => void; reject: (e: Error) => void }>();
setParamSource(
  (name) =>
    new Promise((resolve, reject) => {
      const id = nextParam++;
      params.set(id, { resolve, reject });
      post({ t: 'param', id, name });
    }),
);

const functions: Array<() => unknown> = [];

port.on('message', (message: ToSandbox) => {
  if (message.t === 'param') {
    const waiting = params.get(message.id);
    params.delete(message.id);
    if (message.error !== undefined) waiting?.reject(new Error(message.error));
    else waiting?.resolve(message.value);
    return;
  }
  void call(message.id, message.fn);
});

async function call(id: number, fn: number): Promise<void> {
  try {
    const f = functions[fn];
    if (f === undefined) throw new Error(`no function ${fn}`);
    const value = await f();
    // A credential is a string; anything else goes back as what it is, for the caller's check.
    post({ t: 'result', id, value: typeof value === 'object' && value !== null ? '[object]' : (value as string), type: typeof value });
  } catch (err) {
    post({ t: 'result', id, error: err instanceof Error ? err.message : String(err) });
  }
}

try {
  const regs = evaluateRecipe(data.code, data.origin, { console: recipeConsole });
  const wire = regs.map((r) => toWire(r, functions));
  await settle(data.settleMs);
  post({ t: 'loaded', regs: wire });
} catch (err) {
  post({ t: 'load-failed', message: err instanceof Error ? err.message : String(err) });
}

/**
 * Waits until the timers the recipe's top level started have run (at most `ms`), so that one
 * that throws fails the load instead of a recipe already reported loaded.
 */
async function settle(ms: number): Promise<void> {
  const until = Date.now() + ms;
  // One turn first: a rejection nobody handles ends the thread here, before 'loaded'.
  await new Promise((r) => setImmediate(r));
  while (Date.now() < until) {
    const pending = process.getActiveResourcesInfo().filter((r) => r === 'Timeout' || r === 'Immediate').length;
    if (pending === 0) return;
    await new Promise((r) => setTimeout(r, Math.min(20, Math.max(1, until - Date.now()))));
  }
}

import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { ParamSource } from '../../recipes/config-get.ts';
import { RecipeLoadError } from '../../recipes/evaluate.ts';
import type { Registration } from '../../recipes/options.ts';
import { DEFAULT_SANDBOX_LIMITS, type SandboxLimits } from './limits.ts';
import type { FromSandbox, SandboxData, ToSandbox } from './messages.ts';
import { fromWire } from './wire.ts';

export interface SandboxOptions {
  readonly limits?: SandboxLimits;
  /** Where the recipe's configGet reads. */
  readonly params: ParamSource;
  /** The recipe's console and output go here (the runtime's logger, bound to the recipe); stderr without it. */
  readonly log?: Logger;
  /** The recipe's code failed after it loaded: a throw from a timer, a call that never settled. */
  readonly onFail?: (reason: string) => void;
}

/** The sandbox a recipe's code runs in was stopped: by a failure, or because the recipe stopped. */
export class SandboxStopped extends Error {
  override readonly name = 'SandboxStopped';
}

/**
 * One recipe bundle's code, evaluated in a worker thread of its own. Everything the recipe's code
 * does runs there: its top level at load, and each credential function when a driver connects.
 * Whatever it does (throws from a timer, loops for ever, leaves a promise unsettled, calls
 * `process.exit`) fails this recipe only: the thread is terminated and `onFail` says why.
 * `node:vm` alone would not do: its timeout stops synchronous code only.
 */
export class RecipeSandbox {
  private readonly worker: Worker;
  private readonly opts: SandboxOptions;
  private readonly limits: SandboxLimits;
  private readonly origin: string;
  private readonly calls = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private nextCall = 0;
  /** configGet calls the runtime is answering: time spent there is Redis's, not the recipe's. */
  private paramsInFlight = 0;
  private loaded = false;
  private stopped: string | undefined;

  /**
   * Evaluates `code` in a new sandbox. Rejects with a RecipeLoadError when the code throws, does
   * not declare registrations, or does not finish within the evaluation limit.
   */
  static async load(code: string, origin: string, opts: SandboxOptions): Promise<{ regs: Registration[]; sandbox: RecipeSandbox }> {
    const sandbox = new RecipeSandbox(code, origin, opts);
    const regs = await sandbox.ready;
    return { regs, sandbox };
  }

  private readonly ready: Promise<Registration[]>;

  private constructor(code: string, origin: string, opts: SandboxOptions) {
    this.opts = opts;
    this.origin = origin;
    this.limits = opts.limits ?? DEFAULT_SANDBOX_LIMITS;
    const data: SandboxData = { code, origin, settleMs: Math.min(1000, Math.floor(this.limits.evalTimeoutMs / 2)) };
    this.worker = new Worker(workerUrl(), {
      workerData: data,
      // A recipe that builds an ever-growing structure fails itself, not the runtime's heap.
      resourceLimits: { maxOldGenerationSizeMb: 256 },
    });
    this.ready = new Promise<Registration[]>((resolve, reject) => {
      const seconds = this.limits.evalTimeoutMs / 1000;
      const timer = setTimeout(() => {
        this.stop(`did not finish loading within ${seconds} s`);
        reject(new RecipeLoadError(`${origin} did not finish loading within ${seconds} s (an endless loop or a long computation at its top level?); it was stopped`));
      }, this.limits.evalTimeoutMs);
      const failLoad = (message: string): void => {
        clearTimeout(timer);
        this.stop(message);
        reject(new RecipeLoadError(message));
      };
      this.worker.on('message', (m: FromSandbox) => {
        if (m.t === 'loaded') {
          clearTimeout(timer);
          this.loaded = true;
          try {
            resolve(m.regs.map((w) => fromWire(w, (fn) => this.call(fn))));
          } catch (err) {
            failLoad(`${origin}: ${err instanceof Error ? err.message : String(err)}`);
          }
        } else if (m.t === 'load-failed') failLoad(m.message);
        else this.onMessage(m);
      });
      this.worker.on('error', (err: Error) => {
        const what = `${origin} threw outside any call: ${err.message}`;
        if (this.loaded) this.fail(what);
        else failLoad(`${origin} failed while loading: ${err.message}`);
      });
      this.worker.on('exit', (exitCode: number) => {
        if (this.stopped !== undefined) return;
        const what = `${origin} ended its thread (process.exit(${exitCode}))`;
        if (this.loaded) this.fail(what);
        else failLoad(what);
      });
    });
    // After the listeners (adding one refs the thread again): the thread never keeps a command
    // or the runtime alive by itself; timers of loads and calls do while they wait.
    this.worker.unref();
  }

  /** Why this sandbox stopped, if it did through a failure of the recipe's code. */
  failure: string | undefined;

  /** Ends the thread; calls in flight reject. The recipe stopped (replaced, unregistered, shut down). */
  async close(): Promise<void> {
    this.stop('the recipe stopped');
    await this.worker.terminate().catch(() => undefined);
  }

  /** Runs function `fn` of the recipe (a credential) in the sandbox, within the credential limit. */
  private call(fn: number): Promise<unknown> {
    if (this.stopped !== undefined) return Promise.reject(new SandboxStopped(`${this.origin}: its code is stopped (${this.stopped})`));
    const id = this.nextCall++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.calls.delete(id);
        const seconds = this.limits.credentialTimeoutMs / 1000;
        if (this.paramsInFlight > 0) {
          // Waiting for Redis is not the recipe's fault: this attempt fails and is retried.
          reject(new Error(`${this.origin}: a credential call waited more than ${seconds} s for a parameter from Redis`));
          return;
        }
        const reason = `${this.origin}: a credential function did not settle within ${seconds} s (a promise that never resolves, or an endless loop?); the recipe is stopped: fix it and upload it again`;
        reject(new SandboxStopped(reason));
        this.fail(reason);
      }, this.limits.credentialTimeoutMs);
      this.calls.set(id, { resolve, reject, timer });
      this.post({ t: 'call', id, fn });
    });
  }

  private onMessage(m: FromSandbox): void {
    if (m.t === 'log') this.print(m.level, m.msg);
    else if (m.t === 'param') {
      this.paramsInFlight++;
      this.opts.params(m.name).then(
        (value) => this.post(value === undefined ? { t: 'param', id: m.id } : { t: 'param', id: m.id, value }),
        (err: unknown) => this.post({ t: 'param', id: m.id, error: err instanceof Error ? err.message : String(err) }),
      ).finally(() => this.paramsInFlight--);
    } else if (m.t === 'result') {
      const call = this.calls.get(m.id);
      if (call === undefined) return; // it timed out meanwhile
      this.calls.delete(m.id);
      clearTimeout(call.timer);
      if (m.error !== undefined) call.reject(new Error(m.error));
      else call.resolve(m.type === 'object' ? {} : m.value);
    }
  }

  private post(message: ToSandbox): void {
    if (this.stopped === undefined) this.worker.postMessage(message);
  }

  private print(level: 'debug' | 'info' | 'warn' | 'error', text: string): void {
    const log = this.opts.log;
    if (log === undefined) {
      process.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
      return;
    }
    for (const line of text.replace(/\n$/, '').split('\n')) log[level](line);
  }

  private fail(reason: string): void {
    if (this.stopped !== undefined) return;
    this.failure = reason;
    this.stop(reason);
    this.opts.onFail?.(reason);
  }

  private stop(reason: string): void {
    if (this.stopped !== undefined) return;
    this.stopped = reason;
    void this.worker.terminate().catch(() => undefined);
    for (const [id, call] of this.calls) {
      clearTimeout(call.timer);
      call.reject(new SandboxStopped(`${this.origin}: its code is stopped (${reason})`));
      this.calls.delete(id);
    }
  }
}

/** The worker's module: next to this one once built; under vitest (sources), the build's copy. */
function workerUrl(): URL {
  const here = import.meta.url;
  return here.endsWith('.ts') ? new URL('../../dist/runtime/sandbox/worker.js', here) : new URL('./worker.js', here);
}

import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { ParamSource } from '../../recipes/config-get.ts';
import { RecipeLoadError } from '../../recipes/evaluate.ts';
import type { Registration } from '../../recipes/options.ts';
import { DEFAULT_SANDBOX_LIMITS, type SandboxLimits } from './limits.ts';
import type { FromSandbox, SandboxData, ToSandbox } from './messages.ts';
import { fromWire, type WireRegistration } from './wire.ts';

export interface SandboxOptions {
  readonly limits?: SandboxLimits;
  /** Where the recipe's configGet reads. */
  readonly params: ParamSource;
  /** The recipe's console and output go here (the runtime's logger, bound to the recipe); stderr without it. */
  readonly log?: Logger;
  /** The recipe's code failed after it loaded: a throw from a timer, a call that never settled. */
  readonly onFail?: (reason: string) => void;
  /** How long an idle thread lives before it is parked ({@link IDLE_MS} when absent). */
  readonly idleMs?: number;
}

/** The sandbox a recipe's code runs in was stopped: by a failure, or because the recipe stopped. */
export class SandboxStopped extends Error {
  override readonly name = 'SandboxStopped';
}

/** How long a thread with no call in flight lives on before it is parked (ended until the next call). */
export const IDLE_MS = 30_000;

/**
 * One recipe bundle's code, evaluated in a worker thread of its own. Everything the recipe's code
 * does runs there: its top level at load, and each credential function when a driver connects.
 * Whatever it does (throws from a timer, loops for ever, leaves a promise unsettled, calls
 * `process.exit`) fails this recipe only: the thread is terminated and `onFail` says why.
 * `node:vm` alone would not do: its timeout stops synchronous code only.
 *
 * A thread costs about 8 MB, and credentials are called only when a driver connects: a thread
 * idle for `idleMs` (30 s) is parked, ended quietly, and the next call evaluates the bundle
 * again in a new one (tens of milliseconds, once per connection burst). Memory stays flat however
 * many recipes run.
 */
export class RecipeSandbox {
  private worker: Worker | undefined;
  private readonly code: string;
  private readonly opts: SandboxOptions;
  private readonly limits: SandboxLimits;
  private readonly origin: string;
  private readonly calls = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private nextCall = 0;
  /** configGet calls the runtime is answering: time spent there is Redis's, not the recipe's. */
  private paramsInFlight = 0;
  private stopped: string | undefined;
  /** Functions the first evaluation declared: a later one must declare as many. */
  private functions = 0;
  /** The thread being started for a call (after a park), while it evaluates. */
  private starting: Promise<void> | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly idleMs: number;

  /**
   * Evaluates `code` in a new sandbox. Rejects with a RecipeLoadError when the code throws, does
   * not declare registrations, or does not finish within the evaluation limit.
   */
  static async load(code: string, origin: string, opts: SandboxOptions): Promise<{ regs: Registration[]; sandbox: RecipeSandbox }> {
    const sandbox = new RecipeSandbox(code, origin, opts);
    let wire: WireRegistration[];
    try {
      wire = await sandbox.spawn(Math.min(1000, Math.floor(sandbox.limits.evalTimeoutMs / 2)));
    } catch (err) {
      sandbox.stop(err instanceof Error ? err.message : String(err));
      throw err;
    }
    let regs: Registration[];
    try {
      regs = wire.map((w) => fromWire(w, (fn) => sandbox.call(fn)));
    } catch (err) {
      const message = `${origin}: ${err instanceof Error ? err.message : String(err)}`;
      sandbox.stop(message);
      throw new RecipeLoadError(message);
    }
    sandbox.functions = countFunctions(wire);
    sandbox.idle();
    return { regs, sandbox };
  }

  private constructor(code: string, origin: string, opts: SandboxOptions) {
    this.code = code;
    this.opts = opts;
    this.origin = origin;
    this.limits = opts.limits ?? DEFAULT_SANDBOX_LIMITS;
    this.idleMs = opts.idleMs ?? IDLE_MS;
  }

  /**
   * Starts a thread and evaluates the bundle there; resolves with its registrations as data. Its
   * failures after that (a throw from a timer, an exit) fail the sandbox, unless it was parked.
   */
  private spawn(settleMs: number): Promise<WireRegistration[]> {
    const origin = this.origin;
    const data: SandboxData = { code: this.code, origin, settleMs };
    const worker = new Worker(workerUrl(), {
      workerData: data,
      // A recipe that builds an ever-growing structure fails itself, not the runtime's heap.
      resourceLimits: { maxOldGenerationSizeMb: 256 },
    });
    this.worker = worker;
    let loaded = false;
    const current = (): boolean => this.worker === worker && this.stopped === undefined;
    const ready = new Promise<WireRegistration[]>((resolve, reject) => {
      const seconds = this.limits.evalTimeoutMs / 1000;
      const timer = setTimeout(() => {
        void worker.terminate().catch(() => undefined);
        reject(new RecipeLoadError(`${origin} did not finish loading within ${seconds} s (an endless loop or a long computation at its top level?); it was stopped`));
      }, this.limits.evalTimeoutMs);
      const failLoad = (message: string): void => {
        clearTimeout(timer);
        void worker.terminate().catch(() => undefined);
        reject(new RecipeLoadError(message));
      };
      worker.on('message', (m: FromSandbox) => {
        if (m.t === 'loaded') {
          clearTimeout(timer);
          loaded = true;
          resolve(m.regs);
        } else if (m.t === 'load-failed') failLoad(m.message);
        else if (current()) this.onMessage(m);
      });
      worker.on('error', (err: Error) => {
        if (!loaded) failLoad(`${origin} failed while loading: ${err.message}`);
        else if (current()) this.fail(`${origin} threw outside any call: ${err.message}`);
      });
      worker.on('exit', (exitCode: number) => {
        if (!loaded) failLoad(`${origin} ended its thread (process.exit(${exitCode}))`);
        else if (current()) this.fail(`${origin} ended its thread (process.exit(${exitCode}))`);
      });
    });
    // After the listeners (adding one refs the thread again): the thread never keeps a command
    // or the runtime alive by itself; timers of loads and calls do while they wait.
    worker.unref();
    return ready;
  }

  /** Parks the thread once no call has been in flight for `idleMs`. */
  private idle(): void {
    clearTimeout(this.idleTimer);
    if (this.calls.size > 0 || this.stopped !== undefined) return;
    this.idleTimer = setTimeout(() => {
      if (this.calls.size > 0 || this.starting || this.paramsInFlight > 0) return this.idle();
      const worker = this.worker;
      this.worker = undefined; // its exit is a park now, not a failure
      void worker?.terminate().catch(() => undefined);
    }, this.idleMs);
    this.idleTimer.unref();
  }

  /** Whether a thread is running now (false while parked). */
  get active(): boolean {
    return this.worker !== undefined && this.stopped === undefined;
  }

  /** A thread to call into: the running one, or a new one after a park. */
  private async thread(): Promise<void> {
    if (this.worker !== undefined) return;
    this.starting ??= this.spawn(0).then(
      (wire) => {
        if (countFunctions(wire) !== this.functions) {
          throw new Error(`${this.origin} declared ${countFunctions(wire)} functions when evaluated again, ${this.functions} the first time; its credentials cannot be matched`);
        }
      },
      (err: unknown) => {
        this.worker = undefined;
        throw err;
      },
    ).finally(() => (this.starting = undefined));
    try {
      await this.starting;
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      this.fail(reason);
      throw new SandboxStopped(reason);
    }
  }

  /** Why this sandbox stopped, if it did through a failure of the recipe's code. */
  failure: string | undefined;

  /** Ends the thread; calls in flight reject. The recipe stopped (replaced, unregistered, shut down). */
  async close(): Promise<void> {
    const worker = this.worker;
    this.stop('the recipe stopped');
    await worker?.terminate().catch(() => undefined);
  }

  /** Runs function `fn` of the recipe (a credential) in the sandbox, within the credential limit. */
  private async call(fn: number): Promise<unknown> {
    if (this.stopped !== undefined) throw new SandboxStopped(`${this.origin}: its code is stopped (${this.stopped})`);
    clearTimeout(this.idleTimer);
    await this.thread();
    if (this.stopped !== undefined) throw new SandboxStopped(`${this.origin}: its code is stopped (${this.stopped})`);
    const id = this.nextCall++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.calls.delete(id);
        const seconds = this.limits.credentialTimeoutMs / 1000;
        if (this.paramsInFlight > 0) {
          // Waiting for Redis is not the recipe's fault: this attempt fails and is retried.
          reject(new Error(`${this.origin}: a credential call waited more than ${seconds} s for a parameter from Redis`));
          this.idle();
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
      this.idle();
    }
  }

  private post(message: ToSandbox): void {
    if (this.stopped === undefined) this.worker?.postMessage(message);
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
    clearTimeout(this.idleTimer);
    void this.worker?.terminate().catch(() => undefined);
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

function countFunctions(wire: readonly WireRegistration[]): number {
  let n = 0;
  for (const w of wire) for (const v of Object.values(w.connector.connection)) if (typeof v === 'object' && v !== null && !Array.isArray(v) && 'fn' in v) n++;
  return n;
}

import type { WireRegistration } from './wire.ts';

/** What a sandbox starts with. */
export interface SandboxData {
  readonly code: string;
  /** How the recipe is named in errors (`recipe 'person'`, a file name). */
  readonly origin: string;
  /** How long to let the top level's timers run before reporting the load. */
  readonly settleMs: number;
}

/** Sandbox → runtime. */
export type FromSandbox =
  | { readonly t: 'loaded'; readonly regs: WireRegistration[] }
  | { readonly t: 'load-failed'; readonly message: string }
  | { readonly t: 'log'; readonly level: 'debug' | 'info' | 'warn' | 'error'; readonly msg: string }
  | { readonly t: 'param'; readonly id: number; readonly name: string }
  | { readonly t: 'result'; readonly id: number; readonly value?: string; readonly type?: string; readonly error?: string };

/** Runtime → sandbox. */
export type ToSandbox =
  | { readonly t: 'param'; readonly id: number; readonly value?: string; readonly error?: string }
  | { readonly t: 'call'; readonly id: number; readonly fn: number };

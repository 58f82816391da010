import type { SingleBar } from 'cli-progress';

/** What long commands report as they go; a no-op when the output is not for a person. */
export interface Progress {
  /** Sets the count done (and the total, once known). */
  update(done: number, total?: number): void;
  /** Adds to the count done. */
  add(n: number): void;
  /** Removes the bar; the command's own output follows. */
  stop(): void;
}

/** A progress that shows nothing. */
export const NO_PROGRESS: Progress = { update: () => undefined, add: () => undefined, stop: () => undefined };

let lib: typeof import('cli-progress') | undefined;

/**
 * A progress bar on stderr with counts and rate, only on a terminal and never with `--json`
 * (nothing of it in a pipe or a file). `total` undefined: counts and rate, no bar.
 */
export async function progress(label: string, unit: string, opts: { json?: boolean | undefined; total?: number } = {}): Promise<Progress> {
  if (opts.json || process.stderr.isTTY !== true) return NO_PROGRESS;
  // cli-progress is loaded only when a bar is drawn: commands start as fast without it.
  lib ??= await import('cli-progress');
  return progressNow(label, unit, opts);
}

/** As {@link progress}, once a bar was drawn before in this command (or nothing). */
export function progressNow(label: string, unit: string, opts: { json?: boolean | undefined; total?: number } = {}): Progress {
  if (opts.json || process.stderr.isTTY !== true || lib === undefined) return NO_PROGRESS;
  const { SingleBar: Bar, Presets } = lib;
  const started = performance.now();
  let known = opts.total;
  // Without a total from the start, counts and rate only (a bar needs its end).
  const format = known === undefined
    ? `${label} {value} ${unit} | {rate} ${unit}/s | {duration_formatted}`
    : `${label} [{bar}] {percentage}% | {value}/{total} ${unit} | {rate} ${unit}/s | eta {eta_formatted}`;
  const bar: SingleBar = new Bar({ format, stream: process.stderr, hideCursor: true, clearOnComplete: true, etaBuffer: 20, fps: 5 }, Presets.shades_classic);
  let done = 0;
  let stopped = false;
  const rate = (): string => {
    const s = (performance.now() - started) / 1000;
    return s > 0 ? Math.round(done / s).toLocaleString('en') : '0';
  };
  bar.start(known ?? 0, 0, { rate: '0' });
  return {
    update(value, total) {
      done = value;
      if (total !== undefined && known !== undefined && total !== known) {
        known = total;
        bar.setTotal(total);
      }
      bar.update(value, { rate: rate() });
    },
    add(n) {
      done += n;
      bar.update(done, { rate: rate() });
    },
    stop() {
      if (stopped) return;
      stopped = true;
      bar.stop();
    },
  };
}

/**
 * The bound on a recipe's backlog (`maxBacklog`, in records). Live captures may fill it; past it
 * the capture script appends nothing and the recipe is overflowed. Reconciles and sweeps stop
 * at half of it and wait for the writer, so that they never overflow it themselves and leave
 * live changes room while a recovery runs; the same half is the low-water mark a recovery
 * waits for.
 */
export function lowWater(maxBacklog: number): number {
  return Math.max(1, Math.floor(maxBacklog / 2));
}

/**
 * Where a reconcile or sweep stopped at the low-water mark goes on: a quarter of the bound, so
 * that each wait buys a quarter's worth of keys, not one key per round trip.
 */
export function resumeMark(maxBacklog: number): number {
  return Math.floor(maxBacklog / 4);
}

/** What an overflowed recipe looks at before it catches up. */
export interface Depth {
  /** Records in the backlog (the status hash's `queued`). */
  readonly queued: number;
  /** Entries in the backlog stream: none means no records, whatever a stale count says. */
  readonly entries: number;
}

/**
 * Whether an overflowed recipe may start catching up: its backlog has drained to the low-water
 * mark, which only written (or dead-lettered) records do, and the writer is not failing or paused
 * right now, so the reconcile's records will be written rather than fill the backlog again.
 */
export function mayRecover(depth: Depth, maxBacklog: number, writer: { readonly failing: boolean; readonly paused: boolean }): boolean {
  if (writer.failing || writer.paused) return false;
  return depth.entries === 0 || depth.queued <= lowWater(maxBacklog);
}

/** Whether a reconcile or sweep waiting for room may go on: the writer took the backlog down to the resume mark. */
export function hasRoom(depth: Depth, maxBacklog: number): boolean {
  return depth.entries === 0 || depth.queued <= resumeMark(maxBacklog);
}

export type OverflowPhase = 'none' | 'overflowed' | 'recovering';

/**
 * A recipe's overflow, one phase at a time: `overflowed` from the first refused capture until the
 * backlog has drained (live events are dropped meanwhile: the reconcile will read every key), then
 * `recovering` while the reconcile and the sweep run. A capture refused during a recovery means
 * keys the reconcile may already have passed were dropped: the recovery must run again.
 */
export class Overflow {
  phase: OverflowPhase = 'none';
  private again = false;

  /** A capture was refused; true when this begins an overflow (logged and marked once). */
  refused(): boolean {
    if (this.phase === 'none') {
      this.phase = 'overflowed';
      return true;
    }
    if (this.phase === 'recovering') this.again = true;
    return false;
  }

  /** Restores an overflow a previous worker (or run) left marked in status. */
  restore(): void {
    if (this.phase === 'none') this.phase = 'overflowed';
  }

  /** Live events are not worth a snapshot: they cannot be appended, and the reconcile reads the key anyway. */
  get dropping(): boolean {
    return this.phase === 'overflowed' || this.again;
  }

  /** The backlog has drained: capture resumes before the reconcile begins, so nothing falls between. */
  beginRecovery(): void {
    this.phase = 'recovering';
    this.again = false;
  }

  /** The reconcile and sweep are done (or failed: `ok` false); true when the overflow is over. */
  endRecovery(ok: boolean): boolean {
    if (ok && !this.again) {
      this.phase = 'none';
      return true;
    }
    this.phase = 'overflowed';
    this.again = false;
    return false;
  }
}

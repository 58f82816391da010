import type { Registration } from '../../recipes/options.ts';
import type { Keys } from '../keys.ts';
import { loadScript, type CaptureTarget } from './capture-queue.ts';

const CAPTURE = loadScript('capture', ['utf8', '../backlog/partition']);
const STAGE = loadScript('stage', ['utf8', '../backlog/partition']);

/** The glob (for PSUBSCRIBE and SCAN) of the keys a registration captures. */
export function capturePattern(reg: Registration): string {
  return reg.kind === 'writeThrough' ? `${reg.stagingPrefix}{${reg.keysPrefix}:*` : `${reg.keysPrefix}:*`;
}

/** The target key of a staging key `__{person:1}`, or undefined when it is not one. */
export function targetOfStaging(reg: Registration, staging: string): string | undefined {
  const head = `${reg.stagingPrefix}{${reg.keysPrefix}:`;
  return staging.startsWith(head) && staging.endsWith('}') && staging.length > head.length + 1
    ? staging.slice(reg.stagingPrefix.length + 1, -1)
    : undefined;
}

/**
 * How a registration's changed keys are snapshotted into its backlog's partitions. Both scripts
 * take the backlog's bound (`maxBacklog` records) as their first argument: past it they append
 * nothing.
 */
export function captureTarget(reg: Registration, keys: Keys): CaptureTarget {
  const bound = String(reg.maxBacklog);
  const streams = keys.backlogs(reg.name, reg.partitions);
  if (reg.kind === 'writeThrough') {
    return { script: STAGE, keys: [keys.counters(reg.name), ...streams], args: [bound, String(reg.partitions)], partner: (k) => targetOfStaging(reg, k) ?? k, accepts: (k) => targetOfStaging(reg, k) !== undefined };
  }
  return { script: CAPTURE, keys: [keys.echoes(reg.name), keys.counters(reg.name), ...streams], args: [bound, reg.onExpire === 'delete' ? '1' : '0', String(reg.partitions)], accepts: () => true };
}

/**
 * A target for reconciles and sweeps: bounded lower than live capture (`bound`), so that they
 * leave live changes room, and waiting with `room` whenever the script stops at that bound.
 */
export function pacedTarget(target: CaptureTarget, bound: number, room: () => Promise<void>): CaptureTarget {
  return { ...target, args: [String(bound), ...target.args.slice(1)], room };
}

/**
 * Re-enqueues keys of a recipe whose backlog has `partitions` partitions as write-behind
 * snapshots (their current state in Redis, or a delete when gone): what `verify --fix`,
 * `dlq --replay` and onFlush use.
 */
export function resyncTarget(keys: Keys, name: string, partitions: number): CaptureTarget {
  // No bound: an operator's command, whose keys are counted, not a capture that could run away.
  return { script: CAPTURE, keys: [keys.echoes(name), keys.counters(name), ...keys.backlogs(name, partitions)], args: ['0', '0', String(partitions)], accepts: () => true };
}

import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { PARTITIONS } from '../../recipes/options.ts';
import type { Keys } from '../keys.ts';

/**
 * The version of the layout of wbsync's keys in Redis (which keys, what they hold). A namespace
 * records the layout its runtimes use in `<ns>:layout`; a runtime or a CLI of another layout
 * refuses to touch it, since it would read and write keys the others do not know. A release that
 * changes the layout raises this number and migrates the keys of the one before.
 *
 * 1: wbsync 0.1 (one backlog stream per recipe). 0.1 did not record it: a namespace without the
 *    key that holds recipes is at layout 1.
 * 2: partitioned backlogs (`<ns>:backlog:{<name>/<p>}`, counts in `<ns>:partitions`) and leases.
 */
export const LAYOUT = 2;

/** This namespace's keys are in a layout this wbsync does not read. */
export class LayoutMismatch extends Error {
  override readonly name = 'LayoutMismatch';
}

/** The layout a namespace is at: its record, or 1 for an unrecorded one holding recipes (0.1), or undefined when new. */
export async function layoutOf(redis: Redis, keys: Keys): Promise<string | undefined> {
  const found = await redis.get(keys.layout());
  if (found !== null) return found;
  // A cluster's namespace was never at layout 1 (0.1 refused clusters), and its sentinels are per shard.
  const used = await redis.exists(...(keys.cluster ? [keys.recipes()] : [keys.recipes(), keys.sentinel()]));
  return used > 0 ? '1' : undefined;
}

function mismatch(keys: Keys, who: string, found: string): LayoutMismatch {
  const theirs = Number(found);
  const advice = Number.isInteger(theirs) && theirs > LAYOUT
    ? `a newer wbsync (key layout ${found}) serves it: upgrade this ${who} to the version the runtimes run`
    : Number.isInteger(theirs) && theirs < LAYOUT
      ? `it is at key layout ${found} (an older wbsync): start a wb-runtime of this version once the older runtimes are stopped, and it migrates the namespace`
      : `its key layout is '${found}', not one this wbsync knows`;
  return new LayoutMismatch(`namespace '${keys.ns}' cannot be used by this ${who} (key layout ${LAYOUT}): ${advice}`);
}

/**
 * Records this wbsync's layout in a new namespace, and refuses one recorded by another version.
 * `who` names the caller in the message (`wb-runtime`, `wb-cli`). An older layout is refused
 * too: only a runtime migrates (`migrateLayout`), the CLI never does.
 */
export async function checkLayout(redis: Redis, keys: Keys, who: string, opts: { readonly record: boolean } = { record: true }): Promise<void> {
  const found = await layoutOf(redis, keys);
  if (found === undefined) {
    if (!opts.record) return;
    const prior = await redis.set(keys.layout(), String(LAYOUT), 'NX', 'GET');
    if (prior === null || prior === String(LAYOUT)) return;
    throw mismatch(keys, who, prior);
  }
  if (found !== String(LAYOUT)) throw mismatch(keys, who, found);
}

const MIGRATE = [
  readFileSync(new URL('../backlog/partition.lua', import.meta.url), 'utf8'),
  readFileSync(new URL('./migrate.lua', import.meta.url), 'utf8'),
].join('\n');

/** Entries moved per script call: short calls, so Redis keeps serving the application meanwhile. */
const MIGRATE_CHUNK = 200;

/**
 * Brings a namespace from layout 1 (wbsync 0.1) to this one, before this runtime serves it:
 * each recipe's single backlog stream is split into its partitions' streams (`migrate.lua`),
 * entry by entry under the same ids, so no pending entry is lost and each key's order holds;
 * entries delivered to an 0.1 runtime and not acknowledged become new again and are written
 * (a snapshot written twice is still the same row). Refused while another runtime is alive (an
 * 0.1 runtime would keep writing the old stream). Safe to run again after a crash: each call
 * moves and deletes atomically.
 */
export async function migrateLayout(redis: Redis, keys: Keys, me: string, othersAlive: () => Promise<string[]>, log: Logger): Promise<void> {
  const found = await layoutOf(redis, keys);
  if (found === undefined || found === String(LAYOUT)) return checkLayout(redis, keys, 'wb-runtime');
  if (found !== '1') throw mismatch(keys, 'wb-runtime', found);
  const others = await othersAlive();
  if (others.length > 0) {
    throw new LayoutMismatch(`namespace '${keys.ns}' is at key layout 1 (wbsync 0.1) and served by runtime${others.length > 1 ? 's' : ''} ${others.map((o) => `'${o}'`).join(', ')}: stop ${others.length > 1 ? 'them' : 'it'}, then start this runtime again; it migrates the namespace to layout ${LAYOUT} first`);
  }
  const lock = `${keys.layout()}:migrating`;
  if ((await redis.set(lock, me, 'PX', 120_000, 'NX')) !== 'OK') {
    throw new LayoutMismatch(`namespace '${keys.ns}' is being migrated to key layout ${LAYOUT} by runtime '${await redis.get(lock)}'; start this one again once it runs`);
  }
  try {
    const names = new Set(await redis.hkeys(keys.recipes()));
    // Backlogs of recipes unregistered since (0.1 kept them) are migrated too.
    const prefix = `${keys.ns}:backlog:`;
    for (let cursor = '0'; ;) {
      const [next, found2] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      for (const k of found2) if (!k.includes('{')) names.add(k.slice(prefix.length));
      cursor = next;
      if (cursor === '0') break;
    }
    for (const name of names) {
      const stored = await redis.hget(keys.partitions(), name);
      const partitions = stored === null ? PARTITIONS.default : Number(stored);
      const old = keys.legacyBacklog(name);
      const streams = keys.backlogs(name, partitions);
      let moved = 0;
      for (;;) {
        const n = Number(await redis.eval(MIGRATE, 1 + streams.length, old, ...streams, String(partitions), String(MIGRATE_CHUNK)));
        moved += n;
        await redis.pexpire(lock, 120_000);
        if (n === 0) break;
      }
      await redis.del(old);
      await redis.hsetnx(keys.partitions(), name, String(partitions));
      if (moved > 0) log.info({ recipe: name, entries: moved, partitions }, 'backlog migrated into partitions');
    }
    await redis.set(keys.layout(), String(LAYOUT));
    log.warn({ from: 1, to: LAYOUT }, `namespace migrated to key layout ${LAYOUT}; runtimes and CLIs of wbsync 0.1 refuse it from now on`);
  } finally {
    if ((await redis.get(lock)) === me) await redis.del(lock);
  }
}

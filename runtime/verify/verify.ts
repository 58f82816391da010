import type { Redis } from 'ioredis';
import type { Registration } from '../../recipes/options.ts';
import { snapshotKeys } from '../capture/capture-queue.ts';
import { resyncTarget } from '../capture/targets.ts';
import type { ConnectorSession, TableShape } from '../connectors/types.ts';
import type { Keys } from '../keys.ts';
import { masterNodes } from '../redis/nodes.ts';
import { idOf } from '../writer/plan.ts';
import { diffRow, expectedRow, type ColumnDiff } from './compare.ts';
import { goneRowPages } from './gone-rows.ts';

const PAGE = 500;
const SAMPLE = 10;

/** What a comparison of Redis with the table found; lists hold at most a sample, counts are exact. */
export interface VerifyReport {
  keys: number;
  rows: number;
  missing: { count: number; sample: string[] };
  differing: { count: number; sample: Array<{ id: string; columns: ColumnDiff[] }> };
  extra: { count: number; sample: string[] };
  notHash: { count: number; sample: string[] };
  /** Keys re-enqueued by --fix, and extra rows deleted through the backlog. */
  enqueued: number;
  deleteEnqueued: number;
}

export interface VerifyOptions {
  /** Re-enqueue keys whose row is missing or differs. */
  readonly fix: boolean;
  /** With fix: delete rows whose key is gone from Redis. */
  readonly deleteExtra: boolean;
  /** Told after each page: keys compared so far, then rows swept so far. */
  readonly progress?: (phase: 'keys' | 'rows', done: number) => void;
  /** On a cluster: the keys of the shard that captures `key` (its master's); `keys` itself when absent. */
  readonly shardOf?: (key: string) => Keys;
}

/**
 * Compares every key under the recipe's prefix with its row, then sweeps the table for rows
 * whose key is gone. Fixing goes through the backlog like any change, so the runtime writes it.
 */
export async function verifyRecipe(redis: Redis, keys: Keys, reg: Registration, session: ConnectorSession, opts: VerifyOptions): Promise<VerifyReport> {
  const table: TableShape = { table: reg.connector.table, pkColumn: reg.connector.pkColumn, columns: Object.values(reg.mappings) };
  const report: VerifyReport = {
    keys: 0, rows: 0, enqueued: 0, deleteEnqueued: 0,
    missing: { count: 0, sample: [] }, differing: { count: 0, sample: [] }, extra: { count: 0, sample: [] }, notHash: { count: 0, sample: [] },
  };
  // Keys go to the backlog of the shard that captures them (the namespace's own on a single server).
  const shardOf = opts.shardOf ?? (() => keys);
  // Through the column's own description: a value the writer would refuse never counts as equal.
  const columnOf = (column: string) => session.table.columns.get(column.toLowerCase());
  const enqueue = async (list: string[]): Promise<void> => {
    if (!opts.fix || list.length === 0) return;
    const groups = new Map<string, { shard: Keys; keys: string[] }>();
    for (const k of list) {
      const shard = shardOf(k);
      const g = groups.get(shard.backlog(reg.name, 0)) ?? { shard, keys: [] };
      g.keys.push(k);
      groups.set(shard.backlog(reg.name, 0), g);
    }
    for (const g of groups.values()) await snapshotKeys(redis, resyncTarget(g.shard, reg.name, reg.partitions), g.keys, g.keys.map(() => 'c0'));
  };
  const note = <T>(bucket: { count: number; sample: T[] }, item: T): void => {
    bucket.count++;
    if (bucket.sample.length < SAMPLE) bucket.sample.push(item);
  };

  // Every master's keys: SCAN answers for one node (the server itself on a single server).
  for (const node of masterNodes(redis)) for (let cursor = '0'; ; ) {
    const [next, found] = await node.scan(cursor, 'MATCH', `${reg.keysPrefix}:*`, 'COUNT', PAGE);
    cursor = next;
    const page = found.filter((k) => idOf(k, reg.keysPrefix) !== undefined);
    const p = node.pipeline();
    for (const k of page) p.hgetall(k);
    const hashes = (await p.exec()) ?? [];
    const rows = await session.readRows(table, page.map((k) => idOf(k, reg.keysPrefix) as string));
    const toFix: string[] = [];
    page.forEach((key, i) => {
      const [err, hash] = hashes[i] ?? [];
      if (err || hash === undefined) return note(report.notHash, key);
      if (Object.keys(hash as object).length === 0) return; // deleted while we looked
      report.keys++;
      const id = idOf(key, reg.keysPrefix) as string;
      const row = rows.get(id);
      if (row === undefined) {
        note(report.missing, id);
        toFix.push(key);
        return;
      }
      const columns = diffRow(expectedRow(hash as Record<string, string>, reg.mappings), row, columnOf);
      if (columns.length) {
        note(report.differing, { id, columns });
        toFix.push(key);
      }
    });
    await enqueue(toFix);
    report.enqueued += opts.fix ? toFix.length : 0;
    opts.progress?.('keys', report.keys);
    if (cursor === '0') break;
  }

  // The sweep: rows whose key is gone from Redis.
  for await (const { ids, gone } of goneRowPages(redis, session, table, reg.keysPrefix, PAGE)) {
    report.rows += ids.length;
    opts.progress?.('rows', report.rows);
    for (const id of gone) note(report.extra, id);
    if (opts.fix && opts.deleteExtra) {
      await enqueue(gone.map((id) => `${reg.keysPrefix}:${id}`));
      report.deleteEnqueued += gone.length;
    }
  }
  return report;
}

/** True when nothing differs. */
export function isClean(r: VerifyReport): boolean {
  return r.missing.count + r.differing.count + r.extra.count + r.notHash.count === 0;
}

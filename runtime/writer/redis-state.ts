import { readFileSync } from 'node:fs';
import type { Cluster, Redis } from 'ioredis';
import { isCluster, pipelinedPerKey } from '../redis/nodes.ts';
import type { BacklogEntry } from '../backlog/entry.ts';
import { isWrongType } from '../redis/exec.ts';
import type { RowWrite, ThroughOp } from './plan.ts';

/**
 * Entries delivered before (a crash, a stop, a claim) may be older than rows written since:
 * re-read their keys so that a late replay never writes stale values. Each entry keeps its ack.
 */
export async function refreshEntries(redis: Redis, entries: readonly BacklogEntry[]): Promise<BacklogEntry[]> {
  const keys = [...new Set(entries.map((e) => e.key))];
  if (keys.length === 0) return [];
  const now = new Map<string, { type: string; hash: Record<string, string> | undefined }>();
  // One pipeline per node (one on a single server). A failed read must not pass for a key of
  // unknown type (dead-lettered): it throws and is retried. HGETALL of a key that is not a hash
  // is answered by its TYPE.
  const res = await pipelinedPerKey(redis, keys, 2, (p, k) => p.type(k).hgetall(k), isWrongType);
  for (const [key, [type, hash]] of res) now.set(key, { type: type?.[1] as string, hash: hash?.[1] as Record<string, string> | undefined });
  const deleted = new Set(entries.filter((e) => e.op === 'd').map((e) => e.key));
  return entries.map((e): BacklogEntry => {
    if (e.op !== 'u' && e.op !== 'd') return e;
    const cur = now.get(e.key);
    const base = { id: e.id, key: e.key, ack: e.ack };
    if (cur?.type === 'hash' && cur.hash) {
      const fields = Object.entries(cur.hash);
      // The same limit as capture.lua: a hash this large is reported, not synced.
      return fields.length > 3500 ? { ...base, op: 't', type: 'hash' } : { ...base, op: 'u', fields: new Map(fields) };
    }
    // Gone: a delete is still due; an upsert was overtaken (deleted or expired since): nothing to write.
    if (cur?.type === 'none') return deleted.has(e.key) ? { ...base, op: 'd' } : { ...base, op: 'n' };
    return { ...base, op: 't', type: cur?.type ?? 'unknown' };
  });
}

/**
 * Re-reads entries' keys as `refreshEntries` does, after reading the last id of `stream` in the
 * same pipeline: every entry up to that id was added before the keys were read, so it holds an
 * older (or the same) state of them. Returns the records and that id ('0-0' for an empty stream).
 */
export async function refreshThrough(redis: Redis, stream: string, entries: readonly BacklogEntry[]): Promise<{ records: BacklogEntry[]; through: string }> {
  // XREVRANGE first, then the reads: Redis runs a pipeline's commands in order. On a cluster the
  // keys may live on other nodes than the stream: the reads are sent once the id is in.
  const last = redis.xrevrange(stream, '+', '-', 'COUNT', 1);
  if (isCluster(redis as unknown as Redis | Cluster)) await last;
  const records = await refreshEntries(redis, entries);
  const top = (await last)[0];
  return { records, through: top?.[0] ?? '0-0' };
}

/** Current hashes of write-through targets (null when absent); a key of another type is left out. */
export async function readTargets(redis: Redis, entries: readonly BacklogEntry[]): Promise<Map<string, Record<string, string> | null>> {
  const keys = [...new Set(entries.filter((e) => e.op === 'w').map((e) => e.key))];
  const out = new Map<string, Record<string, string> | null>();
  if (keys.length === 0) return out;
  // Another type is left out on purpose (below); any other failure is retried by the caller.
  for (const [k, [reply]] of await pipelinedPerKey(redis, keys, 1, (p, key) => p.hgetall(key), isWrongType)) {
    const [err, hash] = reply ?? [];
    if (!err) out.set(k, Object.keys(hash as object).length ? (hash as Record<string, string>) : null);
  }
  return out;
}

const APPLY = readFileSync(new URL('./apply.lua', import.meta.url), 'utf8');

/**
 * Merges committed write-through rows into their Redis keys (the database has them now), each
 * change tagged with its entry's id and recorded in the marks hash (`through-marks.ts`); a key's
 * dead letter of an older entry goes (that change is superseded: a replay would write it back).
 */
export async function applyThrough(redis: Redis, rows: readonly RowWrite[], marksKey: string, deadLetters: { readonly stream: string; readonly index: string }): Promise<void> {
  const withOps = rows.filter((r) => r.through?.length);
  if (withOps.length === 0) return;
  const client = redis as Redis & { wbApply?: (n: number, ...a: string[]) => Promise<number> };
  if (typeof client.wbApply !== 'function') redis.defineCommand('wbApply', { lua: APPLY });
  const encode = (ops: readonly ThroughOp[]): string =>
    JSON.stringify(ops.map((o) => (o.op === 'delete' ? ['d', o.id] : ['m', o.id, ...Object.entries(o.fields).flat()])));
  await (client.wbApply as (n: number, ...a: string[]) => Promise<number>)(withOps.length + 3, ...withOps.map((r) => r.key), marksKey, deadLetters.stream, deadLetters.index, ...withOps.map((r) => encode(r.through ?? [])));
}

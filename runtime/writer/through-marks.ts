import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import type { BacklogEntry } from '../backlog/entry.ts';

/**
 * Write-through marks. A write-through entry carries staged fields that exist nowhere else, so a
 * redelivered entry (a crash after the commit and before the acknowledgement, or a claim that
 * runs after newer entries of the key were applied) cannot be refreshed from Redis like a
 * write-behind snapshot. Instead `apply.lua` records, per key, the stream id of the last change
 * applied to each field (`f`), of the last delete (`d`) and of the last change of any kind
 * (`k`). A change is applied only where it is newer than those marks: a staged field whose
 * field or delete mark is at or past the entry's id is superseded, and a delete whose key mark
 * is at or past it is too. The plan filters the same way before the database write, so the
 * table and Redis agree.
 *
 * The marks matter only while an older entry may still be delivered, that is while it is
 * pending: marks older than the stream's oldest pending entry can decide nothing and are
 * pruned (`prune-marks.lua`), so the hash holds about what was applied during the pending window.
 */
export interface KeyMarks {
  /** Last change of any kind applied to the key. */
  readonly k?: string;
  /** Last delete applied to the key. */
  readonly d?: string;
  /** Per field: the last change applied to it. */
  readonly f: ReadonlyMap<string, string>;
}

/**
 * The hash field of a mark: the key's length in bytes first (as `apply.lua` counts it), so that
 * no key and field pair reads as another.
 */
export function markField(kind: 'k' | 'd' | 'f', key: string, field = ''): string {
  return `${kind}${Buffer.byteLength(key)}:${key}${field}`;
}

/** Orders two stream ids (`ms-seq`): negative, zero or positive. */
export function compareIds(a: string, b: string): number {
  const [am = '0', as = '0'] = a.split('-');
  const [bm = '0', bs = '0'] = b.split('-');
  const ms = BigInt(am) - BigInt(bm);
  if (ms !== 0n) return ms < 0n ? -1 : 1;
  const seq = BigInt(as) - BigInt(bs);
  return seq === 0n ? 0 : seq < 0n ? -1 : 1;
}

/** True when a change with stream id `id` is at or before `mark` (so it is superseded). */
export function superseded(id: string, mark: string | undefined): boolean {
  return mark !== undefined && compareIds(id, mark) <= 0;
}

/** Reads the marks the write-through entries of a batch need, in one HMGET. */
export async function readMarks(redis: Redis, marksKey: string, entries: readonly BacklogEntry[]): Promise<Map<string, KeyMarks>> {
  const wanted: Array<{ key: string; kind: 'k' | 'd' | 'f'; field: string }> = [];
  const seen = new Set<string>();
  const want = (key: string, kind: 'k' | 'd' | 'f', field = ''): void => {
    const f = markField(kind, key, field);
    if (seen.has(f)) return;
    seen.add(f);
    wanted.push({ key, kind, field });
  };
  for (const e of entries) {
    if (e.op !== 'w' && e.op !== 'x') continue;
    want(e.key, 'k');
    want(e.key, 'd');
    if (e.op === 'w') for (const field of e.fields.keys()) want(e.key, 'f', field);
  }
  const out = new Map<string, KeyMarks>();
  if (wanted.length === 0) return out;
  const values = await redis.hmget(marksKey, ...wanted.map((w) => markField(w.kind, w.key, w.field)));
  wanted.forEach((w, i) => {
    const value = values[i];
    const cur = out.get(w.key) ?? { f: new Map<string, string>() };
    if (value === null || value === undefined) {
      out.set(w.key, cur);
      return;
    }
    if (w.kind === 'f') (cur.f as Map<string, string>).set(w.field, value);
    out.set(w.key, w.kind === 'f' ? cur : { ...cur, [w.kind]: value });
  });
  return out;
}

let PRUNE: string | undefined;

/**
 * Deletes the marks no pending entry can be older than (all of them when nothing is pending),
 * one page of HSCAN per call. Returns how many were deleted.
 */
export async function pruneMarks(redis: Redis, streams: readonly string[], group: string, marksKey: string): Promise<number> {
  const client = redis as Redis & { wbPruneMarks?: (n: number, ...a: string[]) => Promise<[string, number]> };
  PRUNE ??= [readFileSync(new URL('../backlog/partition.lua', import.meta.url), 'utf8'), readFileSync(new URL('./prune-marks.lua', import.meta.url), 'utf8')].join('\n');
  if (typeof client.wbPruneMarks !== 'function') redis.defineCommand('wbPruneMarks', { lua: PRUNE });
  let deleted = 0;
  let cursor = '0';
  do {
    const [next, n] = await (client.wbPruneMarks as (n: number, ...a: string[]) => Promise<[string, number]>)(1 + streams.length, marksKey, ...streams, group, cursor, '500');
    deleted += Number(n);
    cursor = String(next);
  } while (cursor !== '0');
  return deleted;
}

import type { Redis } from 'ioredis';
import type { TestEnv } from './env.ts';

/** Rows as Redis says they should be: id -> { column: value-or-null } for every key under the prefix. */
export async function expectedRows(redis: Redis, prefix: string, mappings: Record<string, string>): Promise<Map<string, Record<string, string | null>>> {
  const out = new Map<string, Record<string, string | null>>();
  for (let cursor = '0'; ; ) {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    const p = redis.pipeline();
    for (const k of keys) p.hgetall(k);
    const res = (await p.exec()) ?? [];
    keys.forEach((k, i) => {
      const h = res[i]?.[1] as Record<string, string>;
      out.set(k.slice(prefix.length + 1), Object.fromEntries(Object.entries(mappings).map(([f, c]) => [c, h[f] ?? null])));
    });
    cursor = next;
    if (cursor === '0') return out;
  }
}

/** Differences between Redis and the table, as readable lines (empty when equal). */
export async function diffTable(env: TestEnv, mappings: Record<string, string>): Promise<string[]> {
  return diffRows(await expectedRows(env.redis, env.prefix, mappings), await env.rows());
}

/**
 * Differences between the rows Redis implies (`expectedRows`) and a table's rows read by any
 * client (each with an `id` column and the mapped columns), as readable lines (empty when equal).
 */
export function diffRows(want: ReadonlyMap<string, Record<string, string | null>>, rows: ReadonlyArray<Record<string, unknown>>): string[] {
  const diffs: string[] = [];
  const seen = new Set<string>();
  for (const row of rows) {
    const id = String(row['id']);
    seen.add(id);
    const w = want.get(id);
    if (!w) {
      diffs.push(`extra row ${id}`);
      continue;
    }
    for (const [col, v] of Object.entries(w)) {
      const got = row[col] === null ? null : String(row[col]);
      if (got !== v) diffs.push(`${id}.${col}: table ${got} redis ${v}`);
    }
  }
  for (const id of want.keys()) if (!seen.has(id)) diffs.push(`missing row ${id}`);
  return diffs;
}

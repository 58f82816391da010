import type { Redis } from 'ioredis';
import type { Pool } from 'mysql2/promise';

/**
 * The machine's yardstick: a hand-written serial loader. It reads `n` hashes `{prefix}:{i}` with
 * pipelined HGETALL and writes them with 500-row INSERT ... ON DUPLICATE KEY UPDATE, one batch
 * after the other. Returns rows per second.
 */
export async function referenceLoad(redis: Redis, db: Pool, prefix: string, n: number, table: string): Promise<number> {
  const started = performance.now();
  for (let from = 0; from < n; from += 500) {
    const p = redis.pipeline();
    const to = Math.min(n, from + 500);
    for (let i = from; i < to; i++) p.hgetall(`${prefix}:${i}`);
    const res = (await p.exec()) ?? [];
    const params: Array<string | null> = [];
    res.forEach(([, h], j) => {
      const hash = h as Record<string, string>;
      params.push(String(from + j), hash['first_name'] ?? null, hash['last_name'] ?? null, hash['age'] ?? null);
    });
    const tuples = Array.from({ length: to - from }, () => '(?,?,?,?)').join(',');
    await db.query(`INSERT INTO ${table} (id, first, last, age) VALUES ${tuples} ON DUPLICATE KEY UPDATE first=VALUES(first), last=VALUES(last), age=VALUES(age)`, params);
  }
  return n / ((performance.now() - started) / 1000);
}

import type { RowDataPacket } from 'mysql2/promise';
import type { TestEnv } from './env.ts';

/**
 * Reads the table's counter column (`age`) over and over and records every row whose counter
 * went down since it was last read. With `floor`, a drop counts only if it goes below the floor
 * of that row's id too (behind a failover: a value the new master is known to hold; a lower one
 * never confirmed may be a write the failover lost).
 */
export class RegressionPoller {
  readonly regressions: string[] = [];
  polls = 0;
  private readonly seen = new Map<string, number>();
  private stopped = false;
  private readonly done: Promise<void>;

  constructor(env: TestEnv, floor?: (id: string) => number) {
    this.done = (async () => {
      while (!this.stopped) {
        const [rows] = await env.db.query<RowDataPacket[]>(`SELECT id, age FROM \`${env.table}\``);
        for (const r of rows) {
          const id = String(r['id']);
          const age = Number(r['age']);
          const before = this.seen.get(id);
          const min = floor?.(id) ?? Number.POSITIVE_INFINITY;
          if (before !== undefined && age < before && age < min) this.regressions.push(`${id}: ${before} -> ${age}${floor ? ` (confirmed ${min})` : ''}`);
          this.seen.set(id, age);
        }
        this.polls++;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
}

import { backlogLength } from './backlog.ts';
import type { TestEnv } from './env.ts';
import { waitFor } from './wait.ts';

/** Waits until the recipe's backlog is empty and `wb-cli verify` reports clean (exit 0). */
export async function expectVerifyClean(env: TestEnv, timeoutMs = 60_000, name = env.name): Promise<void> {
  let last = '';
  await waitFor(`verify ${name} clean`, async () => {
    if ((await backlogLength(env, name)) > 0) return false;
    const res = await env.cli(['verify', name]);
    last = res.stdout + res.stderr;
    return res.code === 0 && res.stdout.includes('clean: the table equals Redis');
  }, timeoutMs, 1000).catch((err: unknown) => {
    throw new Error(`${String(err)}\nlast verify:\n${last}`);
  });
}

/** A writer that keeps HSETting random keys until stopped; counts acknowledged writes. */
export class BackgroundWriter {
  acknowledged = 0;
  errors = 0;
  private stopped = false;
  private readonly done: Promise<void>;

  constructor(env: TestEnv, keys: number, perRound = 200, pauseMs = 20) {
    this.done = (async () => {
      for (let round = 0; !this.stopped; round++) {
        const p = env.redis.pipeline();
        for (let i = 0; i < perRound; i++) {
          const id = Math.floor(Math.random() * keys);
          p.hset(`${env.prefix}:${id}`, 'first_name', `r${round}`, 'last_name', `i${i}`, 'age', String(round));
        }
        try {
          const res = (await p.exec()) ?? [];
          this.acknowledged += res.filter(([err]) => !err).length;
        } catch {
          this.errors++;
        }
        await new Promise((r) => setTimeout(r, pauseMs));
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
}

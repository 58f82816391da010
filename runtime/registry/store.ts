import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Keys } from '../keys.ts';
import { execChecked } from '../redis/exec.ts';
import { decideUpload, type UploadDecision } from './version-rules.ts';

/** What is stored about a recipe besides its code. */
export interface RecipeMeta {
  readonly name: string;
  readonly version: string;
  readonly sha: string;
  readonly file: string;
  readonly uploadedAt: string;
  /** The recipe's keysPrefix and `connector.describe()`, for the overlap check (absent in metas stored before them). */
  readonly keysPrefix?: string;
  readonly target?: string;
}

/** An upload was refused by the version rules. */
export class UploadRefused extends Error {
  override readonly name = 'UploadRefused';
}

/** Recipes stored in Redis: metadata in one hash, each bundle in its own key. */
export class RecipeStore {
  private readonly redis: Redis;
  private readonly keys: Keys;

  constructor(
    redis: Redis,
    keys: Keys,
  ) {
    this.redis = redis;
    this.keys = keys;
  }

  async list(): Promise<RecipeMeta[]> {
    const all = await this.redis.hgetall(this.keys.recipes());
    return Object.values(all).map((v) => JSON.parse(v) as RecipeMeta).sort((a, b) => a.name.localeCompare(b.name));
  }

  async get(name: string): Promise<{ meta: RecipeMeta; code: string } | undefined> {
    const [meta, code] = await Promise.all([this.redis.hget(this.keys.recipes(), name), this.redis.get(this.keys.code(name))]);
    if (meta === null || code === null) return undefined;
    return { meta: JSON.parse(meta) as RecipeMeta, code };
  }

  /**
   * The refusals `put` would give now (version rules, a changed partition count), without
   * storing anything: an upload asks before the runtimes evaluate its bundle. `put` checks again.
   */
  async refusals(registrations: readonly { name: string; version: string; partitions?: number }[], force: boolean): Promise<string[]> {
    const names = registrations.map((r) => r.name);
    if (names.length === 0) return [];
    const [current, counts] = await Promise.all([this.redis.hmget(this.keys.recipes(), ...names), this.redis.hmget(this.keys.partitions(), ...names)]);
    return registrations.flatMap((r, i) => {
      const stored = current[i];
      const decision = decideUpload(r.name, stored ? (JSON.parse(stored) as RecipeMeta).version : undefined, r.version, force);
      const out = decision.action === 'refuse' ? [decision.reason] : [];
      const partitionRefusal = partitionsRefusal(r, counts[i] ?? null);
      return partitionRefusal ? [...out, partitionRefusal] : out;
    });
  }

  /**
   * Stores one bundle under every registration name it declares, all or nothing, applying the
   * version rules atomically (WATCH/MULTI).
   */
  async put(
    registrations: readonly { name: string; version: string; keysPrefix?: string; target?: string; partitions?: number }[],
    code: string,
    file: string,
    force: boolean,
  ): Promise<Array<{ meta: RecipeMeta; decision: UploadDecision }>> {
    const sha = createHash('sha256').update(code).digest('hex').slice(0, 16);
    const names = registrations.map((r) => r.name);
    for (let attempt = 0; attempt < 10; attempt++) {
      await this.redis.watch(this.keys.recipes(), this.keys.partitions());
      const current = names.length ? await this.redis.hmget(this.keys.recipes(), ...names) : [];
      const counts = names.length ? await this.redis.hmget(this.keys.partitions(), ...names) : [];
      const results = registrations.map((r, i) => {
        const stored = current[i];
        const registered = stored ? (JSON.parse(stored) as RecipeMeta).version : undefined;
        const meta: RecipeMeta = { name: r.name, version: r.version, sha, file, uploadedAt: new Date().toISOString(), keysPrefix: r.keysPrefix, target: r.target };
        return { meta, decision: decideUpload(r.name, registered, r.version, force) };
      });
      const refused = results.flatMap((r) => (r.decision.action === 'refuse' ? [r.decision.reason] : []));
      // A backlog's partition count is fixed while it exists: a key's entries would be split
      // over two streams, and their order lost.
      registrations.forEach((r, i) => {
        const refusal = partitionsRefusal(r, counts[i] ?? null);
        if (refusal) refused.push(refusal);
      });
      if (refused.length) {
        await this.redis.unwatch();
        throw new UploadRefused(refused.join('\n'));
      }
      const tx = this.redis.multi();
      results.forEach(({ meta }, i) => {
        tx.hset(this.keys.recipes(), meta.name, JSON.stringify(meta));
        tx.set(this.keys.code(meta.name), code);
        const n = registrations[i]?.partitions;
        if (n !== undefined) tx.hsetnx(this.keys.partitions(), meta.name, String(n));
      });
      if ((await execChecked(tx)) !== null) return results;
    }
    throw new Error('recipe store is too busy: concurrent uploads kept changing it; try again');
  }

  /** Removes a recipe; true when it existed. */
  async remove(name: string): Promise<boolean> {
    const [[, removed]] = (await execChecked(this.redis.multi().hdel(this.keys.recipes(), name).del(this.keys.code(name)))) as [[unknown, number]];
    return removed === 1;
  }
}

/** Why an upload may not change a backlog's partition count (`fixed`, as stored), or undefined. */
function partitionsRefusal(r: { readonly name: string; readonly partitions?: number }, fixed: string | null): string | undefined {
  if (r.partitions === undefined || fixed === null || Number(fixed) === r.partitions) return undefined;
  return `'${r.name}' has a backlog of ${fixed} partitions; partitions: ${r.partitions} would change it, and the count is fixed for the recipe's backlog. Keep partitions: ${fixed} (to start over with another count: unregister it, wait until \`wb-cli status\` shows its backlog empty, and run \`wb-cli unregister ${r.name} --drop-backlog\`)`;
}

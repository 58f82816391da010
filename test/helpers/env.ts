import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import { createPool, type Pool, type RowDataPacket } from 'mysql2/promise';
import { cli, startRuntime, type CliResult, type RuntimeProcess } from './processes.ts';
import { uid, waitFor } from './wait.ts';

export const REDIS_URL = process.env['WB_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
export const MYSQL = { host: '127.0.0.1', port: 3306, user: 'root', password: '', database: 'test' };

/** How a TestEnv reaches its Redis besides the URL (a TLS server's client files, say). */
export interface TestEnvOptions {
  /** Added to the options of the test's own connection (`redis`). */
  readonly redis?: RedisOptions;
  /** Added to every bin invocation's flags (`--tls-ca <file>`, ...). */
  readonly flags?: readonly string[];
  /** How the bins reach Redis instead of `--url <redisUrl>` (`--sentinel …`, say). */
  readonly connection?: readonly string[];
  /** The test's own connection instead of one to `redisUrl` (a Sentinel client, say). */
  readonly client?: Redis;
}

/** One test's isolated world: its own namespace, key prefix, table and runtime id. */
export class TestEnv {
  readonly redisUrl: string;
  private readonly extraFlags: readonly string[];
  private readonly connection: readonly string[];
  readonly id = uid();
  readonly ns = `wbt${this.id}`;
  readonly prefix = `p${this.id}`;
  readonly table = `t_${this.id}`;
  readonly name = `Recipe_${this.id}`;
  readonly redis: Redis;
  readonly db: Pool = createPool({ ...MYSQL, connectionLimit: 2 });
  readonly dir = mkdtempSync(join(tmpdir(), 'wbsync-'));

  constructor(redisUrl = REDIS_URL, opts: TestEnvOptions = {}) {
    this.redisUrl = redisUrl;
    this.extraFlags = opts.flags ?? [];
    this.connection = opts.connection ?? ['--url', redisUrl];
    this.redis = opts.client ?? new Redis(redisUrl, { maxRetriesPerRequest: null, ...opts.redis });
    this.redis.on('error', () => undefined); // tests that restart Redis expect errors meanwhile
  }

  /** Flags every bin invocation of this test uses. */
  get flags(): string[] {
    return [...this.connection, '--namespace', this.ns, ...this.extraFlags];
  }

  runtimeArgs(extra: readonly string[] = []): string[] {
    return [...this.flags, '--id', `rt-${this.id}`, ...extra];
  }

  cli(args: readonly string[], input?: string): ReturnType<typeof cli> {
    // A loaded 2-core CI machine can be slow to answer: uploads wait 30 s for the verdict.
    const wait = args[0] === 'upload' && !args.includes('--timeout') ? ['--timeout', '30'] : [];
    return cli([...args, ...wait, ...this.flags], input);
  }

  async createTable(columns = 'first VARCHAR(20), last VARCHAR(255), age INT'): Promise<void> {
    await this.db.query(`DROP TABLE IF EXISTS \`${this.table}\``);
    await this.db.query(`CREATE TABLE \`${this.table}\` (id VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin PRIMARY KEY, ${columns})`);
  }

  async rows(): Promise<RowDataPacket[]> {
    const [rows] = await this.db.query<RowDataPacket[]>(`SELECT * FROM \`${this.table}\` ORDER BY id`);
    return rows;
  }

  async row(id: string): Promise<RowDataPacket | undefined> {
    const [rows] = await this.db.query<RowDataPacket[]>(`SELECT * FROM \`${this.table}\` WHERE id = ?`, [id]);
    return rows[0];
  }

  async count(): Promise<number> {
    const [rows] = await this.db.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM \`${this.table}\``);
    return Number(rows[0]?.['n']);
  }

  /** Sets the MySQL credentials parameters the generated recipes read. */
  async tuneCredentials(password = MYSQL.password): Promise<void> {
    await this.redis.hset(`${this.ns}:params`, 'MySqlUser', MYSQL.user, 'MySqlPassword', password);
  }

  /**
   * Writes a recipe module for this test and returns its path. `dbAddress` points the recipe's
   * connection elsewhere (e.g. a test's TCP proxy); it defaults to MariaDB's own host and port.
   */
  writeRecipe(opts: { version: string; mappings?: Record<string, string>; extra?: string; file?: string; name?: string; dbAddress?: { host: string; port: number }; tail?: string; table?: string }): string {
    const mappings = opts.mappings ?? { first_name: 'first', last_name: 'last', age: 'age' };
    const db = opts.dbAddress ?? MYSQL;
    const path = join(this.dir, opts.file ?? `recipe-${uid()}.ts`);
    writeFileSync(path, `import { configGet, MySqlConnection, MySqlConnector, writeBehind } from 'wbsync';
const connection = new MySqlConnection(() => configGet('MySqlUser'), () => configGet('MySqlPassword'), '${db.host}:${db.port}/${MYSQL.database}');
export default writeBehind({
  name: '${opts.name ?? this.name}',
  version: '${opts.version}',
  connector: new MySqlConnector(connection, '${opts.table ?? this.table}', 'id'),
  keysPrefix: '${this.prefix}',
  mappings: ${JSON.stringify(mappings)},
  ${opts.extra ?? ''}
});
${opts.tail ?? ''}
`);
    return path;
  }

  /**
   * The usual start of a test: a fresh table, the MySQL parameters, a runtime, and a recipe
   * uploaded and loaded. Returns the running runtime.
   */
  async startWithRecipe(recipe: Parameters<TestEnv['writeRecipe']>[0] = { version: '1' }): Promise<RuntimeProcess> {
    await this.createTable();
    await this.tuneCredentials();
    const rt = await startRuntime(this.runtimeArgs());
    try {
      await this.upload(this.writeRecipe(recipe), rt);
    } catch (err) {
      await rt.stop();
      throw err;
    }
    return rt;
  }

  /**
   * Uploads a recipe that must load. A loaded 2-core CI machine (Cassandra, MariaDB restarts) can
   * be slow to answer, so it waits 30 s for the verdict; on failure it throws with everything the
   * CLI printed and the runtime's log, so a failure explains itself.
   */
  async upload(file: string, rt?: RuntimeProcess, extra: readonly string[] = []): Promise<CliResult> {
    const started = Date.now();
    const up = await this.cli(['upload', file, ...extra]);
    if (up.code !== 0) {
      const log = rt ? `\nruntime log:\n${rt.lines.join('\n')}` : '';
      throw new Error(`upload exited ${up.code} after ${Date.now() - started} ms\nstdout: ${up.stdout}\nstderr: ${up.stderr}${log}`);
    }
    return up;
  }

  /**
   * Waits until the start-up reconcile of recipe `name` is over (`reconciledAt` set, not
   * `reconciling`). Until then a key written is snapshotted both by its change and by the
   * reconcile's SCAN, two records for one write (legal at-least-once, see
   * docs/sync-semantics.md): on a Redis holding many other keys that SCAN takes seconds. A test
   * that counts records waits for this first.
   */
  async reconciled(name = this.name): Promise<void> {
    await waitFor(`${name} reconciled`, async () => {
      const [reconciling, at] = await this.redis.hmget(`${this.ns}:status:${name}`, 'reconciling', 'reconciledAt');
      return !reconciling && Boolean(at);
    }, 60_000, 50);
  }

  async close(): Promise<void> {
    const keys = await this.redis.keys(`${this.ns}:*`);
    if (keys.length) await this.redis.del(...keys);
    for (let cursor = '0'; ; ) {
      const [next, found] = await this.redis.scan(cursor, 'MATCH', `${this.prefix}:*`, 'COUNT', 1000);
      if (found.length) await this.redis.del(...found);
      cursor = next;
      if (cursor === '0') break;
    }
    await this.db.query(`DROP TABLE IF EXISTS \`${this.table}\``);
    this.redis.disconnect();
    await this.db.end();
  }
}

// Several runtimes serve one namespace: partitions spread ±1 under fenced leases, one runtime
// captures, and kill -9, SIGSTOP, a rolling restart and a join under load lose nothing and never
// let a row go back to an older state (a counter per key that only grows, polled from the table
// throughout). Every fault ends with `wb-cli verify` clean and the table equal to Redis, key by key.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { diffTable } from '../helpers/compare.ts';
import { MYSQL, TestEnv } from '../helpers/env.ts';
import { startRuntime, type RuntimeProcess } from '../helpers/processes.ts';
import { RegressionPoller } from '../helpers/regression.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';
import { waitFor } from '../helpers/wait.ts';

const TTL_MS = 3000;
/** The default margin: half the TTL. */
const MARGIN_MS = TTL_MS / 2;
const PARTITIONS = 8;
const MAPPINGS = { first_name: 'first', age: 'age' };

interface RuntimeStatus {
  readonly id: string;
  readonly capture?: boolean;
  readonly partitions?: Record<string, number[]>;
}

/** Keeps writing keys: each write raises the key's `age` by one (a counter that only grows). */
const running = new Set<{ stop(): Promise<void> }>();

class CounterLoad {
  writes = 0;
  private stopped = false;
  private readonly done: Promise<void>;

  constructor(env: TestEnv, keys: number, perSecond: number, from = 0) {
    running.add(this);
    const perTick = Math.max(1, Math.round(perSecond / 50));
    this.done = (async () => {
      let next = from;
      while (!this.stopped) {
        const started = Date.now();
        const p = env.redis.pipeline();
        for (let i = 0; i < perTick; i++) {
          const k = `${env.prefix}:${next++ % keys}`;
          p.hset(k, 'first_name', `w${next}`).hincrby(k, 'age', 1);
        }
        await p.exec();
        this.writes += perTick;
        await new Promise((r) => setTimeout(r, Math.max(0, 20 - (Date.now() - started))));
      }
    })();
  }

  async stop(): Promise<void> {
    running.delete(this);
    this.stopped = true;
    await this.done;
  }
}

/** A regression poller that a test failing midway leaves stopped for the next one (see afterEach). */
function startPoller(env: TestEnv): RegressionPoller {
  const p = new RegressionPoller(env);
  running.add(p);
  return p;
}

describe('several runtimes share a namespace', () => {
  const env = new TestEnv();
  const runtimes = new Map<string, RuntimeProcess>();
  /**
   * Each runtime reaches MariaDB through a proxy of its own, which records when its statements
   * that change rows arrive (every write of a leased partition is one transaction: its COMMIT is
   * the moment it takes effect).
   */
  const proxies = new Map<string, TcpProxy>();
  const writesAt = new Map<string, Array<{ t: number; sql: string }>>();
  const args = (id: string): string[] => [...env.flags, '--id', id, '--lease-ttl-ms', String(TTL_MS), '--claim-idle-ms', '5000'];
  const start = async (id: string): Promise<RuntimeProcess> => {
    let proxy = proxies.get(id);
    if (!proxy) {
      proxy = await TcpProxy.start(MYSQL.host, MYSQL.port);
      proxies.set(id, proxy);
      const at: Array<{ t: number; sql: string }> = [];
      writesAt.set(id, at);
      proxy.onClientData = (chunk) => {
        const text = chunk.toString('latin1');
        // Statements that change rows (not `SET autocommit = 1` at a connect).
        const m = /(?<![A-Za-z_])(INSERT|DELETE|COMMIT)(?![A-Za-z_])/i.exec(text);
        if (m) at.push({ t: Date.now(), sql: text.slice(m.index, m.index + 60) });
      };
    }
    const rt = await startRuntime(args(id), { WB_TEST_DB_PORT: String(proxy.port) });
    runtimes.set(id, rt);
    return rt;
  };
  /** When the runtime logged, after `since`, that it took a partition (its own clock: this host's). */
  const tookAgainAt = (rt: RuntimeProcess, since: number): number | undefined => rt.logs()
    .filter((r) => r['msg'] === 'took a partition')
    .map((r) => Date.parse(String(r['time'])))
    .find((t) => t > since);

  const status = async (): Promise<RuntimeStatus[]> => {
    const res = await env.cli(['status', '--json']);
    expect(res.code, res.stderr).toBe(0);
    return (JSON.parse(res.stdout) as { runtimes: RuntimeStatus[] }).runtimes;
  };

  /** Per live runtime, the partitions of the recipe it holds; undefined until every partition has exactly one holder among `ids`. */
  const spread = async (ids: readonly string[]): Promise<Map<string, number[]> | undefined> => {
    const live = (await status()).filter((r) => ids.includes(r.id));
    if (live.length !== ids.length) return undefined;
    const held = new Map(live.map((r) => [r.id, r.partitions?.[env.name] ?? []]));
    const all = [...held.values()].flat().sort((a, b) => a - b);
    if (all.join() !== Array.from({ length: PARTITIONS }, (_, p) => p).join()) return undefined;
    return held;
  };

  /** A spread that two reads a heartbeat period apart (TTL/5, and some) agree on. */
  const stableSpread = async (ids: readonly string[]): Promise<Map<string, number[]>> => {
    for (;;) {
      const first = await waitFor('a spread', () => spread(ids), 30_000, 100);
      await new Promise((r) => setTimeout(r, TTL_MS / 5 + 500));
      const second = await spread(ids);
      if (second && JSON.stringify([...second]) === JSON.stringify([...first])) return second;
    }
  };

  const expectEven = (held: Map<string, number[]>): void => {
    const counts = [...held.values()].map((ps) => ps.length);
    expect(Math.max(...counts) - Math.min(...counts), JSON.stringify([...held])).toBeLessThanOrEqual(1);
  };

  const settled = async (): Promise<void> => {
    let last = '';
    await waitFor('verify clean', async () => {
      const res = await env.cli(['verify', env.name]);
      last = res.stdout + res.stderr;
      return res.code === 0 && res.stdout.includes('clean: the table equals Redis');
    }, 90_000, 1000).catch((err: unknown) => {
      throw new Error(`${String(err)}\n${last}`);
    });
    expect(await diffTable(env, MAPPINGS)).toEqual([]);
  };

  beforeAll(async () => {
    await env.db.query(`DROP TABLE IF EXISTS \`${env.table}\``);
    await env.db.query(`CREATE TABLE \`${env.table}\` (id VARCHAR(64) COLLATE utf8mb4_nopad_bin PRIMARY KEY, first VARCHAR(64), age INT)`);
    await env.tuneCredentials();
    const first = await start('a');
    await start('b');
    await start('c');
    // The database address comes from each runtime's environment: its own proxy.
    const file = join(env.dir, 'many.ts');
    writeFileSync(file, `import { configGet, MySqlConnection, MySqlConnector, writeBehind } from 'wbsync';
const connection = new MySqlConnection(() => configGet('MySqlUser'), () => configGet('MySqlPassword'), '127.0.0.1:' + (process.env['WB_TEST_DB_PORT'] ?? '${MYSQL.port}') + '/test');
export default writeBehind({ name: '${env.name}', version: '1', connector: new MySqlConnector(connection, '${env.table}', 'id'), keysPrefix: '${env.prefix}', mappings: ${JSON.stringify(MAPPINGS)} });
`);
    await env.upload(file, first);
  }, 120_000);

  // A test that failed midway leaves no writer running into the next one.
  afterEach(async () => {
    await Promise.all([...running].map((r) => r.stop()));
  });

  afterAll(async () => {
    await Promise.all([...runtimes.values()].map((rt) => rt.kill9().catch(() => undefined)));
    await Promise.all([...proxies.values()].map((p) => p.close()));
    await env.close();
  });

  it('three runtimes share 20,000 keys written at 2,000 changes/s: every row arrives, partitions spread ±1, one captures', async () => {
    const held = await waitFor('partitions spread over a, b, c', () => spread(['a', 'b', 'c']), 30_000, 250);
    expectEven(held);
    const capturing = (await status()).filter((r) => r.capture);
    expect(capturing.length).toBe(1);
    // Standbys do not subscribe: of the three subscriber connections only the capturer's has patterns.
    const clients = String(await env.redis.client('LIST')).split('\n').filter((l) => / name=wbsync-runtime:[abc]:subscriber /.test(l));
    expect(clients.length).toBe(3);
    const subscribed = clients.filter((l) => !/ psub=0 /.test(l)).map((l) => / name=wbsync-runtime:(\w+):/.exec(l)?.[1]);
    expect(subscribed).toEqual([capturing[0]?.id]);
    // The plain table says the same: one line per runtime with what it holds.
    const table = (await env.cli(['status'])).stdout;
    expect(table).toMatch(/RUNTIME\s+CAPTURE\s+PARTITIONS\s+ROWS\/S/);
    for (const [id, ps] of held) expect(table).toMatch(new RegExp(`^${id}\\s+(yes|-)\\s+${env.name}: ${ps.join(',')}\\s+\\d+$`, 'm'));
    const poller = startPoller(env);
    const load = new CounterLoad(env, 20_000, 2000);
    await waitFor('20,000 keys written', () => load.writes >= 20_000, 60_000, 100);
    await load.stop();
    await settled();
    await poller.stop();
    expect(await env.count()).toBe(20_000);
    expect(poller.regressions).toEqual([]);
    expect(poller.polls).toBeGreaterThan(10);
  }, 180_000);

  it('kill -9 of one of three under load: its partitions resume elsewhere within TTL + 5 s, no row regresses', async () => {
    const poller = startPoller(env);
    const load = new CounterLoad(env, 2000, 1000);
    await new Promise((r) => setTimeout(r, 2000));
    const victim = [...(await status())].find((r) => !r.capture && (r.partitions?.[env.name]?.length ?? 0) > 0)?.id ?? 'c';
    const killedAt = Date.now();
    await runtimes.get(victim)?.kill9();
    runtimes.delete(victim);
    const rest = [...runtimes.keys()];
    const held = await waitFor('the victim\'s partitions taken over', () => spread(rest), TTL_MS + 10_000, 100);
    const took = Date.now() - killedAt;
    console.log(`kill -9 of ${victim}: its partitions held elsewhere after ${took} ms (TTL ${TTL_MS} ms)`);
    expect(took).toBeLessThanOrEqual(TTL_MS + 5000);
    // Whichever runtime saw the leases expire first may take more than its share at first (CI
    // once saw 6 and 2 at the takeover); the next lease rounds even it out.
    const even = (h: Map<string, number[]>): boolean => Math.max(...[...h.values()].map((p) => p.length)) - Math.min(...[...h.values()].map((p) => p.length)) <= 1;
    await waitFor('the partitions spread evenly over the two left', async () => {
      const h = await spread(rest);
      return h !== undefined && even(h);
    }, 10_000, 250).catch(async (err: unknown) => {
      throw new Error(`${String(err)}: ${JSON.stringify([...((await spread(rest)) ?? held)])}`);
    });
    await new Promise((r) => setTimeout(r, 2000));
    await load.stop();
    await settled();
    await poller.stop();
    expect(poller.regressions).toEqual([]);
    await start(victim);
    await waitFor('spread over three again', () => spread([...runtimes.keys()]), 30_000, 250);
  }, 180_000);

  for (const frozenDb of [false, true]) {
    it(`SIGSTOP of a partition owner past its lease TTL under load${frozenDb ? ', its database frozen meanwhile' : ''}, then SIGCONT: it commits nothing after its deadline, says it lost its leases, no row regresses`, async () => {
      const poller = startPoller(env);
      const load = new CounterLoad(env, 2000, 1000);
      await new Promise((r) => setTimeout(r, 1000));
      const victim = [...(await status())].find((r) => !r.capture && (r.partitions?.[env.name]?.length ?? 0) > 0)?.id as string;
      expect(victim).toBeDefined();
      const rt = runtimes.get(victim) as RuntimeProcess;
      const proxy = proxies.get(victim) as TcpProxy;
      // With the database frozen first, a batch of the victim's is left hanging on its way.
      if (frozenDb) {
        proxy.freeze();
        await new Promise((r) => setTimeout(r, 500));
      }
      const stoppedAt = Date.now();
      process.kill(rt.pid as number, 'SIGSTOP');
      let wokeAt = 0;
      try {
        const others = [...runtimes.keys()].filter((id) => id !== victim);
        await waitFor('the stopped runtime\'s partitions taken over', () => spread(others), TTL_MS + 10_000, 100);
        await new Promise((r) => setTimeout(r, 2000));
        // The database answers again while the victim still sleeps: what it sent before its
        // deadline arrives now, after the new owners' fresher writes, and must not commit.
        if (frozenDb) {
          proxy.thaw();
          await new Promise((r) => setTimeout(r, 1500));
        }
      } finally {
        wokeAt = Date.now();
        process.kill(rt.pid as number, 'SIGCONT');
      }
      await waitFor('the woken runtime logs it lost a lease', () => rt.hasLog((r) => String(r['msg']).startsWith('lost the lease of a partition') && Date.parse(String(r['time'])) >= wokeAt), 20_000, 100);
      await waitFor('spread over three again', () => spread([...runtimes.keys()]), 30_000, 250);
      // Its deadline was at most TTL - margin after its last renewal, which came before the stop;
      // it writes again only once it holds a partition under a new lease.
      const deadline = stoppedAt + TTL_MS - MARGIN_MS;
      const regained = tookAgainAt(rt, wokeAt) as number;
      expect(regained).toBeGreaterThan(wokeAt);
      const late = (writesAt.get(victim) ?? []).filter((w) => w.t > deadline && w.t < regained && /^COMMIT/i.test(w.sql));
      // What the check looks at: the victim did commit before its deadline.
      expect((writesAt.get(victim) ?? []).some((w) => w.t < deadline && /^COMMIT/i.test(w.sql))).toBe(true);
      expect(late.map((w) => `${w.t - deadline} ms after its deadline (woke ${wokeAt - deadline} ms after it): ${w.sql}`)).toEqual([]);
      await load.stop();
      await settled();
      await poller.stop();
      expect(poller.regressions).toEqual([]);
    }, 180_000);
  }

  it('a rolling restart of all three under load (SIGTERM, start again, one at a time) loses nothing; each handover takes under 2 s', async () => {
    const poller = startPoller(env);
    const load = new CounterLoad(env, 2000, 1000);
    for (const id of [...runtimes.keys()]) {
      const rt = runtimes.get(id) as RuntimeProcess;
      // What it holds, from heartbeats that agree over a heartbeat period: one read alone can be a
      // moment of the rebalance after the previous restart (a partition already handed over,
      // its heartbeat not rewritten yet).
      const had = (await stableSpread([...runtimes.keys()])).get(id) ?? [];
      expect(had.length).toBeGreaterThan(0);
      const stoppingAt = Date.now();
      expect(await rt.stop()).toBe(0);
      // From its exit (its in-flight batches written, its leases released) to the others holding
      // each of its partitions, by the others' own log lines (this host's clock).
      const exitedAt = Date.now();
      runtimes.delete(id);
      await waitFor(`${id}'s partitions handed over`, () => spread([...runtimes.keys()]), 10_000, 50);
      const tookAt = had.map((p) => Math.min(...[...runtimes.values()].flatMap((o) => o.logs()
        .filter((r) => r['msg'] === 'took a partition' && r['recipe'] === env.name && r['partition'] === p)
        .map((r) => Date.parse(String(r['time'])))
        .filter((t) => t >= stoppingAt))));
      const handover = Math.max(...tookAt) - exitedAt;
      console.log(`SIGTERM of ${id}: its ${had.length} partitions taken by the others ${handover} ms after its exit (its stop took ${exitedAt - stoppingAt} ms)`);
      expect(handover).toBeLessThan(2000);
      expect((await status()).filter((r) => r.capture).length).toBe(1);
      await start(id);
      await waitFor('spread over three again', () => spread([...runtimes.keys()]), 30_000, 250);
    }
    await load.stop();
    await settled();
    await poller.stop();
    expect(poller.regressions).toEqual([]);
    // A graceful handover of capture needs no reconcile: only the first start reconciled.
    const reconciles = [...runtimes.values()].flatMap((rt) => rt.logs().filter((r) => r['msg'] === 'reconciled' && r['reason'] === 'capture taken over'));
    expect(reconciles).toEqual([]);
  }, 240_000);

  it('a fourth runtime joins under load and holds its share within 10 s', async () => {
    const load = new CounterLoad(env, 2000, 1000);
    const joinedAt = Date.now();
    await start('d');
    const held = await waitFor('d holds its share', async () => {
      const s = await spread([...runtimes.keys()]);
      return s && (s.get('d')?.length ?? 0) >= Math.floor(PARTITIONS / runtimes.size) ? s : undefined;
    }, 10_000, 100);
    console.log(`d joined: holds its share ${Date.now() - joinedAt} ms after its start`);
    expect(Date.now() - joinedAt).toBeLessThanOrEqual(10_000);
    expectEven(held);
    await load.stop();
    await settled();
  }, 120_000);
});

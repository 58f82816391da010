import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseHttp } from '../../runtime/http/server.ts';
import { MYSQL, TestEnv } from '../helpers/env.ts';
import { startRuntime, type RuntimeProcess } from '../helpers/processes.ts';
import { freePort } from '../helpers/redis-server.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';
import { waitFor } from '../helpers/wait.ts';

/** One sample's value from Prometheus text: `name{labels} value`, labels matched as given. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return 0;
}

describe('wb-runtime --http: /metrics, /healthz, /readyz', () => {
  const env = new TestEnv();
  const port = freePort();
  const base = `http://127.0.0.1:${port}`;
  let proxy: TcpProxy;
  let rt: RuntimeProcess;
  const get = async (path: string) => {
    const res = await fetch(`${base}${path}`);
    return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text() };
  };
  const metrics = async () => (await get('/metrics')).body;
  const recipe = { recipe: env.name };

  beforeAll(async () => {
    proxy = await TcpProxy.start(MYSQL.host, MYSQL.port);
    await env.createTable();
    await env.tuneCredentials();
    rt = await startRuntime(env.runtimeArgs(['--http', `127.0.0.1:${port}`, '--retry-max-ms', '500']));
    await env.upload(env.writeRecipe({ version: '1', dbAddress: { host: '127.0.0.1', port: proxy.port } }), rt);
    await env.reconciled();
  });

  afterAll(async () => {
    await rt.stop();
    await proxy.close();
    await env.close();
  });

  it('/healthz answers; /metrics is Prometheus text, wbsync_-prefixed, with HELP on every metric', async () => {
    expect(await get('/healthz')).toMatchObject({ status: 200, body: '{"status":"ok"}\n' });
    const m = await get('/metrics');
    expect(m.status).toBe(200);
    expect(m.type).toContain('text/plain');
    const types = [...m.body.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((x) => [x[1] as string, x[2] as string]);
    const helps = new Set([...m.body.matchAll(/^# HELP (\S+) .+$/gm)].map((x) => x[1]));
    expect(types.length).toBeGreaterThan(15);
    for (const [name, type] of types) {
      expect(name).toMatch(/^wbsync_/);
      expect(helps.has(name)).toBe(true);
      if (type === 'counter') expect(name).toMatch(/_total$/);
    }
    expect(sample(m.body, 'wbsync_recipe_info', { recipe: env.name, version: '1', state: 'loaded' })).toBe(1);
    expect(m.body).toContain('wbsync_process_cpu_seconds_total');
    expect((await get('/nope')).status).toBe(404);
    // status names where each runtime serves its page.
    expect((await env.cli(['status'])).stdout).toContain(`http://127.0.0.1:${port}/`);
  });

  it('1,000 changes to 1,000 new keys: captured, rows and the lag histogram each rise by 1,000', async () => {
    const before = await metrics();
    const captured0 = sample(before, 'wbsync_changes_captured_total', recipe);
    const rows0 = sample(before, 'wbsync_rows_written_total', { ...recipe, op: 'upsert' });
    const lag0 = sample(before, 'wbsync_sync_lag_seconds_count', recipe);
    const p = env.redis.pipeline();
    for (let i = 0; i < 1000; i++) p.hset(`${env.prefix}:m${i}`, 'first_name', `n${i}`);
    await p.exec();
    await waitFor('1,000 rows', async () => (await env.count()) === 1000, 30_000);
    await waitFor('the lag of 1,000 records observed', async () => sample(await metrics(), 'wbsync_sync_lag_seconds_count', recipe) - lag0 >= 1000, 10_000);
    const after = await metrics();
    expect(sample(after, 'wbsync_changes_captured_total', recipe) - captured0).toBe(1000);
    expect(sample(after, 'wbsync_rows_written_total', { ...recipe, op: 'upsert' }) - rows0).toBe(1000);
    expect(sample(after, 'wbsync_sync_lag_seconds_count', recipe) - lag0).toBe(1000);
    expect(sample(after, 'wbsync_batch_rows_count', recipe)).toBeGreaterThan(0);
    expect(sample(after, 'wbsync_backlog_entries', recipe)).toBe(0);
    // Lag is from the entry's id (Redis's clock) to the commit: well under 10 s here.
    expect(sample(after, 'wbsync_sync_lag_seconds_bucket', { ...recipe, le: '10' }) - lag0).toBe(1000);
  });

  it('a database cut: /readyz 503 naming the recipe, retries rise, the backlog shows; restored: 200 again', async () => {
    expect((await get('/readyz')).status).toBe(200);
    const retries0 = sample(await metrics(), 'wbsync_db_retries_total', { ...recipe, reason: 'connection' });
    proxy.cut();
    await env.redis.hset(`${env.prefix}:cut`, 'first_name', 'During');
    const notReady = await waitFor('/readyz 503', async () => {
      const r = await get('/readyz');
      return r.status === 503 ? r : undefined;
    }, 30_000);
    const body = JSON.parse(notReady.body) as { status: string; problems: Array<{ what: string; recipe?: string; error: string }> };
    expect(body.status).toBe('not ready');
    expect(body.problems).toContainEqual(expect.objectContaining({ what: 'recipe', recipe: env.name, error: expect.stringMatching(/connect failed|write failed/) }));
    await waitFor('retries rising', async () => sample(await metrics(), 'wbsync_db_retries_total', { ...recipe, reason: 'connection' }) > retries0 + 1, 20_000);
    expect(sample(await metrics(), 'wbsync_backlog_entries', recipe)).toBeGreaterThanOrEqual(1);
    proxy.restore();
    await waitFor('the row', () => env.row('cut'), 30_000);
    await waitFor('/readyz 200', async () => (await get('/readyz')).status === 200, 20_000);
  });
});

describe('parseHttp', () => {
  it('takes off, a port, host:port and [v6]:port; refuses the rest', () => {
    expect(parseHttp('off')).toBeUndefined();
    expect(parseHttp('9464')).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(parseHttp('0.0.0.0:80')).toEqual({ host: '0.0.0.0', port: 80 });
    expect(parseHttp('[::1]:9464')).toEqual({ host: '::1', port: 9464 });
    for (const bad of ['', 'x', 'host:', ':9', '70000', 'a:b:c']) expect(() => parseHttp(bad)).toThrow(/--http must be/);
  });
});

import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestEnv } from '../helpers/env.ts';
import { startRuntime, type RuntimeProcess } from '../helpers/processes.ts';
import { freePort } from '../helpers/redis-server.ts';
import { needServer } from '../helpers/required.ts';
import { waitFor } from '../helpers/wait.ts';

// Debian's chromium, driven by puppeteer-core: no browser is downloaded at install. .ci/run
// installs the package when it is missing.
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const SHOTS = fileURLToPath(new URL('../../test-results/', import.meta.url));

describe('the status page, in a real headless browser', () => {
  const env = new TestEnv();
  const port = freePort();
  let rt: RuntimeProcess;

  beforeAll(async () => {
    await env.createTable();
    await env.tuneCredentials();
    rt = await startRuntime(env.runtimeArgs(['--http', `127.0.0.1:${port}`, '--history-every-ms', '300']));
    await env.upload(env.writeRecipe({ version: '1' }), rt);
    await env.reconciled();
  });

  afterAll(async () => {
    await rt.stop();
    await env.close();
  });

  it('charts lag and rows/s as changes arrive, with no console error, and saves a screenshot', async (ctx) => {
    if (CHROMIUM === undefined) needServer(ctx, 'chromium (Debian package chromium) is not installed');
    const { launch } = await import('puppeteer-core');
    const browser = await launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
    try {
      const page = await browser.newPage();
      await page.setViewport({ width: 390, height: 844, deviceScaleFactor: 1 }); // a phone
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(m.text());
      });
      page.on('pageerror', (e) => problems.push(String(e)));
      page.on('requestfailed', (r) => problems.push(`${r.url()}: ${r.failure()?.errorText ?? 'failed'}`));
      // Changes over a few seconds, so that several samples carry rows and lag.
      for (let round = 0; round < 6; round++) {
        const p = env.redis.pipeline();
        for (let i = 0; i < 200; i++) p.hset(`${env.prefix}:${round}-${i}`, 'first_name', `n${i}`, 'age', String(i));
        await p.exec();
        await new Promise((r) => setTimeout(r, 400));
      }
      await waitFor('1,200 rows', async () => (await env.count()) === 1200, 30_000);
      await page.goto(`http://127.0.0.1:${port}/`, { waitUntil: 'networkidle0' });
      // The page refreshes every 5 s; wait until its charts hold points with rows and lag.
      await waitFor('charts with points', async () => {
        await page.reload({ waitUntil: 'networkidle0' });
        return page.evaluate(() => {
          const s = (window as unknown as { wbsync: { points: number; charts: Record<string, { data: Array<Array<number | null>> }> } }).wbsync;
          const rows = Object.entries(s.charts).find(([k]) => k.endsWith(':rows'))?.[1];
          const lag = Object.entries(s.charts).find(([k]) => k.endsWith(':lag'))?.[1];
          return s.points > 0 && Boolean(rows?.data[1]?.some((v) => (v ?? 0) > 0)) && Boolean(lag?.data[2]?.some((v) => v !== null));
        });
      }, 20_000, 500);
      const text = await page.evaluate(() => document.body.innerText);
      expect(text).toContain(env.name);
      expect(text).toContain('loaded');
      expect(text).toMatch(/synced\s+1,200/);
      expect(text).toContain(`rt-${env.id}`);
      // What the runtime holds: the capture lease and every partition of the recipe.
      const held = await page.$eval('#runtimes tr', (tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent));
      expect(held.slice(4, 6)).toEqual(['yes', `${env.name}: 0,1,2,3,4,5,6,7`]);
      expect(await page.$$eval('canvas', (c) => c.length)).toBeGreaterThanOrEqual(2);
      // Readable on a phone: nothing wider than the screen.
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      expect(problems).toEqual([]);
      mkdirSync(SHOTS, { recursive: true });
      await page.screenshot({ path: `${SHOTS}status-page.png`, fullPage: true });
      expect(existsSync(`${SHOTS}status-page.png`)).toBe(true);
    } finally {
      await browser.close();
    }
  }, 90_000);

  it('serves its chart library itself and its data as JSON, with no secret in it', async () => {
    const lib = await fetch(`http://127.0.0.1:${port}/assets/uPlot.iife.min.js`);
    expect(lib.status).toBe(200);
    expect((await lib.text()).length).toBeGreaterThan(10_000);
    const api = (await (await fetch(`http://127.0.0.1:${port}/api/status`)).json()) as { recipes: Array<{ name: string; history: unknown[] }> };
    expect(api.recipes.find((r) => r.name === env.name)?.history.length).toBeGreaterThan(0);
    const params = await env.redis.hgetall(`${env.ns}:params`);
    const body = JSON.stringify(api);
    for (const v of Object.values(params)) if (v.length >= 4) expect(body).not.toContain(v);
  });

  it('keeps the hour of history in Redis: a restarted runtime serves it again', async () => {
    const before = await env.redis.xlen(`${env.ns}:history:${env.name}`);
    expect(before).toBeGreaterThan(0);
    await rt.stop();
    rt = await startRuntime(env.runtimeArgs(['--http', `127.0.0.1:${port}`, '--history-every-ms', '300']));
    const api = (await (await fetch(`http://127.0.0.1:${port}/api/status`)).json()) as { recipes: Array<{ name: string; history: unknown[] }> };
    expect(api.recipes.find((r) => r.name === env.name)?.history.length).toBeGreaterThanOrEqual(before);
  });
});

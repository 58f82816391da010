import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diffTable } from '../helpers/compare.ts';
import { MYSQL, TestEnv } from '../helpers/env.ts';
import type { RuntimeProcess } from '../helpers/processes.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';
import { BackgroundWriter, expectVerifyClean } from '../helpers/verify.ts';
import { waitFor } from '../helpers/wait.ts';

const MAPPINGS = { first_name: 'first', last_name: 'last', age: 'age' };

// The outage is made by a proxy this test owns between the runtime and MariaDB: the machine's
// MariaDB keeps running (other tests and people share it), and the test's own checks use it directly.
describe('MariaDB unreachable for 30 s while a writer keeps writing', () => {
  const env = new TestEnv();
  let proxy: TcpProxy;
  let rt: RuntimeProcess;

  beforeAll(async () => {
    proxy = await TcpProxy.start(MYSQL.host, MYSQL.port);
    rt = await env.startWithRecipe({ version: '1', mappings: MAPPINGS, dbAddress: { host: '127.0.0.1', port: proxy.port } });
  });

  afterAll(async () => {
    await rt?.stop();
    await proxy?.close();
    await env.close();
  });

  it('loses nothing', async () => {
    const writer = new BackgroundWriter(env, 2000);
    await waitFor('rows arriving', async () => (await env.count()) > 100);
    proxy.cut();
    const downAt = Date.now();
    await waitFor('the runtime reports the outage', async () => {
      const s = JSON.parse((await env.cli(['status', env.name, '--json'])).stdout).recipes[0];
      return s.error !== null && s.backlog > 0;
    });
    await new Promise((r) => setTimeout(r, Math.max(0, 30_000 - (Date.now() - downAt))));
    // Restored before verifying: `wb-cli verify` connects with the recipe's address, the proxy's.
    proxy.restore();
    await new Promise((r) => setTimeout(r, 2000));
    await writer.stop();
    console.log(`MariaDB outage: ${writer.acknowledged} acknowledged HSETs, ${Math.round((Date.now() - downAt) / 1000)} s since the cut`);
    await expectVerifyClean(env, 90_000);
    const s = JSON.parse((await env.cli(['status', env.name, '--json'])).stdout).recipes[0];
    expect(s).toMatchObject({ error: null, deadLetters: 0, backlog: 0 });
    expect(s.failures).toBeGreaterThan(0);
    // And key for key against Redis itself, straight to MariaDB, not only through wb-cli verify.
    expect(await diffTable(env, MAPPINGS)).toEqual([]);
    expect(await env.count()).toBeGreaterThan(1000);
  });
});

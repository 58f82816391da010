import { execSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestEnv } from '../helpers/env.ts';
import type { RuntimeProcess } from '../helpers/processes.ts';
import { BackgroundWriter, expectVerifyClean } from '../helpers/verify.ts';
import { waitFor } from '../helpers/wait.ts';

const mariadbUp = (): boolean => {
  try {
    execSync('mysqladmin -h 127.0.0.1 -uroot ping', { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

describe('MariaDB stopped for 30 s while a writer keeps writing', () => {
  const env = new TestEnv();
  let rt: RuntimeProcess;

  beforeAll(async () => {
    rt = await env.startWithRecipe();
  });

  afterAll(async () => {
    if (!mariadbUp()) execSync('start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd');
    await waitFor('MariaDB back', mariadbUp, 60_000, 500);
    await rt.stop();
    await env.close();
  });

  it('loses nothing', async () => {
    const writer = new BackgroundWriter(env, 2000);
    await waitFor('rows arriving', async () => (await env.count()) > 100);
    execSync('mysqladmin -h 127.0.0.1 -uroot shutdown');
    await waitFor('MariaDB down', () => !mariadbUp(), 30_000, 200);
    const downAt = Date.now();
    await waitFor('the runtime reports the outage', async () => {
      const s = JSON.parse((await env.cli(['status', env.name, '--json'])).stdout).recipes[0];
      return s.error !== null && s.backlog > 0;
    });
    await new Promise((r) => setTimeout(r, Math.max(0, 30_000 - (Date.now() - downAt))));
    execSync('start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd');
    await waitFor('MariaDB up', mariadbUp, 60_000, 500);
    await new Promise((r) => setTimeout(r, 2000));
    await writer.stop();
    console.log(`MariaDB outage: ${writer.acknowledged} acknowledged HSETs, ${Math.round((Date.now() - downAt) / 1000)} s since the stop`);
    await expectVerifyClean(env, 90_000);
    const s = JSON.parse((await env.cli(['status', env.name, '--json'])).stdout).recipes[0];
    expect(s).toMatchObject({ error: null, deadLetters: 0, backlog: 0 });
    expect(s.failures).toBeGreaterThan(0);
  });
});

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { TestEnv } from '../helpers/env.ts';
import { startRuntime } from '../helpers/processes.ts';

const BIN = fileURLToPath(new URL('../../bin/wb-runtime.js', import.meta.url));

describe('one runtime per namespace', () => {
  const env = new TestEnv();
  afterAll(() => env.close());

  it('a second runtime with another id is refused with a clear message', async () => {
    const first = await startRuntime(env.runtimeArgs());
    try {
      const second = spawn(process.execPath, [BIN, ...env.flags, '--id', `other-${env.id}`], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      second.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const code = await new Promise<number | null>((resolve) => second.on('exit', resolve));
      expect(code).toBe(1);
      expect(out).toContain(`namespace '${env.ns}' is already served by runtime 'rt-${env.id}'`);
      expect(out).toContain('run one runtime per namespace');
    } finally {
      expect(await first.stop()).toBe(0);
    }
  }, 60_000);
});

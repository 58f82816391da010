import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { waitFor } from './wait.ts';

/** A redis-server owned by one test (its own port and folder), which it may kill and restart. */
export class TestRedis {
  readonly port: number;
  private readonly args: readonly string[];
  readonly dir = mkdtempSync(join(tmpdir(), 'wbsync-redis-'));
  private child: ChildProcess | undefined;

  constructor(
    port: number,
    args: readonly string[] = [],
  ) {
    this.port = port;
    this.args = args;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', ...this.args], { stdio: 'ignore' });
    const probe = new Redis(this.url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    probe.on('error', () => undefined);
    await waitFor(`redis-server on ${this.port}`, async () => {
      await probe.connect().catch(() => undefined);
      return (await probe.ping().catch(() => '')) === 'PONG';
    }, 15_000);
    probe.disconnect();
  }

  async kill9(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    await this.kill9();
  }
}

/** A port unlikely to clash with anything else on the machine. */
export function freePort(): number {
  return 20_000 + Math.floor(Math.random() * 20_000);
}

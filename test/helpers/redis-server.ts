import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import type { TlsFiles } from './tls.ts';
import { waitFor } from './wait.ts';

/** TLS for a TestRedis: the server's files, and a client's (for the probe and `clientOptions`). */
export interface TestRedisTls {
  readonly server: TlsFiles;
  readonly client: TlsFiles;
}

/**
 * A redis-server owned by one test (its own port and folder), which it may kill and restart.
 * With `tls`, it listens only with TLS on `port` (`--port 0 --tls-port <port>`) and requires a
 * client certificate signed by the server's CA (`--tls-auth-clients yes`).
 */
export class TestRedis {
  readonly port: number;
  private readonly args: readonly string[];
  private readonly tls: TestRedisTls | undefined;
  readonly dir = mkdtempSync(join(tmpdir(), 'wbsync-redis-'));
  private child: ChildProcess | undefined;

  constructor(
    port: number,
    args: readonly string[] = [],
    tls?: TestRedisTls,
  ) {
    this.port = port;
    this.args = args;
    this.tls = tls;
  }

  get url(): string {
    return `${this.tls ? 'rediss' : 'redis'}://127.0.0.1:${this.port}`;
  }

  /** What an ioredis client needs besides `url` to reach this server (the client's TLS files). */
  get clientOptions(): RedisOptions {
    if (!this.tls) return {};
    const { ca, cert, key } = this.tls.client;
    return { tls: { ca: readFileSync(ca), cert: readFileSync(cert), key: readFileSync(key) } };
  }

  private listenArgs(): string[] {
    if (!this.tls) return ['--port', String(this.port)];
    const { ca, cert, key } = this.tls.server;
    return ['--port', '0', '--tls-port', String(this.port), '--tls-cert-file', cert, '--tls-key-file', key, '--tls-ca-cert-file', ca, '--tls-auth-clients', 'yes'];
  }

  async start(): Promise<void> {
    this.child = spawn('redis-server', [...this.listenArgs(), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', ...this.args], { stdio: 'ignore' });
    // A server started with a password (`--requirepass`) is probed with it.
    const pw = this.args.indexOf('--requirepass');
    const password = pw >= 0 ? this.args[pw + 1] : undefined;
    const probe = new Redis(this.url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, ...(password === undefined ? {} : { password }), ...this.clientOptions });
    probe.on('error', () => undefined);
    const child = this.child;
    await waitFor(`redis-server on ${this.port}`, async () => {
      if (child.exitCode !== null) throw new Error(`redis-server on ${this.port} exited with ${child.exitCode} (port taken?)`);
      await probe.connect().catch(() => undefined);
      return (await probe.ping().catch(() => '')) === 'PONG';
    }, 15_000);
    probe.disconnect();
  }

  async kill9(): Promise<void> {
    const child = this.child;
    // Gone already (killed before: its exit code stays null, its signal is set).
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
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
  // Below Linux's ephemeral range (32768 and up), where outgoing sockets of this very suite
  // could already hold the port and make the server fail to bind.
  return 20_000 + Math.floor(Math.random() * 12_000);
}

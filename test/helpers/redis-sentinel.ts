import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import { keepConnected } from '../../runtime/redis/connect.ts';
import { freePort, TestRedis, type TestRedisTls } from './redis-server.ts';
import { waitFor } from './wait.ts';

/** The name the sentinels monitor the master under. */
export const SENTINEL_MASTER = 'wbmaster';

/** Options of a TestSentinel. */
export interface TestSentinelOptions {
  /**
   * Everything over TLS only, with client certificates required: the master, the replica and
   * the sentinels listen with TLS alone (`port 0`, `tls-port`), replication and the sentinels'
   * links to the servers and to each other use TLS (`tls-replication yes`) with `client`'s
   * certificate, and the helper's own connections use `client`'s files too.
   */
  readonly tls?: TestRedisTls;
}

/**
 * A Redis Sentinel setup owned by one test: a master, one replica and three sentinels, each on a
 * port of its own. The sentinels declare the master down after a second, so a killed master is
 * replaced by its replica within a few seconds.
 */
export class TestSentinel {
  readonly master: TestRedis;
  readonly replica: TestRedis;
  readonly sentinelPorts: number[];
  private readonly tls: TestRedisTls | undefined;
  private readonly sentinels: ChildProcess[] = [];
  private readonly dir = mkdtempSync(join(tmpdir(), 'wbsync-sentinel-'));

  constructor(opts: TestSentinelOptions = {}) {
    this.tls = opts.tls;
    const base = freePort();
    // No 5 s wait before a full sync (the default for diskless replication), on either side: the
    // replica syncs from the master now, and the master from the replica once they swap.
    const sync = ['--repl-diskless-sync-delay', '0'];
    // With TLS, replication goes over TLS too, each side presenting the client certificate (the
    // server's is for serverAuth only, which a server checking a client refuses).
    const repl = this.tls ? ['--tls-replication', 'yes', '--tls-client-cert-file', this.tls.client.cert, '--tls-client-key-file', this.tls.client.key] : [];
    this.master = new TestRedis(base, [...sync, ...repl], this.tls);
    this.replica = new TestRedis(base + 1, [...sync, ...repl, '--replicaof', '127.0.0.1', String(base)], this.tls);
    this.sentinelPorts = [base + 2, base + 3, base + 4];
  }

  /** `--sentinel host:port,…` for the bins. */
  get addresses(): string {
    return this.sentinelPorts.map((p) => `127.0.0.1:${p}`).join(',');
  }

  /** The bins' connection flags (with TLS: `--tls` and the client's files as well). */
  get flags(): string[] {
    return ['--sentinel', this.addresses, '--sentinel-master', SENTINEL_MASTER, ...this.tlsFlags];
  }

  /** With TLS: `--tls --tls-ca … --tls-cert … --tls-key …` (the client's files); else nothing. */
  get tlsFlags(): string[] {
    if (!this.tls) return [];
    const { ca, cert, key } = this.tls.client;
    return ['--tls', '--tls-ca', ca, '--tls-cert', cert, '--tls-key', key];
  }

  /** What a direct connection to one of the servers or sentinels needs (the client's TLS files). */
  private get direct(): RedisOptions {
    if (!this.tls) return {};
    const { ca, cert, key } = this.tls.client;
    return { tls: { ca: readFileSync(ca), cert: readFileSync(cert), key: readFileSync(key) } };
  }

  /** A client that follows the master through failovers, as the bins do. */
  client(): Redis {
    // With TLS, as the bins set it up: the master, the replicas and the sentinels with the same files.
    const tls: RedisOptions = this.tls ? { tls: this.direct.tls, sentinelTLS: this.direct.tls, enableTLSForSentinelMode: true } : {};
    const c = new Redis({ sentinels: this.sentinelPorts.map((port) => ({ host: '127.0.0.1', port })), name: SENTINEL_MASTER, maxRetriesPerRequest: null, failoverDetector: true, ...tls });
    c.on('error', () => undefined);
    // ioredis ends such a client for good when its failover detector closes it while it is still
    // asking the sentinels for the master (around a kill -9): it is connected again, as the bins'
    // connections are, until the test disconnects it itself.
    let closed = false;
    const disconnect = c.disconnect.bind(c);
    c.disconnect = (reconnect = false) => {
      if (!reconnect) closed = true;
      disconnect(reconnect);
    };
    keepConnected(c, () => !closed, () => undefined, 200);
    return c;
  }

  /** The lines of a sentinel's config that make it listen, and reach the others, with TLS. */
  private sentinelTlsConf(port: number): string[] {
    if (!this.tls) return [`port ${port}`];
    const { server, client } = this.tls;
    return [
      'port 0',
      `tls-port ${port}`,
      `tls-cert-file ${server.cert}`,
      `tls-key-file ${server.key}`,
      `tls-ca-cert-file ${server.ca}`,
      // The certificate it presents as a client (to the master, the replica, the other sentinels).
      `tls-client-cert-file ${client.cert}`,
      `tls-client-key-file ${client.key}`,
      'tls-auth-clients yes',
      // Its links to the servers and to the other sentinels are TLS too, and it announces its
      // tls-port to the other sentinels.
      'tls-replication yes',
    ];
  }

  async start(): Promise<void> {
    await this.master.start();
    await this.replica.start();
    const replica = new Redis({ port: this.replica.port, host: '127.0.0.1', maxRetriesPerRequest: 0, ...this.direct });
    try {
      await waitFor('the replica in sync', async () => (await replica.info('replication')).includes('master_link_status:up'), 30_000, 100);
    } finally {
      replica.disconnect();
    }
    for (const port of this.sentinelPorts) {
      const conf = join(this.dir, `sentinel-${port}.conf`);
      writeFileSync(conf, [
        ...this.sentinelTlsConf(port),
        'bind 127.0.0.1',
        `dir ${this.dir}`,
        `sentinel monitor ${SENTINEL_MASTER} 127.0.0.1 ${this.master.port} 2`,
        `sentinel down-after-milliseconds ${SENTINEL_MASTER} 1000`,
        `sentinel failover-timeout ${SENTINEL_MASTER} 5000`,
        `sentinel parallel-syncs ${SENTINEL_MASTER} 1`,
        '',
      ].join('\n'));
      this.sentinels.push(spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' }));
    }
    // Ready once every sentinel knows the replica and the two other sentinels (a failover needs
    // a majority of them to agree).
    const probes = this.sentinelPorts.map((port) => {
      const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => 200, ...this.direct });
      r.on('error', () => undefined);
      return r;
    });
    try {
      await waitFor('sentinels know the replica and each other', async () => {
        for (const p of probes) {
          const replicas = (await p.call('SENTINEL', 'REPLICAS', SENTINEL_MASTER).catch(() => [])) as unknown[];
          const others = (await p.call('SENTINEL', 'SENTINELS', SENTINEL_MASTER).catch(() => [])) as unknown[];
          if (replicas.length < 1 || others.length < 2) return false;
        }
        return true;
      }, 30_000, 200);
    } finally {
      for (const p of probes) p.disconnect();
    }
  }

  /** The address the sentinels give for the master now. */
  async masterPort(): Promise<number> {
    const r = new Redis({ port: this.sentinelPorts[0], host: '127.0.0.1', maxRetriesPerRequest: 0, ...this.direct });
    try {
      const [, port] = (await r.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', SENTINEL_MASTER)) as [string, string];
      return Number(port);
    } finally {
      r.disconnect();
    }
  }

  async stop(): Promise<void> {
    for (const s of this.sentinels) s.kill('SIGKILL');
    await this.master.stop();
    await this.replica.stop();
  }
}

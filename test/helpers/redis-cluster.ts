import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { TestRedis, type TestRedisTls } from './redis-server.ts';
import { waitFor } from './wait.ts';

const run = promisify(execFile);

/**
 * A Redis Cluster owned by one test: `masters` masters with `replicas` replicas each, on
 * consecutive ports, created with `redis-cli --cluster create`. A node timeout of 2 s makes a
 * killed master's replica take over within seconds.
 */
export class TestCluster {
  readonly nodes: TestRedis[];

  /** The password every node requires (`requirepass`, and `masterauth` for its replicas), if any. */
  readonly password: string | undefined;

  /** With TLS: every node listens with TLS only (client certificates required), and the cluster bus and replication go over TLS. */
  readonly tls: TestRedisTls | undefined;

  constructor(masters = 3, replicas = 1, extra: readonly string[] = [], password?: string, tls?: TestRedisTls) {
    this.password = password;
    this.tls = tls;
    const auth = password === undefined ? [] : ['--requirepass', password, '--masterauth', password];
    // Nodes connect to each other (bus, replication) with the client certificate: the server's is
    // for server authentication only, which a node requiring client certificates refuses.
    const overTls = tls === undefined ? [] : ['--tls-cluster', 'yes', '--tls-replication', 'yes', '--tls-client-cert-file', tls.client.cert, '--tls-client-key-file', tls.client.key];
    // Each node also listens on its port + 10000 (the cluster bus): kept below Linux's ephemeral
    // range (32768 and up), where this suite's outgoing sockets could hold it and fail the node.
    const base = 20_000 + Math.floor(Math.random() * 2_700);
    this.nodes = Array.from({ length: masters * (1 + replicas) }, (_, i) => new TestRedis(base + i, [
      '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${base + i}.conf`, '--cluster-node-timeout', '2000', '--appendonly', 'no',
      // Replicas sync at once (not after diskless replication's 5 s wait): a replica that never
      // synced is never promoted.
      '--repl-diskless-sync-delay', '0', ...auth, ...overTls, ...extra,
    ], tls));
    this.replicas = replicas;
  }

  private readonly replicas: number;

  get ports(): number[] {
    return this.nodes.map((n) => n.port);
  }

  async start(): Promise<void> {
    for (const n of this.nodes) await n.start();
    const tlsArgs = this.tls === undefined ? [] : ['--tls', '--cacert', this.tls.client.ca, '--cert', this.tls.client.cert, '--key', this.tls.client.key];
    await run('redis-cli', [...tlsArgs, ...(this.password === undefined ? [] : ['--no-auth-warning', '-a', this.password]), '--cluster', 'create', ...this.ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', String(this.replicas), '--cluster-yes']);
    for (const port of this.ports) {
      const r = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0, ...(this.password === undefined ? {} : { password: this.password }), ...(this.nodes[0]?.clientOptions ?? {}) });
      try {
        await waitFor(`cluster_state:ok on ${port}`, async () => (await r.call('CLUSTER', 'INFO') as string).includes('cluster_state:ok'), 30_000, 200);
        // A replica counts once it has synced with its master.
        await waitFor(`node ${port} in sync`, async () => {
          const info = await r.info('replication');
          return info.includes('role:master') || info.includes('master_link_status:up');
        }, 30_000, 100);
      } finally {
        r.disconnect();
      }
    }
  }

  async stop(): Promise<void> {
    for (const n of this.nodes) await n.stop();
  }
}

import { createServer, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MasterSubscriptions } from '../../runtime/capture/master-subscriptions.ts';
import type { ClusterMaster } from '../../runtime/redis/cluster.ts';

// Around a failover a lagging node can still name a master that is dead. Listening there must
// not hold the topology up: before, the subscription's PSUBSCRIBE waited for ever, every later
// read of the topology waited on it, and the promoted replica was never listened to.

/** A node that answers INFO and CLUSTER SLOTS (naming `master` for every slot), and nothing else. */
function fakeNode(master: () => number): Server {
  const bulk = (s: string): string => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
  return track(createServer((socket: Socket) => {
    socket.on('data', (d: Buffer) => {
      // One reply per command (RESP arrays: `*<n>`), in order.
      for (const command of d.toString().toUpperCase().split(/^\*\d+\r\n/m).filter(Boolean)) {
        if (command.includes('SLOTS')) socket.write(`*1\r\n*3\r\n:0\r\n:16383\r\n*3\r\n${bulk('127.0.0.1')}:${master()}\r\n${bulk('dead-master')}`);
        else if (command.includes('INFO')) socket.write(bulk('# Server\r\nloading:0\r\n'));
        else socket.write('-ERR not here\r\n');
      }
    });
    socket.on('error', () => undefined);
  }));
}

/** A node that accepts connections and never answers (a frozen or dying master). */
function silentNode(): Server {
  return track(createServer((socket) => socket.on('error', () => undefined)));
}

const sockets = new Set<Socket>();
/** Its sockets are destroyed when the test ends (a silent server's would keep close() waiting). */
function track(server: Server): Server {
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  return server;
}

const listen = (server: Server): Promise<number> => new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));

describe('MasterSubscriptions and a master that does not answer', () => {
  const silent = silentNode();
  let silentPort = 0;
  const seed = fakeNode(() => silentPort);
  let seedPort = 0;

  beforeAll(async () => {
    silentPort = await listen(silent);
    seedPort = await listen(seed);
  });

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((r) => silent.close(r));
    await new Promise((r) => seed.close(r));
  });

  it('gives the listen up within seconds, and reads the topology again', async () => {
    const conns: Redis[] = [];
    const listening: ClusterMaster[] = [];
    const subs = new MasterSubscriptions({
      seeds: [{ host: '127.0.0.1', port: seedPort }],
      open: (host, port) => {
        const conn = new Redis({ host, port, maxRetriesPerRequest: null, lazyConnect: false });
        conn.on('error', () => undefined);
        conns.push(conn);
        return conn;
      },
      log: pino({ level: 'silent' }),
      onEvent: () => undefined,
      onListening: (m) => listening.push(m),
    });
    await subs.psubscribe('__keyspace@0__:p:*');
    const started = Date.now();
    try {
      await subs.start();
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(listening).toStrictEqual([]);
      // The topology is read again, and does not wait on the dead master either.
      const again = Date.now();
      await subs.refresh();
      expect(Date.now() - again).toBeLessThan(10_000);
      expect(subs.masters.map((m) => m.port)).toStrictEqual([silentPort]);
    } finally {
      subs.stop();
      for (const c of conns) c.disconnect();
    }
  }, 30_000);
});

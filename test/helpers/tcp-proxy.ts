import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/** One forwarded connection: the client's socket and the proxy's own to the target. */
interface Pair {
  readonly client: Socket;
  readonly upstream: Socket;
}

/**
 * A TCP proxy on 127.0.0.1 that a test owns: cutting it makes the target look down, without
 * touching the target; freezing it makes the target look hung (every byte held, nothing closed).
 */
export class TcpProxy {
  /** The port it listens on (127.0.0.1). */
  readonly port: number;
  private readonly server: Server;
  private readonly host: string;
  private readonly targetPort: number;
  private readonly open = new Set<Socket>();
  private readonly pairs = new Set<Pair>();
  /** Connections accepted while frozen: not yet forwarded anywhere (the kernel's accept queue). */
  private readonly waiting = new Set<Socket>();
  private down = false;
  private frozen = false;
  /**
   * Called with every chunk a client sends as it is forwarded to the target (after a thaw for
   * what was held): a test records when statements reach the database.
   */
  onClientData: ((chunk: Buffer) => void) | undefined;

  private constructor(server: Server, port: number, host: string, targetPort: number) {
    this.server = server;
    this.port = port;
    this.host = host;
    this.targetPort = targetPort;
  }

  /** Starts a proxy on a free port of 127.0.0.1 that forwards every connection to `host:port`. */
  static async start(host: string, port: number): Promise<TcpProxy> {
    let proxy: TcpProxy | undefined;
    const server = createServer((client) => proxy?.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    proxy = new TcpProxy(server, (server.address() as AddressInfo).port, host, port);
    return proxy;
  }

  private accept(client: Socket): void {
    // Down: reset at once, as a host with nothing listening would (the port stays ours meanwhile).
    if (this.down) return void client.resetAndDestroy();
    client.on('error', () => undefined);
    if (this.frozen) {
      // A stopped proxy process accepts nothing: the client's connect completes (the kernel's
      // backlog) and then hears nothing, not even the server's greeting, until thawed.
      client.pause();
      this.waiting.add(client);
      client.on('close', () => this.waiting.delete(client));
      return;
    }
    this.forward(client);
  }

  private forward(client: Socket): void {
    const upstream = connect(this.targetPort, this.host);
    const pair: Pair = { client, upstream };
    this.pairs.add(pair);
    for (const s of [client, upstream]) {
      this.open.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        this.open.delete(s);
        this.pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', (chunk: Buffer) => this.onClientData?.(chunk));
    client.pipe(upstream);
    upstream.pipe(client);
  }

  /** Makes the target unreachable: resets every open connection (both sides) and every new one until `restore()`. */
  cut(): void {
    this.down = true;
    for (const s of [...this.open, ...this.waiting]) s.resetAndDestroy();
    this.open.clear();
    this.waiting.clear();
    this.pairs.clear();
  }

  /** Forwards new connections again. */
  restore(): void {
    this.down = false;
  }

  /**
   * Stops forwarding bytes in both directions and closes nothing, as a proxy process stopped with
   * SIGSTOP would: what either side sends waits in the socket buffers, new connections are
   * accepted but not forwarded, and the peers see silence rather than an error. `thaw()` resumes.
   */
  freeze(): void {
    this.frozen = true;
    for (const { client, upstream } of this.pairs) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    }
  }

  /** Forwards again what was held (as SIGCONT would), then connects what was accepted meanwhile. */
  thaw(): void {
    this.frozen = false;
    for (const { client, upstream } of this.pairs) {
      client.pipe(upstream);
      upstream.pipe(client);
    }
    for (const client of this.waiting) {
      this.waiting.delete(client);
      if (!client.destroyed) this.forward(client);
    }
  }

  /** Cuts everything and stops listening. */
  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/** A TCP proxy on 127.0.0.1 that a test owns: cutting it makes the target look down, without touching the target. */
export class TcpProxy {
  /** The port it listens on (127.0.0.1). */
  readonly port: number;
  private readonly server: Server;
  private readonly open = new Set<Socket>();
  private down = false;

  private constructor(server: Server, port: number) {
    this.server = server;
    this.port = port;
  }

  /** Starts a proxy on a free port of 127.0.0.1 that forwards every connection to `host:port`. */
  static async start(host: string, port: number): Promise<TcpProxy> {
    let proxy: TcpProxy | undefined;
    const server = createServer((client) => proxy?.accept(client, host, port));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    proxy = new TcpProxy(server, (server.address() as AddressInfo).port);
    return proxy;
  }

  private accept(client: Socket, host: string, port: number): void {
    // Down: reset at once, as a host with nothing listening would (the port stays ours meanwhile).
    if (this.down) return void client.resetAndDestroy();
    const upstream = connect(port, host);
    for (const s of [client, upstream]) {
      this.open.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        this.open.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }

  /** Makes the target unreachable: resets every open connection (both sides) and every new one until `restore()`. */
  cut(): void {
    this.down = true;
    for (const s of this.open) s.resetAndDestroy();
    this.open.clear();
  }

  /** Forwards new connections again. */
  restore(): void {
    this.down = false;
  }

  /** Cuts everything and stops listening. */
  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

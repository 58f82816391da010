import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics/metrics.ts';
import { STATUS_PAGE } from './status-page.ts';

/** `--http`: where the runtime serves /metrics, /healthz and /readyz; undefined is off. */
export interface HttpAddress {
  readonly host: string;
  readonly port: number;
}

/** Parses `--http`: `off`, `<port>` or `<host>:<port>` (IPv6 in brackets: `[::1]:9464`). */
export function parseHttp(value: string): HttpAddress | undefined {
  if (value === 'off') return undefined;
  const m = /^(?:(\[[^\]]+\]|[^:]+):)?(\d+)$/.exec(value);
  const port = Number(m?.[2]);
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--http must be 'off', a port, or host:port (got '${value}')`);
  }
  return { host: (m[1] ?? '127.0.0.1').replace(/^\[|\]$/g, ''), port };
}

/** What /readyz reports: ready, or the problems that make it not. */
export interface Readiness {
  readonly ready: boolean;
  readonly problems: readonly { readonly what: string; readonly recipe?: string; readonly error: string }[];
}

/** One point of a recipe's hour of history. */
export interface HistoryPoint {
  /** Redis's time, ms. */
  readonly t: number;
  readonly backlog: number | null;
  readonly rowsPerSec: number | null;
  readonly lagP50Ms: number | null;
  readonly lagP99Ms: number | null;
}

/** What the status page shows (`/api/status`). */
export interface StatusReport {
  readonly namespace: string;
  readonly at: string;
  readonly recipes: ReadonlyArray<{
    readonly name: string;
    readonly version: string;
    readonly state: string;
    readonly backlog: number;
    readonly synced: number;
    readonly deadLetters: number;
    readonly error: string | null;
    readonly lastError: string | null;
    readonly lastErrorAt: string | null;
    readonly warning: string | null;
    readonly overflowedAt: string | null;
    readonly history: readonly HistoryPoint[];
  }>;
  readonly runtimes: ReadonlyArray<{
    readonly id: string; readonly host: string; readonly pid: number; readonly startedAt: string; readonly warning: string | null; readonly http: string | null;
    /** It holds the capture lease; the backlog partitions it holds per recipe; rows it wrote per second lately. */
    readonly capture: boolean; readonly partitions: Readonly<Record<string, readonly number[]>>; readonly rowsPerSec: number;
  }>;
}

export interface HttpSources {
  readonly metrics: Metrics;
  /** From the state the runtime already has: a probe opens no connection. */
  readonly readiness: () => Readiness;
  /** The status page's data. */
  readonly status: () => Promise<StatusReport>;
}

const UPLOT_DIR = new URL('./', import.meta.resolve('uplot/dist/uPlot.iife.min.js'));
const assets = new Map<string, { file: URL; type: string }>([
  ['/assets/uPlot.iife.min.js', { file: new URL('uPlot.iife.min.js', UPLOT_DIR), type: 'text/javascript; charset=utf-8' }],
  ['/assets/uPlot.min.css', { file: new URL('uPlot.min.css', UPLOT_DIR), type: 'text/css; charset=utf-8' }],
]);

/**
 * The runtime's HTTP endpoints. /healthz answers while the process and its event loop do;
 * /readyz says whether the runtime is doing its job (503 with JSON naming what is wrong);
 * /metrics is Prometheus' text format.
 */
export class HttpServer {
  private readonly server: Server;
  private readonly sources: HttpSources;
  private readonly log: Logger;

  constructor(sources: HttpSources, log: Logger) {
    this.sources = sources;
    this.log = log;
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.log.error({ err: err instanceof Error ? err.message : String(err), path: req.url }, 'http request failed');
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('internal error\n');
      });
    });
  }

  /** Listens; rejects with a clear message when the address is taken. */
  async listen(address: HttpAddress): Promise<{ host: string; port: number }> {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        reject(new Error(`--http ${address.host}:${address.port}: ${err.code === 'EADDRINUSE' ? 'the address is in use (another runtime on this host? pass --http <port> or --http off)' : err.message}`));
      };
      this.server.once('error', onError);
      this.server.listen(address.port, address.host, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
    const bound = this.server.address();
    return typeof bound === 'object' && bound ? { host: bound.address, port: bound.port } : { host: address.host, port: address.port };
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    if (path === '/healthz') {
      json(res, 200, { status: 'ok' });
      return;
    }
    if (path === '/readyz') {
      const r = this.sources.readiness();
      json(res, r.ready ? 200 : 503, { status: r.ready ? 'ready' : 'not ready', problems: r.problems });
      return;
    }
    if (path === '/' || path === '/index.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'content-security-policy': "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; img-src 'self' data:" }).end(STATUS_PAGE);
      return;
    }
    if (path === '/api/status') {
      json(res, 200, await this.sources.status());
      return;
    }
    const asset = assets.get(path ?? '');
    if (asset) {
      res.writeHead(200, { 'content-type': asset.type, 'cache-control': 'max-age=3600' }).end(await readFile(asset.file));
      return;
    }
    if (path === '/metrics') {
      const { body, contentType } = await this.sources.metrics.render();
      res.writeHead(200, { 'content-type': contentType }).end(body);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /, /metrics, /healthz or /readyz\n');
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(`${JSON.stringify(body)}\n`);
}

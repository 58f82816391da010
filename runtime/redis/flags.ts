import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { RedisOptions } from 'ioredis';

/** The Redis connection flags both bins share (the spirit of gears-cli). */
export interface RedisFlags {
  readonly host?: string;
  readonly port?: string;
  readonly user?: string;
  readonly password?: string;
  readonly tls?: boolean;
  readonly tlsCa?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly url?: string;
  /** Redis Sentinel: its addresses (`host:port,host:port,…`), instead of a server's. */
  readonly sentinel?: string;
  /** The master's name at the sentinels (`sentinel monitor <name> …`). */
  readonly sentinelMaster?: string;
  readonly sentinelPassword?: string;
  readonly namespace: string;
}

/** Adds the shared Redis flags to a command. */
export function addRedisFlags(cmd: Command): Command {
  return cmd
    .option('--host <host>', 'Redis host (default: 127.0.0.1)')
    .option('--port <port>', 'Redis port (default: 6379)')
    .option('--user <user>', 'Redis ACL user')
    .option('--password <password>', 'Redis password (or env WB_REDIS_PASSWORD)')
    .option('--tls', 'connect with TLS')
    .option('--tls-ca <file>', 'CA certificate (PEM) for TLS')
    .option('--tls-cert <file>', 'client certificate (PEM) for TLS')
    .option('--tls-key <file>', 'client key (PEM) for TLS')
    .option('--url <url>', 'redis[s]://[user:password@]host:port[/db] instead of the flags above (or env WB_REDIS_URL)')
    .option('--sentinel <addresses>', 'Redis Sentinel: host:port[,host:port…] of the sentinels, instead of --host/--port/--url (or env WB_SENTINEL); follows the master through failovers')
    .option('--sentinel-master <name>', 'with --sentinel: the master\'s name at the sentinels (or env WB_SENTINEL_MASTER)')
    .option('--sentinel-password <password>', 'with --sentinel: the sentinels\' own password, if they require one (or env WB_SENTINEL_PASSWORD); --user/--password are the master\'s')
    .option('--namespace <ns>', 'prefix of every key wbsync keeps in Redis', 'wb');
}

/** A usage problem with the Redis flags. */
export class FlagError extends Error {
  override readonly name = 'FlagError';
}

/** Turns flags (with env fallbacks) into a URL or options for ioredis; never logs the password. */
export function redisTarget(flags: RedisFlags, env: NodeJS.ProcessEnv = process.env): { url?: string; options: RedisOptions; describe: string } {
  const sentinel = flags.sentinel ?? (flags.url === undefined && flags.host === undefined && flags.port === undefined ? env['WB_SENTINEL'] : undefined);
  if (sentinel !== undefined) return sentinelTarget(flags, sentinel, env);
  if (flags.sentinelMaster !== undefined) throw new FlagError('--sentinel-master needs --sentinel <host:port,…>');
  // Explicit flags win over the environment: --url, then --host/--port, then WB_REDIS_URL.
  const url = flags.url ?? (flags.host === undefined && flags.port === undefined ? env['WB_REDIS_URL'] : undefined);
  const password = flags.password ?? env['WB_REDIS_PASSWORD'];
  const tls = tlsOptions(flags);
  if (url !== undefined) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new FlagError('--url must look like redis://[user:password@]host:port[/db]');
    }
    if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
      throw new FlagError(`--url must use redis:// or rediss:// (got ${parsed.protocol}//)`);
    }
    const options: RedisOptions = {};
    const fillPassword = password !== undefined && parsed.password === '';
    const fillUser = flags.user !== undefined && parsed.username === '';
    let target = url;
    if ((fillPassword || fillUser) && (parsed.username !== '' || parsed.password !== '')) {
      // ioredis takes a URL's user and password over the options, an empty one too: a URL with
      // only a user would be sent with an empty password. Both move to the options, where the
      // flags fill in what the URL leaves out.
      if (parsed.username !== '') options.username = decodeUserinfo(parsed.username);
      if (parsed.password !== '') options.password = decodeUserinfo(parsed.password);
      parsed.username = '';
      parsed.password = '';
      target = parsed.href;
    }
    if (fillPassword) options.password = password;
    if (fillUser) options.username = flags.user;
    if (tls !== undefined) options.tls = tls;
    return { url: target, options, describe: `${parsed.hostname}:${parsed.port || '6379'}` };
  }
  const host = flags.host ?? '127.0.0.1';
  const port = Number(flags.port ?? 6379);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new FlagError(`--port must be 1-65535 (got '${flags.port}')`);
  const options: RedisOptions = { host, port };
  if (flags.user !== undefined) options.username = flags.user;
  if (password !== undefined) options.password = password;
  if (tls !== undefined) options.tls = tls;
  return { options, describe: `${host}:${port}` };
}

/**
 * Redis Sentinel: ioredis asks the sentinels for the master's address, connects there (checking
 * with ROLE that it is the master), and asks again after every disconnect; with
 * `failoverDetector` it also listens to the sentinels' `+switch-master` and moves at once.
 */
function sentinelTarget(flags: RedisFlags, list: string, env: NodeJS.ProcessEnv): { options: RedisOptions; describe: string } {
  if (flags.url !== undefined || flags.host !== undefined || flags.port !== undefined) throw new FlagError('--sentinel replaces --host, --port and --url: give one or the other');
  const name = flags.sentinelMaster ?? env['WB_SENTINEL_MASTER'];
  if (name === undefined || name === '') throw new FlagError('--sentinel needs --sentinel-master <name> (the name the sentinels monitor the master under)');
  const sentinels = list.split(',').map((s) => s.trim()).filter(Boolean).map((addr) => {
    const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(addr);
    const port = Number(m?.[2]);
    if (!m || !Number.isInteger(port) || port < 1 || port > 65535) throw new FlagError(`--sentinel: '${addr}' is not host:port`);
    return { host: (m[1] as string).replace(/^\[|\]$/g, ''), port };
  });
  if (sentinels.length === 0) throw new FlagError('--sentinel needs at least one host:port');
  const options: RedisOptions = { sentinels, name, role: 'master', failoverDetector: true };
  const password = flags.password ?? env['WB_REDIS_PASSWORD'];
  if (flags.user !== undefined) options.username = flags.user;
  if (password !== undefined) options.password = password;
  const sentinelPassword = flags.sentinelPassword ?? env['WB_SENTINEL_PASSWORD'];
  if (sentinelPassword !== undefined) options.sentinelPassword = sentinelPassword;
  const tls = tlsOptions(flags);
  if (tls !== undefined) {
    // The master, its replicas and the sentinels all speak TLS with the same files.
    options.tls = tls;
    options.sentinelTLS = tls;
    options.enableTLSForSentinelMode = true;
  }
  return { options, describe: `master '${name}' via sentinel ${sentinels.map((s) => `${s.host}:${s.port}`).join(',')}` };
}

function tlsOptions(flags: RedisFlags): RedisOptions['tls'] {
  if (!flags.tls && !flags.tlsCa && !flags.tlsCert && !flags.tlsKey) return undefined;
  const read = (file: string | undefined, flag: string): Buffer | undefined => {
    if (file === undefined) return undefined;
    try {
      return readFileSync(file);
    } catch {
      throw new FlagError(`${flag}: cannot read ${file}`);
    }
  };
  const tls: NonNullable<RedisOptions['tls']> = {};
  const ca = read(flags.tlsCa, '--tls-ca');
  const cert = read(flags.tlsCert, '--tls-cert');
  const key = read(flags.tlsKey, '--tls-key');
  if (ca) tls.ca = ca;
  if (cert) tls.cert = cert;
  if (key) tls.key = key;
  return tls;
}

/** A URL's user or password as ioredis would read it from the URL (percent-decoded). */
function decodeUserinfo(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** The same credentials and TLS, aimed at one server (a replica the master lists) instead of the flags' target. */
export function replicaFlags(flags: RedisFlags, host: string, port: number, env: NodeJS.ProcessEnv = process.env): RedisFlags {
  const { url: _url, sentinel: _sentinel, sentinelMaster: _master, sentinelPassword: _sp, ...rest } = flags;
  const out: { -readonly [K in keyof RedisFlags]: RedisFlags[K] } = { ...rest, host, port: String(port) };
  const url = flags.url ?? (flags.host === undefined && flags.port === undefined && flags.sentinel === undefined ? env['WB_REDIS_URL'] : undefined);
  if (url !== undefined) {
    // A URL's user and password still apply (the flags win, as for the URL itself).
    const parsed = new URL(url);
    if (out.user === undefined && parsed.username !== '') out.user = decodeUserinfo(parsed.username);
    if (out.password === undefined && parsed.password !== '') out.password = decodeUserinfo(parsed.password);
    if (parsed.protocol === 'rediss:') out.tls = true;
  }
  return out;
}

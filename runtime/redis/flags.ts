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
    .option('--namespace <ns>', 'prefix of every key wbsync keeps in Redis', 'wb');
}

/** A usage problem with the Redis flags. */
export class FlagError extends Error {
  override readonly name = 'FlagError';
}

/** Turns flags (with env fallbacks) into a URL or options for ioredis; never logs the password. */
export function redisTarget(flags: RedisFlags, env: NodeJS.ProcessEnv = process.env): { url?: string; options: RedisOptions; describe: string } {
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

import { describe, it, expect } from 'vitest';
import { FlagError, redisTarget, replicaFlags, type RedisFlags } from '../../runtime/redis/flags.ts';

// What commander yields when no connection flag is given.
const defaults: RedisFlags = { namespace: 'wb' };

describe('redisTarget', () => {
  it('uses host and port by default', () => {
    expect(redisTarget(defaults, {})).toEqual({ options: { host: '127.0.0.1', port: 6379 }, describe: '127.0.0.1:6379' });
  });

  it('passes user and password, never describing the password', () => {
    const t = redisTarget({ ...defaults, host: 'r', port: '6380', user: 'me', password: 'hunter2' }, {});
    expect(t.options).toEqual({ host: 'r', port: 6380, username: 'me', password: 'hunter2' });
    expect(t.describe).toBe('r:6380');
    expect(t.url).toBeUndefined();
  });

  it('falls back to WB_REDIS_PASSWORD, the flag wins', () => {
    expect(redisTarget(defaults, { WB_REDIS_PASSWORD: 'env-pw' }).options.password).toBe('env-pw');
    expect(redisTarget({ ...defaults, password: 'flag-pw' }, { WB_REDIS_PASSWORD: 'env-pw' }).options.password).toBe('flag-pw');
  });

  it('uses --url instead of host and port', () => {
    const t = redisTarget({ ...defaults, url: 'redis://:urlpw@cache.local:7000/2' }, {});
    expect(t).toEqual({ url: 'redis://:urlpw@cache.local:7000/2', options: {}, describe: 'cache.local:7000' });
    expect(t.describe).not.toContain('urlpw');
  });

  it('falls back to WB_REDIS_URL with the default port, the flag wins', () => {
    expect(redisTarget(defaults, { WB_REDIS_URL: 'rediss://cache.local' })).toEqual({ url: 'rediss://cache.local', options: {}, describe: 'cache.local:6379' });
    expect(redisTarget({ ...defaults, url: 'redis://a:1' }, { WB_REDIS_URL: 'redis://b:2' }).describe).toBe('a:1');
  });

  it('adds password and user to a url that has none, but not over the url ones', () => {
    const env = { WB_REDIS_URL: 'redis://h:1', WB_REDIS_PASSWORD: 'secret' };
    const t = redisTarget({ ...defaults, user: 'me' }, env);
    expect(t.options).toEqual({ password: 'secret', username: 'me' });
    expect(t.describe).not.toContain('secret');
    expect(redisTarget({ ...defaults, user: 'me' }, { ...env, WB_REDIS_URL: 'redis://you:pw@h:1' }).options).toEqual({});
  });

  it('fills in the half of the userinfo a url leaves out (ioredis would send it empty)', () => {
    // The user in the url, the password from WB_REDIS_PASSWORD: an environment file's form.
    const t = redisTarget(defaults, { WB_REDIS_URL: 'rediss://wb-runtime@cache.local:6380/0', WB_REDIS_PASSWORD: 'secret' });
    expect(t).toEqual({ url: 'rediss://cache.local:6380/0', options: { username: 'wb-runtime', password: 'secret' }, describe: 'cache.local:6380' });
    const u = redisTarget({ ...defaults, url: 'redis://:p%40ss@h:1', user: 'me' }, {});
    expect(u).toEqual({ url: 'redis://h:1', options: { username: 'me', password: 'p@ss' }, describe: 'h:1' });
    // Nothing to fill in: the url goes as it is.
    expect(redisTarget({ ...defaults, url: 'redis://me@h:1' }, {})).toEqual({ url: 'redis://me@h:1', options: {}, describe: 'h:1' });
  });

  it.each(['0', '65536', 'abc', '', '63.5'])('rejects --port %j', (port) => {
    expect(() => redisTarget({ ...defaults, port }, {})).toThrow(new FlagError(`--port must be 1-65535 (got '${port}')`));
  });

  it('rejects a malformed url or another scheme', () => {
    expect(() => redisTarget({ ...defaults, url: 'not a url' }, {})).toThrow('--url must look like redis://[user:password@]host:port[/db]');
    expect(() => redisTarget(defaults, { WB_REDIS_URL: 'http://h:1' })).toThrow(new FlagError('--url must use redis:// or rediss:// (got http://)'));
  });

  it('reports an unreadable TLS file', () => {
    expect(() => redisTarget({ ...defaults, tlsCa: '/nonexistent/wbsync-ca.pem' }, {})).toThrow('--tls-ca: cannot read /nonexistent/wbsync-ca.pem');
    expect(redisTarget({ ...defaults, tls: true }, {}).options.tls).toEqual({});
  });

  it('explicit --host/--port win over WB_REDIS_URL', () => {
    expect(redisTarget({ ...defaults, host: 'h2', port: '7000' }, { WB_REDIS_URL: 'redis://elsewhere:1' })).toEqual({ options: { host: 'h2', port: 7000 }, describe: 'h2:7000' });
  });

  it('--sentinel with --sentinel-master: the sentinels, the master name, its credentials; the password never described', () => {
    const t = redisTarget({ ...defaults, sentinel: 's1:26379, [::1]:26380', sentinelMaster: 'main', user: 'app', password: 'pw', sentinelPassword: 'spw' }, {});
    expect(t.url).toBeUndefined();
    expect(t.options).toEqual({ sentinels: [{ host: 's1', port: 26379 }, { host: '::1', port: 26380 }], name: 'main', role: 'master', failoverDetector: true, username: 'app', password: 'pw', sentinelPassword: 'spw' });
    expect(t.describe).toBe("master 'main' via sentinel s1:26379,::1:26380");
    expect(t.describe).not.toContain('pw');
  });

  it('--sentinel from the environment, with TLS for the master and the sentinels alike', () => {
    const t = redisTarget({ ...defaults, tls: true }, { WB_SENTINEL: 's:1', WB_SENTINEL_MASTER: 'm', WB_SENTINEL_PASSWORD: 'x' });
    expect(t.options).toMatchObject({ sentinels: [{ host: 's', port: 1 }], name: 'm', sentinelPassword: 'x', tls: {}, sentinelTLS: {}, enableTLSForSentinelMode: true });
    // Explicit --host wins over WB_SENTINEL, as over WB_REDIS_URL.
    expect(redisTarget({ ...defaults, host: 'h' }, { WB_SENTINEL: 's:1' }).options).toEqual({ host: 'h', port: 6379 });
  });

  it('refuses --sentinel without a master name, with --url or --host, a bad address, and a master name alone', () => {
    expect(() => redisTarget({ ...defaults, sentinel: 's:1' }, {})).toThrow(/--sentinel-master/);
    expect(() => redisTarget({ ...defaults, sentinel: 's:1', sentinelMaster: 'm', url: 'redis://x:1' }, {})).toThrow(/replaces/);
    expect(() => redisTarget({ ...defaults, sentinel: 's:1', sentinelMaster: 'm', host: 'x' }, {})).toThrow(/replaces/);
    expect(() => redisTarget({ ...defaults, sentinel: 's', sentinelMaster: 'm' }, {})).toThrow(/'s' is not host:port/);
    expect(() => redisTarget({ ...defaults, sentinel: 's:99999', sentinelMaster: 'm' }, {})).toThrow(FlagError);
    expect(() => redisTarget({ ...defaults, sentinel: ' , ', sentinelMaster: 'm' }, {})).toThrow(/at least one/);
    expect(() => redisTarget({ ...defaults, sentinelMaster: 'm' }, {})).toThrow(/needs --sentinel/);
  });
});

describe('replicaFlags', () => {
  it('aims the same credentials and TLS at a replica, those of a URL included', () => {
    expect(replicaFlags({ ...defaults, url: 'rediss://me:p%40ss@h:1', tlsCa: 'ca.pem' }, 'r', 2, {})).toEqual({ namespace: 'wb', host: 'r', port: '2', user: 'me', password: 'p@ss', tls: true, tlsCa: 'ca.pem' });
    expect(replicaFlags({ ...defaults, sentinel: 's:1', sentinelMaster: 'm', password: 'pw' }, 'r', 2, {})).toEqual({ namespace: 'wb', host: 'r', port: '2', password: 'pw' });
    expect(replicaFlags({ ...defaults, password: 'flag' }, 'r', 2, { WB_REDIS_URL: 'redis://:url@h:1' })).toEqual({ namespace: 'wb', host: 'r', port: '2', password: 'flag' });
  });
});

import type { Redis } from 'ioredis';
import { describe, it, expect } from 'vitest';
import { classifyEvent } from '../../runtime/capture/capture-queue.ts';
import { ensureKeyspaceEvents, mergeFlags, NEEDED_FLAGS, replicasOf } from '../../runtime/capture/keyspace-config.ts';

describe('mergeFlags', () => {
  it('adds every needed flag to an empty setting', () => {
    expect(NEEDED_FLAGS.join('')).toBe('Kgh$xe');
    expect(mergeFlags('')).toBe('Kgh$xe');
  });

  it("needs nothing when 'A' and 'K' are set", () => {
    expect(mergeFlags('KEA')).toBeUndefined();
    expect(mergeFlags('AK')).toBeUndefined();
    expect(mergeFlags('Kgh$xe')).toBeUndefined();
  });

  it('adds only what is missing, keeping the current flags', () => {
    expect(mergeFlags('Kh')).toBe('Khg$xe');
    expect(mergeFlags('A')).toBe('AK');
    expect(mergeFlags('Ex')).toBe('ExKgh$e');
  });
});

describe('classifyEvent', () => {
  it.each([
    ['expire', undefined],
    ['persist', undefined],
    ['expired', 'x'],
    ['evicted', 'x'],
    ['hset', 'c'],
    ['hdel', 'c'],
    ['del', 'c'],
    ['set', 'c'],
    ['rename_to', 'c'],
  ] as const)('%s -> %s', (event, kind) => {
    expect(classifyEvent(event)).toBe(kind);
  });
});

/** A Redis whose CONFIG GET answers `current` (or is refused) and whose CONFIG SET is refused or not. */
function configRedis(current: string | Error, setRefused: boolean) {
  const sets: string[] = [];
  const redis = {
    config: async (op: string, _name: string, value?: string) => {
      if (op === 'GET') {
        if (current instanceof Error) throw current;
        return ['notify-keyspace-events', current];
      }
      if (setRefused) throw new Error("NOPERM User wb has no permissions to run the 'config|set' command");
      sets.push(value as string);
      return 'OK';
    },
  } as unknown as Redis;
  return { redis, sets };
}

describe('ensureKeyspaceEvents', () => {
  it('is ok when nothing is missing, and sets nothing', async () => {
    const { redis, sets } = configRedis('KEA', false);
    expect(await ensureKeyspaceEvents(redis)).toStrictEqual({ kind: 'ok' });
    expect(sets).toStrictEqual([]);
  });

  it('sets what is missing and says what it was', async () => {
    const { redis, sets } = configRedis('', false);
    expect(await ensureKeyspaceEvents(redis)).toStrictEqual({ kind: 'ok', setFrom: '' });
    expect(sets).toStrictEqual(['Kgh$xe']);
  });

  it("says notifications are off (an error every recipe shows) when they lack flags and CONFIG SET is refused", async () => {
    const { redis } = configRedis('', true);
    const check = await ensureKeyspaceEvents(redis);
    expect(check.kind).toBe('off');
    expect(check.kind !== 'ok' && check.message).toMatch(/^notify-keyspace-events is '' and CONFIG SET is not allowed \(.*NOPERM.*\); changes are only picked up by reconcile until an operator sets it to include Kgh\$xe, e.g. notify-keyspace-events Kgh\$xe$/);
  });

  it('says the setting is unknown (logged, not a failure) when CONFIG GET is refused', async () => {
    const { redis } = configRedis(new Error("NOPERM User wb has no permissions to run the 'config|get' command"), true);
    const check = await ensureKeyspaceEvents(redis);
    expect(check.kind).toBe('unknown');
    expect(check.kind !== 'ok' && check.message).toMatch(/^cannot read notify-keyspace-events \(.*NOPERM/);
  });
});

describe('replicasOf', () => {
  it('lists the replicas INFO replication names, none on a replica or a lone master', () => {
    const info = '# Replication\r\nrole:master\r\nconnected_slaves:2\r\nslave0:ip=10.0.0.2,port=6380,state=online,offset=1,lag=0\r\nslave1:ip=10.0.0.3,port=6381,state=online,offset=1,lag=1\r\nmaster_repl_offset:1\r\n';
    expect(replicasOf(info)).toEqual([{ host: '10.0.0.2', port: 6380 }, { host: '10.0.0.3', port: 6381 }]);
    expect(replicasOf('# Replication\r\nrole:slave\r\nmaster_host:10.0.0.1\r\n')).toEqual([]);
  });
});

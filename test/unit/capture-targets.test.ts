import { readFileSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import { MySqlConnection, MySqlConnector, writeBehind, writeThrough } from '../../recipes/index.ts';
import { loadScript } from '../../runtime/capture/capture-queue.ts';
import { capturePattern, captureTarget, pacedTarget, resyncTarget, targetOfStaging } from '../../runtime/capture/targets.ts';
import { Keys } from '../../runtime/keys.ts';

const connector = new MySqlConnector(new MySqlConnection('u', 'p', 'localhost:3306/test'), 'persons', 'id');
const options = { version: '1', connector, keysPrefix: 'person', mappings: { first_name: 'first' } };
const behind = writeBehind({ name: 'WB', ...options });
const behindDeleting = writeBehind({ name: 'WBD', ...options, onExpire: 'delete' });
const through = writeThrough({ name: 'WT', ...options });
const custom = writeThrough({ name: 'WTC', ...options, stagingPrefix: 'stage.' });
const lua = (name: string): string => readFileSync(new URL(`../../runtime/capture/${name}.lua`, import.meta.url), 'utf8');
/** A target's script as the runtime loads it: the shared utf8.lua, then the script itself. */
const withUtf8 = (name: string): string => [lua('utf8'), lua(name)].join('\n');

describe('loadScript', () => {
  it.each(['capture', 'stage'])('reads %s.lua', (name) => {
    const script = loadScript(name);
    expect(script.name).toBe(name);
    expect(script.lua).toBe(lua(name));
  });

  it('loads the two different scripts', () => {
    const capture = loadScript('capture').lua;
    const stage = loadScript('stage').lua;
    expect(capture).toContain("KEYS[2]      the recipe's echo hash");
    expect(capture).toContain("KEYS[3]      the recipe's status hash: field `queued` counts records not yet written");
    expect(capture).toContain('for i = 4, #KEYS do');
    expect(stage).toContain("KEYS[2]      the recipe's status hash: field `queued` counts records not yet written");
    expect(stage).toContain("record(target, 'w', ackId, fields)");
    expect(stage).toContain('for i = 3, #KEYS, 2 do');
    expect(stage).not.toContain('echo');
  });

  it('fails for a script that does not exist', () => {
    expect(() => loadScript('nope')).toThrow(/ENOENT/);
  });
});

describe('capturePattern', () => {
  it('covers the keys of a write-behind registration', () => {
    expect(capturePattern(behind)).toBe('person:*');
  });

  it('covers the staging keys of a write-through registration', () => {
    expect(capturePattern(through)).toBe('__{person:*');
    expect(capturePattern(custom)).toBe('stage.{person:*');
  });
});

describe('targetOfStaging', () => {
  it('unwraps a staging key', () => {
    expect(targetOfStaging(through, '__{person:1}')).toBe('person:1');
    expect(targetOfStaging(through, '__{person:a:{b}}')).toBe('person:a:{b}');
    expect(targetOfStaging(custom, 'stage.{person:2}')).toBe('person:2');
  });

  it.each([
    ['__{person:1'],
    ['x{person:1}'],
    ['person:1'],
    ['_{person:1}'],
    ['__person:1}'],
  ])('is undefined for %s', (key) => {
    expect(targetOfStaging(through, key)).toBeUndefined();
  });

  it('needs the registration\'s own staging prefix', () => {
    expect(targetOfStaging(custom, '__{person:1}')).toBeUndefined();
  });
});

describe('captureTarget', () => {
  const keys = new Keys('wb');

  it('snapshots write-behind keys with capture.lua, the echo hash, the status hash, the bound and the expiry policy', () => {
    const keep = captureTarget(behind, keys, 'wb:backlog:WB');
    expect(keep.script).toStrictEqual({ name: 'capture', lua: withUtf8('capture') });
    expect(keep.keys).toStrictEqual(['wb:backlog:WB', 'wb:echoes:WB', 'wb:status:WB']);
    expect(keep.args).toStrictEqual(['1000000', '0']);
    expect(keep.partner).toBeUndefined();
    expect(keep.accepts('anything')).toBe(true);
    const deleting = captureTarget(behindDeleting, keys, 'wb:backlog:WBD');
    expect(deleting.args).toStrictEqual(['1000000', '1']);
    expect(deleting.keys).toStrictEqual(['wb:backlog:WBD', 'wb:echoes:WBD', 'wb:status:WBD']);
  });

  it('takes the stream it is given and the hashes of the registration, under the namespace', () => {
    expect(captureTarget(behind, new Keys('ns'), 'other-stream').keys).toStrictEqual(['other-stream', 'ns:echoes:WB', 'ns:status:WB']);
    expect(captureTarget(custom, new Keys('ns'), 'other-stream').keys).toStrictEqual(['other-stream', 'ns:status:WTC']);
  });

  it('stages write-through keys with stage.lua, passing each staging key with its target', () => {
    const t = captureTarget(through, keys, 'wb:backlog:WT');
    expect(t.script).toStrictEqual({ name: 'stage', lua: withUtf8('stage') });
    expect(t.keys).toStrictEqual(['wb:backlog:WT', 'wb:status:WT']);
    expect(t.args).toStrictEqual(['1000000']);
    expect(t.partner?.('__{person:1}')).toBe('person:1');
    expect(t.partner?.('person:1')).toBe('person:1');
    expect([t.accepts('__{person:1}'), t.accepts('person:1')]).toStrictEqual([true, false]);
  });
});

describe('pacedTarget', () => {
  it('replaces the bound (the first argument of both scripts) and waits with room', () => {
    const room = async (): Promise<void> => undefined;
    const keys = new Keys('wb');
    const behindPaced = pacedTarget(captureTarget(behindDeleting, keys, 's'), 250, room);
    expect(behindPaced.args).toStrictEqual(['250', '1']);
    expect(behindPaced.room).toBe(room);
    expect(behindPaced.keys).toStrictEqual(['s', 'wb:echoes:WBD', 'wb:status:WBD']);
    expect(pacedTarget(captureTarget(through, keys, 's'), 7, room).args).toStrictEqual(['7']);
  });

  it('follows maxBacklog in the live bound', () => {
    expect(captureTarget(writeBehind({ name: 'B', ...options, maxBacklog: 500 }), new Keys('wb'), 's').args).toStrictEqual(['500', '0']);
  });
});

describe('resyncTarget', () => {
  it('snapshots keys of any registration with capture.lua, the echo and status hashes, unbounded, keeping rows on expiry', () => {
    const t = resyncTarget(new Keys('wb'), 'WT');
    expect(t.script).toStrictEqual({ name: 'capture', lua: withUtf8('capture') });
    expect(t.keys).toStrictEqual(['wb:backlog:WT', 'wb:echoes:WT', 'wb:status:WT']);
    expect(t.args).toStrictEqual(['0', '0']);
    expect(t.partner).toBeUndefined();
    expect(t.accepts('__{person:1}')).toBe(true);
  });
});

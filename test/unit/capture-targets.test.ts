import { readFileSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import { MySqlConnection, MySqlConnector, writeBehind, writeThrough } from '../../recipes/index.ts';
import { loadScript } from '../../runtime/capture/capture-queue.ts';
import { capturePattern, captureTarget, targetOfStaging } from '../../runtime/capture/targets.ts';
import { Keys } from '../../runtime/keys.ts';

const connector = new MySqlConnector(new MySqlConnection('u', 'p', 'localhost:3306/test'), 'persons', 'id');
const options = { version: '1', connector, keysPrefix: 'person', mappings: { first_name: 'first' } };
const behind = writeBehind({ name: 'WB', ...options });
const behindDeleting = writeBehind({ name: 'WBD', ...options, onExpire: 'delete' });
const through = writeThrough({ name: 'WT', ...options });
const custom = writeThrough({ name: 'WTC', ...options, stagingPrefix: 'stage.' });
const lua = (name: string): string => readFileSync(new URL(`../../runtime/capture/${name}.lua`, import.meta.url), 'utf8');

describe('loadScript', () => {
  it.each(['capture', 'stage'])('reads %s.lua', (name) => {
    const script = loadScript(name);
    expect(script.name).toBe(name);
    expect(script.lua).toBe(lua(name));
  });

  it('loads the two different scripts', () => {
    expect(loadScript('capture').lua).toContain('KEYS[2]      the recipe\'s echo hash');
    expect(loadScript('stage').lua).toContain("append(target, 'w', ackId, fields)");
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

  it('snapshots write-behind keys with capture.lua, the echo hash and the expiry policy', () => {
    const keep = captureTarget(behind, keys, 'wb:backlog:WB');
    expect(keep.script).toStrictEqual({ name: 'capture', lua: lua('capture') });
    expect(keep.keys).toStrictEqual(['wb:backlog:WB', 'wb:echoes:WB']);
    expect(keep.args).toStrictEqual(['0']);
    expect(keep.keysOf('person:1')).toStrictEqual(['person:1']);
    expect(captureTarget(behindDeleting, keys, 'wb:backlog:WBD').args).toStrictEqual(['1']);
  });

  it('stages write-through keys with stage.lua, passing each staging key with its target', () => {
    const t = captureTarget(through, keys, 'wb:backlog:WT');
    expect(t.script).toStrictEqual({ name: 'stage', lua: lua('stage') });
    expect(t.keys).toStrictEqual(['wb:backlog:WT']);
    expect(t.args).toStrictEqual([]);
    expect(t.keysOf('__{person:1}')).toStrictEqual(['__{person:1}', 'person:1']);
  });
});

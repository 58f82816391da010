import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setParamSource } from '../../recipes/config-get.ts';
import { writeBehind } from '../../recipes/index.ts';
import type { Registration } from '../../recipes/options.ts';
import type { BacklogEntry } from '../../runtime/backlog/entry.ts';
import { driverFor } from '../../runtime/connectors/drivers.ts';
import { planBatch } from '../../runtime/writer/plan.ts';
import { TableWriter } from '../../runtime/writer/table-writer.ts';
import { waitFor } from '../helpers/wait.ts';
import { HARNESSES } from './harness/all.ts';
import type { HarnessTable } from './harness/types.ts';
import { needServer } from '../helpers/required.ts';

// One suite, every connector, each against its real server. WB_CONNECTORS=mysql,postgres filters.
const only = process.env['WB_CONNECTORS']?.split(',').map((s) => s.trim());
const selected = HARNESSES.filter((h) => !only || only.includes(h.name));
const MAPPINGS = { first_name: 'first', last_name: 'last', age: 'age' };
const silent = pino({ level: 'silent' });

let seq = 0;
const upsert = (id: string, fields: Record<string, string>): BacklogEntry => ({ id: `${++seq}-0`, key: `c:${id}`, ack: '', op: 'u', fields: new Map(Object.entries(fields)) });
const del = (id: string): BacklogEntry => ({ id: `${++seq}-0`, key: `c:${id}`, ack: '', op: 'd' });

for (const harness of selected) {
  describe(`connector conformance: ${harness.name}`, () => {
    let skip: string | undefined;
    let t: HarnessTable;
    let reg: Registration;
    const params = new Map<string, string>();
    const problems: string[] = [];
    const abort = new AbortController();
    let writer: TableWriter;
    const newWriter = (): TableWriter =>
      new TableWriter(driverFor(reg.connector), Object.values(MAPPINGS), Object.keys(MAPPINGS), silent, (m) => void (m && problems.push(m)), abort.signal, { minMs: 50, maxMs: 300 });
    const write = async (w: TableWriter, entries: BacklogEntry[]) => {
      const plan = planBatch(entries, reg);
      return w.write({ table: reg.connector.table, pkColumn: reg.connector.pkColumn, columns: plan.columns }, plan.rows);
    };

    beforeAll(async () => {
      skip = await harness.unavailable();
      if (skip) return;
      t = await harness.setup();
      for (const [k, v] of Object.entries(t.params)) params.set(k, v);
      setParamSource(async (name) => params.get(name));
      reg = writeBehind({ name: `Conf_${harness.name}`, version: '1', connector: t.connector, keysPrefix: 'c', mappings: MAPPINGS });
      writer = newWriter();
    }, 120_000);

    afterAll(async () => {
      abort.abort();
      if (skip) return;
      await writer.close();
      await t.teardown();
    });

    it('upserts a row, NULL for an absent field', async (ctx) => {
      if (skip) return needServer(ctx, skip);
      expect(await write(writer, [upsert('1', { first_name: 'Marek', last_name: 'Michalski', age: '27' }), upsert('2', { first_name: 'Ada' })])).toEqual([]);
      expect(await t.rows()).toEqual([
        { id: '1', first: 'Marek', last: 'Michalski', age: '27', extra: null },
        { id: '2', first: 'Ada', last: null, age: null, extra: null },
      ]);
    });

    it('updates every mapped column and leaves unmapped columns alone', async (ctx) => {
      if (skip) return needServer(ctx, skip);
      await t.setExtra('1', 'keep me');
      expect(await write(writer, [upsert('1', { first_name: 'Marek', age: '28' })])).toEqual([]);
      expect((await t.rows())[0]).toEqual({ id: '1', first: 'Marek', last: null, age: '28', extra: 'keep me' });
    });

    it('deletes', async (ctx) => {
      if (skip) return needServer(ctx, skip);
      expect(await write(writer, [del('2')])).toEqual([]);
      expect((await t.rows()).map((r) => r.id)).toEqual(['1']);
    });

    it('writes a batch of 5,000', async (ctx) => {
      if (skip) return needServer(ctx, skip);
      const entries = Array.from({ length: 5000 }, (_, i) => upsert(`b${String(i).padStart(4, '0')}`, { first_name: `n${i}`, age: String(i) }));
      const started = Date.now();
      expect(await write(writer, entries)).toEqual([]);
      console.log(`${harness.name}: 5,000-row batch in ${Date.now() - started} ms`);
      const rows = await t.rows();
      expect(rows).toHaveLength(5001);
      expect(rows.find((r) => r.id === 'b4999')).toEqual({ id: 'b4999', first: 'n4999', last: null, age: '4999', extra: null });
    });

    it('dead-letters a value that does not fit, naming key, field, column and type; the rest is written', async (ctx) => {
      if (skip) return needServer(ctx, skip);
      const dead = await write(writer, [
        upsert('ok', { first_name: 'fits', age: '1' }),
        upsert('long', { first_name: 'x'.repeat(21) }),
        upsert('nan', { age: 'notanumber' }),
      ]);
      const byKey = Object.fromEntries(dead.map((d) => [d.key, d.error]));
      const limitsText = harness.limitsText !== false;
      expect(Object.keys(byKey).sort()).toEqual(limitsText ? ['c:long', 'c:nan'] : ['c:nan']);
      expect(byKey['c:nan']).toMatch(/^key 'c:nan': field 'age' (=|->) .*column age \(/i);
      if (limitsText) expect(byKey['c:long']).toMatch(/^key 'c:long': field 'first_name' (=|->) .*column first \(/i);
      const ids = (await t.rows()).map((r) => r.id);
      expect(ids).toContain('ok');
      expect(ids.includes('long')).toBe(!limitsText);
      expect(ids).not.toContain('nan');
    });

    it('reconnects after the server drops the connection', async (ctx) => {
      if (skip) return needServer(ctx, skip);
      expect(await write(writer, [upsert('r1', { first_name: 'before' })])).toEqual([]);
      await t.dropConnections();
      expect(await write(writer, [upsert('r2', { first_name: 'after' })])).toEqual([]);
      expect((await t.rows()).map((r) => r.id)).toEqual(expect.arrayContaining(['r1', 'r2']));
    });

    it('reads credentials at every connect: refused, then tuned, then written', async (ctx) => {
      if (skip) return needServer(ctx, skip);
      if (!t.badParams) return ctx.skip(`${harness.name} has no credentials`);
      for (const [k, v] of Object.entries(t.badParams)) params.set(k, v);
      const fresh = newWriter();
      problems.length = 0;
      const pending = write(fresh, [upsert('cred', { first_name: 'tuned' })]);
      await waitFor('a refused connect', () => problems.some((p) => p.includes('connect failed')), 30_000);
      for (const [k, v] of Object.entries(t.params)) params.set(k, v);
      expect(await pending).toEqual([]);
      expect((await t.rows()).find((r) => r.id === 'cred')?.first).toBe('tuned');
      for (const p of problems) for (const secret of Object.values(t.badParams)) if (secret.length > 6) expect(p).not.toContain(secret);
      await fresh.close();
    });
  });
}

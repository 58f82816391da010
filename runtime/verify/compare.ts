/** One column whose value in the table differs from the hash. */
export interface ColumnDiff {
  readonly column: string;
  readonly redis: string | null;
  readonly table: string | null;
}

import { convertValue } from '../connectors/convert.ts';
import type { ColumnInfo, TypeFamily } from '../connectors/types.ts';

const TRUE = new Set(['true', 't', '1', 'yes', 'y', 'on']);
const FALSE = new Set(['false', 'f', '0', 'no', 'n', 'off']);

/** A boolean's canonical form, or undefined for text that is not one. */
function asBoolean(v: string): boolean | undefined {
  const l = v.toLowerCase();
  return TRUE.has(l) ? true : FALSE.has(l) ? false : undefined;
}

/** Milliseconds since the epoch of a date/timestamp text, read as UTC when it names no zone. */
function asInstant(v: string): number {
  const t = v.replace(' ', 'T').replace(/(T.*[+-]\d{2})$/, '$1:00');
  return Date.parse(/T.*([zZ]|[+-]\d{2}:?\d{2})$/.test(t) || !t.includes('T') ? t : `${t}Z`);
}

/**
 * True when a table value (as text) stands for the hash value. Given the column, the hash value
 * goes through the same conversion the writer uses first: one the writer refuses never equals
 * the table (its row holds an older state). Databases print values their own way (`1` for
 * `yes`, `2024-01-02T10:00:00.000Z` for `2024-01-02 10:00:00`, re-spaced JSON), so values of a
 * typed column are compared as that type.
 */
export function sameValue(hashValue: string | null, table: string | null, column?: ColumnInfo | TypeFamily): boolean {
  const family = typeof column === 'object' ? column.family : column;
  let redis = hashValue;
  if (typeof column === 'object' && redis !== null) {
    const c = convertValue(redis, column);
    if (!c.ok) return false;
    redis = c.value === null ? null : String(c.value);
  }
  if (redis === null || table === null) return redis === table;
  if (redis === table) return true;
  if (family === 'boolean') {
    const a = asBoolean(redis);
    return a !== undefined && a === asBoolean(table);
  }
  if (family === 'date' || family === 'timestamp') {
    const a = asInstant(redis);
    return !Number.isNaN(a) && a === asInstant(table);
  }
  if (family === 'json') {
    try {
      return JSON.stringify(JSON.parse(redis)) === JSON.stringify(JSON.parse(table));
    } catch {
      return false;
    }
  }
  if (family === 'uuid') return redis.toLowerCase() === table.toLowerCase();
  const a = Number(redis);
  const b = Number(table);
  return redis !== '' && table !== '' && Number.isFinite(a) && Number.isFinite(b) && a === b;
}

/** Columns that differ between the row the hash implies and the row in the table. */
export function diffRow(
  expected: Readonly<Record<string, string | null>>,
  actual: Readonly<Record<string, string | null>>,
  columnOf: (column: string) => ColumnInfo | TypeFamily | undefined = () => undefined,
): ColumnDiff[] {
  const out: ColumnDiff[] = [];
  for (const [column, value] of Object.entries(expected)) {
    const got = actual[column] ?? null;
    if (!sameValue(value, got, columnOf(column))) out.push({ column, redis: value, table: got });
  }
  return out;
}

/** The row a hash implies: every mapped column, null where the field is absent. */
export function expectedRow(hash: Readonly<Record<string, string>>, mappings: Readonly<Record<string, string>>): Record<string, string | null> {
  return Object.fromEntries(Object.entries(mappings).map(([field, column]) => [column, hash[field] ?? null]));
}

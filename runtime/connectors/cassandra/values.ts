import cassandra from 'cassandra-driver';
import type { DbValue } from '../../writer/plan.ts';
import type { ColumnInfo } from '../types.ts';
import { CassandraValueError } from './errors.ts';

const { BigDecimal, Duration, InetAddress, Integer, LocalDate, LocalTime, Long, TimeUuid, Tuple, Uuid, Vector } = cassandra.types;

const TRUE = new Set(['true', 't', '1', 'yes', 'y', 'on']);
const FALSE = new Set(['false', 'f', '0', 'no', 'n', 'off']);
const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/** The CQL type name without `frozen<...>` and in lower case, e.g. `int`, `list<int>`. */
export function baseType(type: string): string {
  const t = type.trim().toLowerCase();
  const m = /^frozen<(.*)>$/.exec(t);
  return m ? baseType(m[1] as string) : t;
}

/** `map<text, list<int>>` -> `{ name: 'map', args: ['text', 'list<int>'] }`; a simple type has no args. */
export function typeArgs(type: string): { name: string; args: string[] } {
  const t = baseType(type);
  const open = t.indexOf('<');
  if (open === -1 || !t.endsWith('>')) return { name: t, args: [] };
  const args: string[] = [];
  let depth = 0;
  let from = open + 1;
  for (let i = from; i < t.length - 1; i++) {
    const ch = t[i];
    if (ch === '<') depth++;
    else if (ch === '>') depth--;
    else if (ch === ',' && depth === 0) {
      args.push(t.slice(from, i).trim());
      from = i + 1;
    }
  }
  args.push(t.slice(from, t.length - 1).trim());
  return { name: t.slice(0, open).trim(), args };
}

/** Why a value cannot be bound; turned into a {@link CassandraValueError} naming the column. */
class Refused extends Error {}

const refuse = (reason: string): never => {
  throw new Refused(reason);
};

/**
 * Turns a value (already checked for its column's family, see convert.ts) into what
 * cassandra-driver binds for the column's CQL type. Throws {@link CassandraValueError} when it
 * cannot, so that only this row is refused. `key`: the column is the partition key (its value is
 * the id from the Redis key, not a hash field).
 */
export function toCassandra(value: DbValue, col: ColumnInfo, key = false): unknown {
  if (value === null) return null;
  try {
    return convert(value, col.type);
  } catch (err) {
    throw new CassandraValueError(col.name, col.type, key, String(value), err instanceof Error ? err.message : String(err));
  }
}

function convert(value: string | number | boolean, type: string): unknown {
  const { name: t, args } = typeArgs(type);
  const text = String(value);
  const v = text.trim();
  switch (t) {
    case 'int':
    case 'smallint':
    case 'tinyint': {
      if (!/^[+-]?\d+$/.test(v)) refuse('not an integer');
      const n = Number(v);
      const bits = t === 'int' ? 32 : t === 'smallint' ? 16 : 8;
      if (n < -(2 ** (bits - 1)) || n > 2 ** (bits - 1) - 1) refuse(`out of range for ${t}`);
      return n;
    }
    case 'bigint':
    case 'counter': {
      if (!/^[+-]?\d+$/.test(v)) refuse('not an integer');
      const n = BigInt(v);
      if (n < -(2n ** 63n) || n >= 2n ** 63n) refuse(`out of range for ${t}`);
      return Long.fromString(n.toString());
    }
    case 'varint':
      if (!/^[+-]?\d+$/.test(v)) refuse('not an integer');
      return Integer.fromString(BigInt(v).toString());
    case 'decimal':
      return bigDecimal(v) ?? refuse('not a number');
    case 'float':
    case 'double': {
      const n = floating(v) ?? refuse('not a number');
      if (Number.isFinite(n) || Number.isNaN(n) || /inf/i.test(v)) {
        if (t === 'float' && Number.isFinite(n) && !Number.isFinite(Math.fround(n))) refuse('out of range for float');
        return n;
      }
      return refuse(`out of range for ${t}`);
    }
    case 'boolean': {
      if (typeof value === 'boolean') return value;
      const l = v.toLowerCase();
      return TRUE.has(l) ? true : FALSE.has(l) ? false : refuse('not a boolean');
    }
    case 'timestamp':
      return timestamp(v) ?? refuse('not a timestamp (YYYY-MM-DD[ HH:MM:SS[.fff]][zone])');
    case 'date':
      return validDate(v) ? LocalDate.fromString(v) : refuse('not a date (YYYY-MM-DD)');
    case 'time':
      return /^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,9})?)?$/.test(v) ? LocalTime.fromString(v) : refuse('not a time (HH:MM[:SS[.fffffffff]])');
    case 'uuid':
      return Uuid.fromString(v);
    case 'timeuuid':
      return TimeUuid.fromString(v);
    case 'inet':
      return InetAddress.fromString(v);
    case 'duration':
      // The driver skips what it does not understand in the `1h30m` form: check it whole.
      return /^-?P/.test(v) || /^-?(\d+(mo|ms|us|µs|ns|y|w|d|h|m|s))+$/i.test(v) ? Duration.fromString(v) : refuse('not a duration (1h30m, P1DT2H, ...)');
    case 'blob':
      // The hash holds text: its UTF-8 bytes are the value (read back as UTF-8).
      return Buffer.from(text, 'utf8');
    case 'ascii':
      // eslint-disable-next-line no-control-regex
      return /^[\x00-\x7f]*$/.test(text) ? text : refuse('not ASCII');
    case 'list':
    case 'set':
      return jsonArray(v).map((e, i) => element(e, args[0] ?? 'text', `element ${i}`));
    case 'vector': {
      const a = jsonArray(v);
      if (args[1] !== undefined && a.length !== Number(args[1])) refuse(`${a.length} elements, not ${args[1]}`);
      return new Vector(a.map((e, i) => element(e, args[0] ?? 'float', `element ${i}`)), args[0]);
    }
    case 'tuple':
      return Tuple.fromArray(jsonArray(v).map((e, i) => (e === null ? null : element(e, args[i] ?? 'text', `element ${i}`))));
    case 'map': {
      const obj = json(v);
      if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return refuse('not a JSON object');
      return new Map(Object.entries(obj as Record<string, unknown>).map(([k, e]) => [element(k, args[0] ?? 'text', `key '${k}'`), element(e, args[1] ?? 'text', `value of '${k}'`)]));
    }
    default:
      // text, varchar, and anything the driver converts itself (or refuses with a TypeError).
      return text;
  }
}

function json(v: string): unknown {
  try {
    return JSON.parse(v);
  } catch {
    return refuse('not JSON');
  }
}

/** A collection written as a JSON array, e.g. `[1,2]` or `["a","b"]`. */
function jsonArray(v: string): unknown[] {
  const a = json(v);
  return Array.isArray(a) ? a : refuse('not a JSON array');
}

/** One element of a collection: JSON strings, numbers and booleans, nested collections as JSON. */
function element(e: unknown, type: string, where: string): unknown {
  if (e === null || e === undefined) return refuse(`${where} is null`);
  try {
    return convert(typeof e === 'object' ? JSON.stringify(e) : (e as string | number | boolean), type);
  } catch (err) {
    return refuse(`${where}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** A decimal from `[+-]digits[.digits][e[+-]digits]`, never with a negative scale. */
export function bigDecimal(v: string): InstanceType<typeof BigDecimal> | undefined {
  const m = DECIMAL.exec(v);
  if (!m) return undefined;
  const [, sign = '', int = '', frac = '', exp = '0'] = m;
  if (int === '' && frac === '') return undefined;
  if (Math.abs(Number(exp)) > 10_000) return undefined; // not a value anyone meant; and it would take megabytes
  let digits = (int + frac).replace(/^0+(?=\d)/, '');
  let scale = frac.length - Number(exp);
  if (scale < 0) {
    digits += '0'.repeat(-scale);
    scale = 0;
  }
  digits = digits.padStart(scale + 1, '0');
  const cut = digits.length - scale;
  const negative = sign === '-' && /[1-9]/.test(digits);
  return BigDecimal.fromString(`${negative ? '-' : ''}${digits.slice(0, cut)}${scale ? `.${digits.slice(cut)}` : ''}`);
}

function floating(v: string): number | undefined {
  const inf = /^([+-]?)inf(inity)?$/i.exec(v);
  if (inf) return inf[1] === '-' ? -Infinity : Infinity;
  if (/^[+-]?nan$/i.test(v)) return NaN;
  if (!DECIMAL.test(v) || !/\d/.test(v)) return undefined;
  return Number(v);
}

function validDate(v: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(y, mo - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d;
}

/**
 * A timestamp: `YYYY-MM-DD`, `YYYY-MM-DD HH:MM[:SS[.fff]]` or the ISO form with `T`, with an
 * optional zone (`Z`, `+HH:MM`, `+HHMM`). Without a zone it is UTC, whatever the machine's zone.
 */
export function timestamp(v: string): Date | undefined {
  const m = /^(\d{4}-\d{2}-\d{2})(?:[ T](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?))?\s*(Z|[+-]\d{2}:?\d{2})?$/i.exec(v);
  if (!m) {
    // Another form JavaScript reads (as convert.ts accepts it); its zone is JavaScript's rule.
    const d = /^\d{4}-\d{2}-\d{2}/.test(v) ? new Date(v.replace(' ', 'T')) : undefined;
    return d && !Number.isNaN(d.getTime()) ? d : undefined;
  }
  if (!validDate(m[1] as string)) return undefined;
  const [, date, time = '00:00:00', zone = 'Z'] = m;
  const [hms = '', frac = ''] = time.split('.');
  const iso = `${date}T${hms.length === 5 ? `${hms}:00` : hms}${frac ? `.${frac.slice(0, 3).padEnd(3, '0')}` : ''}${zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone.toUpperCase()}`;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/** The shortest decimal text that reads back as the same 32-bit float. */
function float32Text(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  for (let p = 1; p <= 9; p++) {
    const s = Number(n.toPrecision(p));
    if (Math.fround(s) === n) return String(s);
  }
  return String(n);
}

/**
 * A value read from Cassandra as text, to compare with the hash: numbers and the driver's types
 * by their `toString()`, timestamps in ISO 8601 (UTC), booleans as `true`/`false`, blobs as UTF-8,
 * collections as JSON.
 */
export function toText(value: unknown, col?: ColumnInfo): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return col !== undefined && baseType(col.type) === 'float' ? float32Text(value) : String(value);
  if (typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? String(value) : value.toISOString();
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (Array.isArray(value) || value instanceof Set || value instanceof Map || Object.getPrototypeOf(value) === Object.prototype) {
    return JSON.stringify(value, (_k, v: unknown) => {
      if (v instanceof Set) return [...v];
      if (v instanceof Map) return Object.fromEntries(v);
      return typeof v === 'bigint' ? v.toString() : v;
    });
  }
  if (value instanceof Tuple) return toText(value.elements);
  return String(value); // Long, Integer, BigDecimal, LocalDate, LocalTime, Uuid, InetAddress, Duration, Vector...
}

import type { ColumnInfo } from './types.ts';

/** A converted value: text for the driver to bind, or a refusal saying why. */
export type Converted = { readonly ok: true; readonly value: string | number | boolean | null } | { readonly ok: false; readonly reason: string };

// Plain forms only: what the database stores is what was given, so `verify` can compare them.
const INTEGER = /^(0|-?[1-9]\d*)$/;
const DECIMAL = /^-?(0|[1-9]\d*)(\.\d+)?$/;
const FLOAT = /^-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?([zZ]|[+-]\d{2}(?::?\d{2})?)?$/;
const TIME = /^(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TRUE = new Set(['true', 't', '1', 'yes', 'y', 'on']);
const FALSE = new Set(['false', 'f', '0', 'no', 'n', 'off']);

/**
 * Converts a hash value (a string) for a column, using the column's type family: the value goes
 * in as given, in the column's own terms, or is refused with the reason. Nothing is trimmed,
 * rounded or coerced; the one change of form is a timestamp with a UTC offset going into a
 * column without a zone, which is written as the same instant in UTC. Pure: each driver binds
 * the result (or maps it further, e.g. Cassandra's typed values).
 */
export function convertValue(value: string | null, col: ColumnInfo): Converted {
  if (value === null) return { ok: true, value: null };
  if (value === '' && col.family !== 'text' && col.family !== 'binary' && col.family !== 'other') return no(`empty, which is not ${WHAT[col.family]}`);
  switch (col.family) {
    case 'integer': {
      if (!INTEGER.test(value)) return no('not an integer in plain form (digits with an optional leading -; no spaces, +, leading zeros, decimal point or exponent)');
      // Exact as a double up to 15 digits: no BigInt on the hot path for ordinary numbers.
      const n = value.length <= 15 ? Number(value) : BigInt(value);
      if ((col.min !== undefined && n < col.min) || (col.max !== undefined && n > col.max)) return no(`out of range ${String(col.min)}..${String(col.max)}`);
      return { ok: true, value };
    }
    case 'decimal':
      return decimal(value, col);
    case 'float':
      return FLOAT.test(value) || /^-?(inf(inity)?|nan)$/i.test(value) ? { ok: true, value } : no('not a number');
    case 'boolean': {
      const l = value.toLowerCase();
      return TRUE.has(l) ? { ok: true, value: true } : FALSE.has(l) ? { ok: true, value: false } : no('not a boolean (true/false, t/f, 1/0, yes/no, y/n, on/off)');
    }
    case 'date': {
      const m = DATE.exec(value);
      return m && validDate(Number(m[1]), Number(m[2]), Number(m[3])) ? { ok: true, value } : no('not a date (YYYY-MM-DD)');
    }
    case 'timestamp':
      return timestamp(value, col);
    case 'time': {
      const m = TIME.exec(value);
      if (!m || Number(m[1]) > 23 || Number(m[2]) > 59 || Number(m[3] ?? 0) > 59) return no('not a time (HH:MM[:SS[.fraction]])');
      const lost = fractionLost(m[4], col);
      return lost ? no(lost) : { ok: true, value };
    }
    case 'json':
      try {
        JSON.parse(value);
        return { ok: true, value };
      } catch {
        return no('not valid JSON');
      }
    case 'uuid':
      return UUID.test(value) ? { ok: true, value } : no('not a UUID');
    case 'text':
      if (col.dropsTrailingSpaces && value.endsWith(' ')) return no('ends with a space, which the column drops');
      // Characters are code points: count them only when the UTF-16 length could exceed the limit.
      return col.maxLength !== undefined && value.length > col.maxLength && codePoints(value) > col.maxLength ? no(`longer than ${col.maxLength} characters`) : { ok: true, value };
    default:
      return { ok: true, value };
  }
}

const WHAT: Record<ColumnInfo['family'], string> = {
  text: 'text', integer: 'an integer', decimal: 'a number', float: 'a number', boolean: 'a boolean', date: 'a date', timestamp: 'a timestamp',
  time: 'a time', json: 'valid JSON', uuid: 'a UUID', binary: 'bytes', other: 'a value',
};

function decimal(value: string, col: ColumnInfo): Converted {
  const m = DECIMAL.exec(value);
  if (!m) return no('not a decimal number in plain form (digits with an optional leading - and one decimal point; no spaces, +, leading zeros or exponent)');
  const fraction = m[2] === undefined ? 0 : m[2].length - 1;
  const whole = (m[1] as string) === '0' ? 0 : (m[1] as string).length;
  if (col.scale !== undefined && fraction > col.scale) return no(`has ${fraction} digits after the decimal point; the column keeps ${col.scale} and would round it`);
  if (col.precision !== undefined && whole > col.precision - (col.scale ?? 0)) return no(`too large: the column keeps ${col.precision - (col.scale ?? 0)} digits before the decimal point`);
  return { ok: true, value };
}

function validDate(y: number, m: number, d: number): boolean {
  const t = new Date(Date.UTC(y, m - 1, d));
  return y >= 1 && t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d;
}

/** Why fractional seconds would be rounded by the column, or undefined when they fit. */
function fractionLost(digits: string | undefined, col: ColumnInfo): string | undefined {
  const kept = digits?.replace(/0+$/, '') ?? '';
  if (col.fraction === undefined || kept.length <= col.fraction) return undefined;
  return col.fraction === 0 ? 'has fractions of a second; the column keeps whole seconds and would round them' : `has ${kept.length} digits of fractional seconds; the column keeps ${col.fraction} and would round them`;
}

const two = (n: number): string => String(n).padStart(2, '0');

function timestamp(value: string, col: ColumnInfo): Converted {
  const m = TIMESTAMP.exec(value);
  const [y, mo, d, h, mi, s] = [1, 2, 3, 4, 5, 6].map((i) => Number(m?.[i] ?? 0)) as [number, number, number, number, number, number];
  if (!m || !validDate(y, mo, d) || h > 23 || mi > 59 || s > 59) return no('not a timestamp (YYYY-MM-DD[ HH:MM[:SS[.fraction]]][Z|+HH:MM])');
  const lost = fractionLost(m[7], col);
  if (lost) return no(lost);
  const zone = m[8];
  if (col.zoned || zone === undefined) return { ok: true, value: col.zoned ? value : plainTimestamp(y, mo, d, h, mi, s, m[7]) };
  // A zone-less column keeps the instant in UTC. Offsets: Z, +HH, +HHMM, +HH:MM.
  const z = zone.replace(':', '');
  const offset = /^[zZ]$/.test(z) ? 0 : (z[0] === '-' ? -1 : 1) * (Number(z.slice(1, 3)) * 60 + Number(z.slice(3, 5) || 0));
  const t = new Date(Date.UTC(y, mo - 1, d, h, mi, s) - offset * 60_000);
  return { ok: true, value: plainTimestamp(t.getUTCFullYear(), t.getUTCMonth() + 1, t.getUTCDate(), t.getUTCHours(), t.getUTCMinutes(), t.getUTCSeconds(), m[7]) };
}

function plainTimestamp(y: number, mo: number, d: number, h: number, mi: number, s: number, fraction: string | undefined): string {
  const f = fraction?.replace(/0+$/, '');
  return `${String(y).padStart(4, '0')}-${two(mo)}-${two(d)} ${two(h)}:${two(mi)}:${two(s)}${f ? `.${f}` : ''}`;
}

function codePoints(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdbff) n++;
    else {
      n++;
      i++;
    }
  }
  return n;
}

function no(reason: string): Converted {
  return { ok: false, reason };
}

/**
 * Why `id` cannot be the key of a row in a key column of this type, or undefined when it can.
 * A non-text key takes only the canonical text of its value, the one form the database gives
 * back: otherwise two keys (`ip:1` and `ip:01`, `t:1.5` and `t:1.50`) would share one row, and
 * deleting one would delete the other's. Integer: plain digits; decimal: exactly the column's
 * scale of fraction digits; float: the shortest round-trip form; boolean: `true` or `false`;
 * timestamp: `YYYY-MM-DD HH:MM:SS[.fraction]` in UTC, no trailing zeros; UUID: lower case.
 */
export function keyProblem(id: string, col: ColumnInfo): string | undefined {
  if (col.family === 'text' || col.family === 'binary' || col.family === 'other') return undefined;
  const c = convertValue(id, col.family === 'timestamp' ? { ...col, zoned: false } : col);
  if (!c.ok) return c.reason;
  const canonical = (form: string): string | undefined => (form === id ? undefined : `not the canonical text of its value, which is '${form}'`);
  switch (col.family) {
    case 'uuid':
      return canonical(id.toLowerCase());
    case 'decimal': {
      if (col.scale === undefined) return 'a decimal key column without a declared scale cannot tell 1.5 from 1.50 apart; declare its scale, or use an integer or text key';
      const [whole = '', fraction = ''] = id.split('.');
      return canonical(col.scale === 0 ? whole : `${whole}.${fraction.padEnd(col.scale, '0')}`);
    }
    case 'float':
      return canonical(String(Number(id)));
    case 'boolean':
      return id === 'true' || id === 'false' ? undefined : "a boolean key takes only 'true' or 'false'";
    case 'json':
      return canonical(JSON.stringify(JSON.parse(id)));
    case 'timestamp':
      return canonical(String(c.value));
    default:
      return undefined;
  }
}

/** The error a dead letter carries for a value that cannot be converted. */
export function conversionError(key: string, field: string, value: string, col: ColumnInfo, reason: string): string {
  const shown = value.length > 40 ? `${value.slice(0, 40)}...` : value;
  return `key '${key}': field '${field}' = '${shown}' cannot go into column ${col.name} (${col.type}): ${reason}`;
}

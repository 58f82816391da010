import type { ColumnInfo } from './types.ts';

/** A converted value: text for the driver to bind, or a refusal saying why. */
export type Converted = { readonly ok: true; readonly value: string | number | boolean | null } | { readonly ok: false; readonly reason: string };

const INTEGER = /^[+-]?\d+$/;
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const TIME = /^\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TRUE = new Set(['true', 't', '1', 'yes', 'y', 'on']);
const FALSE = new Set(['false', 'f', '0', 'no', 'n', 'off']);

/**
 * Converts a hash value (a string) for a column, using the column's type family. Pure: each
 * driver binds the result (or maps it further, e.g. Cassandra's typed values).
 */
export function convertValue(value: string | null, col: ColumnInfo): Converted {
  if (value === null) return { ok: true, value: null };
  const v = value.trim();
  switch (col.family) {
    case 'integer': {
      if (!INTEGER.test(v)) return no('not an integer');
      const n = BigInt(v);
      if ((col.min !== undefined && n < col.min) || (col.max !== undefined && n > col.max)) return no(`out of range ${String(col.min)}..${String(col.max)}`);
      return { ok: true, value: v };
    }
    case 'decimal':
      return DECIMAL.test(v) ? { ok: true, value: v } : no('not a number');
    case 'float':
      return DECIMAL.test(v) || /^[+-]?(inf(inity)?|nan)$/i.test(v) ? { ok: true, value: v } : no('not a number');
    case 'boolean': {
      const l = v.toLowerCase();
      return TRUE.has(l) ? { ok: true, value: true } : FALSE.has(l) ? { ok: true, value: false } : no('not a boolean (true/false, 1/0, yes/no)');
    }
    case 'date':
      return DATE.test(v) && !Number.isNaN(Date.parse(`${v}T00:00:00Z`)) ? { ok: true, value: v } : no('not a date (YYYY-MM-DD)');
    case 'timestamp':
      // Date.parse wants `+00:00` where databases print `+00`.
      return /^\d{4}-\d{2}-\d{2}/.test(v) && !Number.isNaN(Date.parse(v.replace(' ', 'T').replace(/(T.*[+-]\d{2})$/, '$1:00')))
        ? { ok: true, value: v }
        : no('not a timestamp (YYYY-MM-DD[ HH:MM:SS][+HH:MM])');
    case 'time':
      return TIME.test(v) ? { ok: true, value: v } : no('not a time (HH:MM[:SS])');
    case 'json':
      try {
        JSON.parse(value);
        return { ok: true, value };
      } catch {
        return no('not valid JSON');
      }
    case 'uuid':
      return UUID.test(v) ? { ok: true, value: v } : no('not a UUID');
    case 'text':
      return col.maxLength !== undefined && [...value].length > col.maxLength ? no(`longer than ${col.maxLength} characters`) : { ok: true, value };
    default:
      return { ok: true, value };
  }
}

function no(reason: string): Converted {
  return { ok: false, reason };
}

/** The error a dead letter carries for a value that cannot be converted. */
export function conversionError(key: string, field: string, value: string, col: ColumnInfo, reason: string): string {
  const shown = value.length > 40 ? `${value.slice(0, 40)}...` : value;
  return `key '${key}': field '${field}' = '${shown}' cannot go into column ${col.name} (${col.type}): ${reason}`;
}

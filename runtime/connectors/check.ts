import type { Registration } from '../../recipes/options.ts';
import type { TableInfo, TypeFamily } from './types.ts';

/** How one mapped field lands in its column. */
export interface ColumnReport {
  readonly field: string;
  readonly column: string;
  readonly type: string;
  readonly family: TypeFamily;
}

/** What `wb-cli check` found: problems (each says what to change) and how values convert. */
export interface CheckReport {
  readonly problems: readonly string[];
  readonly columns: readonly ColumnReport[];
}

const CONVERSION: Record<TypeFamily, string> = {
  text: 'kept as text', integer: 'converted to an integer', decimal: 'converted to a decimal number', float: 'converted to a floating-point number',
  boolean: 'converted to a boolean (true/false, 1/0, yes/no)', date: 'converted to a date (YYYY-MM-DD)', timestamp: 'converted to a timestamp',
  time: 'converted to a time', json: 'checked to be JSON', uuid: 'checked to be a UUID', binary: 'written as bytes of the text', other: 'passed as text; the database converts it',
};

/** Describes how a family converts, for people. */
export function describeConversion(family: TypeFamily): string {
  return CONVERSION[family];
}

/** What `check`, `upload` and `status` say about a key column that does not compare exactly. */
export function inexactKeyMessage(table: string, pkColumn: string, why: string): string {
  return `key column ${table}.${pkColumn} does not compare exactly: ${why}; ids that differ only there share one row, and deleting one deletes the other's. ` +
    "Give the column an exact collation (MariaDB: VARCHAR ... COLLATE utf8mb4_nopad_bin; MySQL 8: utf8mb4_0900_bin; PostgreSQL: a deterministic collation; VARCHAR rather than CHAR), or set keyMatch: 'inexact' in the recipe to accept it";
}

/** Compares a registration with the table the database describes. Pure. */
export function checkTable(reg: Registration, info: TableInfo): CheckReport {
  const table = reg.connector.table;
  const pk = reg.connector.pkColumn;
  if (!info.exists) {
    const cols = Object.values(reg.mappings).join(', ');
    return { problems: [`table ${table} does not exist; create it with the primary key ${pk} and the columns ${cols}, or fix the connector's table name`], columns: [] };
  }
  const problems: string[] = [];
  const columns: ColumnReport[] = [];
  if (!info.columns.has(pk.toLowerCase())) problems.push(`column ${pk} (pkColumn) does not exist in ${table}; add it, or pass the table's key column as the connector's pkColumn`);
  const keys = info.primaryKey.map((c) => c.toLowerCase());
  if (keys.length === 0) {
    problems.push(`table ${table} has no primary key; upserts need one: make ${pk} the primary key`);
  } else if (keys.length !== 1 || keys[0] !== pk.toLowerCase()) {
    problems.push(`the primary key of ${table} is (${info.primaryKey.join(', ')}), but the recipe's pkColumn is ${pk}; make ${pk} the only primary-key column, or set pkColumn to ${info.primaryKey[0]}${keys.length > 1 ? ' (a composite key is not supported)' : ''}`);
  }
  const key = info.columns.get(pk.toLowerCase());
  if (key?.inexact !== undefined && reg.keyMatch !== 'inexact') problems.push(inexactKeyMessage(table, key.name, key.inexact));
  for (const [field, column] of Object.entries(reg.mappings)) {
    const info2 = info.columns.get(column.toLowerCase());
    if (info2 === undefined) {
      problems.push(`column ${column} (mapped from field '${field}') does not exist in ${table}; add it, or change mappings.${field}`);
      continue;
    }
    columns.push({ field, column: info2.name, type: info2.type, family: info2.family });
  }
  return { problems, columns };
}

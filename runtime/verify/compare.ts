/** One column whose value in the table differs from the hash. */
export interface ColumnDiff {
  readonly column: string;
  readonly redis: string | null;
  readonly table: string | null;
}

/** True when a table value (as text) stands for the hash value: equal text, or equal numbers. */
export function sameValue(redis: string | null, table: string | null): boolean {
  if (redis === null || table === null) return redis === table;
  if (redis === table) return true;
  const a = Number(redis);
  const b = Number(table);
  return redis.trim() !== '' && table.trim() !== '' && Number.isFinite(a) && Number.isFinite(b) && a === b;
}

/** Columns that differ between the row the hash implies and the row in the table. */
export function diffRow(expected: Readonly<Record<string, string | null>>, actual: Readonly<Record<string, string | null>>): ColumnDiff[] {
  const out: ColumnDiff[] = [];
  for (const [column, value] of Object.entries(expected)) {
    const got = actual[column] ?? null;
    if (!sameValue(value, got)) out.push({ column, redis: value, table: got });
  }
  return out;
}

/** The row a hash implies: every mapped column, null where the field is absent. */
export function expectedRow(hash: Readonly<Record<string, string>>, mappings: Readonly<Record<string, string>>): Record<string, string | null> {
  return Object.fromEntries(Object.entries(mappings).map(([field, column]) => [column, hash[field] ?? null]));
}

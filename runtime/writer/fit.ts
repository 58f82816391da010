import type { DeadLetter } from '../backlog/backlog.ts';
import type { StatementLimit, TableShape } from '../connectors/types.ts';
import type { Fields, RowWrite } from './plan.ts';

/** A batch cut to a statement limit: rows too large for any statement, and the rest in statements that fit. */
export interface Fitted {
  readonly tooBig: ReadonlyArray<{ readonly row: RowWrite; readonly bytes: number }>;
  readonly chunks: readonly RowWrite[][];
}

/**
 * Cuts `rows` to `limit`. Undefined when the batch fits one statement as it is (the usual case:
 * only the cheap bound of each row is computed). A row is refused only when its exact size alone
 * exceeds the room a statement has; the server would close the connection on it at every try.
 * The rows of a batch are distinct keys, so writing them in several statements keeps every
 * key's order.
 */
export function fitToLimit(rows: readonly RowWrite[], shape: TableShape, limit: StatementLimit): Fitted | undefined {
  const room = limit.maxBytes - limit.baseBytes(shape);
  const sizes = rows.map((r) => limit.rowBytes(r, false));
  if (sizes.reduce((a, b) => a + b, 0) <= room) return undefined;
  const tooBig: Array<{ row: RowWrite; bytes: number }> = [];
  const chunks: RowWrite[][] = [];
  let chunk: RowWrite[] = [];
  let used = 0;
  rows.forEach((row, i) => {
    let bytes = sizes[i] as number;
    if (bytes > room) {
      bytes = limit.rowBytes(row, true);
      if (bytes > room) {
        tooBig.push({ row, bytes });
        return;
      }
    }
    if (chunk.length > 0 && used + bytes > room) {
      chunks.push(chunk);
      chunk = [];
      used = 0;
    }
    chunk.push(row);
    used += bytes;
  });
  if (chunk.length > 0) chunks.push(chunk);
  // The cheap bounds over-counted and exact sizes fit: one statement after all.
  if (tooBig.length === 0 && chunks.length === 1) return undefined;
  return { tooBig, chunks };
}

/** The dead letter of a row larger than a statement may be; its large values are shortened. */
export function tooBigLetter(row: RowWrite, bytes: number, limit: StatementLimit): DeadLetter {
  const error = `key '${row.key}': the row takes ${bytes} bytes in a statement, more than the database accepts in one (${limit.setting} = ${limit.maxBytes}); raise ${limit.setting}, then wb-cli dlq --replay`;
  return { key: row.key, op: row.op, error, acks: row.acks, ...(row.op === 'upsert' ? { fields: shorten(row.fields) } : {}) };
}

/** Values past this many characters are cut in a dead letter: the record is refused for its size. */
const KEPT_CHARS = 1024;

function shorten(fields: Fields): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of fields instanceof Map ? fields : Object.entries(fields)) {
    out[k] = v.length > KEPT_CHARS ? `${v.slice(0, KEPT_CHARS)}… (${v.length} characters)` : v;
  }
  return out;
}

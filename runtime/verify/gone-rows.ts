import type { Redis } from 'ioredis';
import { pipelinedPerKey } from '../redis/nodes.ts';
import type { ConnectorSession, TableShape } from '../connectors/types.ts';

/** One page of the table's ids, and those whose key was gone from Redis when it was looked at. */
export interface GonePage {
  readonly ids: readonly string[];
  readonly gone: readonly string[];
  /** The cursor this page ends at: a pass interrupted here goes on from it. */
  readonly after: string;
}

/**
 * Pages through the table's ids in the key column's own order (`scanIds`, so every row is seen
 * once) and checks each page's keys with one pipelined EXISTS. Starts after `after` when given.
 * Shared by `verify` and the runtime's sweep after a gap; an EXISTS that failed counts as
 * present, since a row is never reported gone on a guess.
 */
export async function* goneRowPages(
  redis: Redis, session: ConnectorSession, table: TableShape, prefix: string, pageSize: number, after?: string,
): AsyncGenerator<GonePage> {
  for (let cursor = after; ; ) {
    const ids = await session.scanIds(table, cursor, pageSize);
    if (ids.length === 0) return;
    cursor = ids[ids.length - 1] as string;
    const res = await pipelinedPerKey(redis, ids.map((id) => `${prefix}:${id}`), 1, (p, k) => p.exists(k));
    yield { ids, gone: ids.filter((id) => res.get(`${prefix}:${id}`)?.[0]?.[1] === 0), after: cursor };
  }
}

/** The namespace both bins use when `--namespace` is not given (see redis/flags.ts). */
const DEFAULT_NAMESPACE = 'wb';

/** The command that deletes a recipe's rows whose key is gone, as one would type it. */
export function deleteGoneRowsCommand(name: string, ns: string): string {
  const quoted = /^[\w.:@%+=,/-]+$/.test(ns) ? ns : `'${ns.replaceAll("'", `'\\''`)}'`;
  return `wb-cli verify ${name} --fix --delete-extra${ns === DEFAULT_NAMESPACE ? '' : ` --namespace ${quoted}`}`;
}

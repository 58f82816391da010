import type { Registration } from '../../recipes/options.ts';

/** The keys a recipe claims: its name, its keysPrefix, and where it writes (`connector.describe()`). */
export interface PrefixClaim {
  readonly name: string;
  readonly keysPrefix: string;
  readonly target: string;
}

/** A registration's claim. */
export function claimOf(reg: Registration): PrefixClaim {
  return { name: reg.name, keysPrefix: reg.keysPrefix, target: reg.connector.describe() };
}

/**
 * Two recipes whose prefixes cover a common key (`sharedKeys`), or that write to one table
 * (`sameTable`), or both.
 */
export interface Overlap {
  readonly a: PrefixClaim;
  readonly b: PrefixClaim;
  readonly sharedKeys: boolean;
  readonly sameTable: boolean;
}

/**
 * True when a key can belong to both prefixes: a prefix covers `<prefix>:*`, so `person` and
 * `person` overlap, `person` and `person:vip` overlap (`person:vip:1`), `person` and `personal`
 * do not.
 */
export function prefixesOverlap(a: string, b: string): boolean {
  return a === b || a.startsWith(`${b}:`) || b.startsWith(`${a}:`);
}

/**
 * The overlaps of `incoming` claims with each other and with `stored` ones: prefixes that cover
 * a common key, and one table written by two recipes whatever their prefixes (ids of both share
 * its key column, and each recipe would take the other's rows for rows of its own whose key is
 * gone). A stored claim with the name of an incoming one is being replaced and is left out.
 */
export function findOverlaps(incoming: readonly PrefixClaim[], stored: readonly PrefixClaim[]): Overlap[] {
  const names = new Set(incoming.map((c) => c.name));
  const others = [...stored.filter((c) => !names.has(c.name))];
  const found: Overlap[] = [];
  for (const [i, a] of incoming.entries()) {
    for (const b of [...incoming.slice(i + 1), ...others]) {
      const sharedKeys = prefixesOverlap(a.keysPrefix, b.keysPrefix);
      const sameTable = a.target === b.target;
      if (sharedKeys || sameTable) found.push({ a, b, sharedKeys, sameTable });
    }
  }
  return found;
}

/** A key both prefixes cover, for the messages. */
function sharedKey(a: string, b: string): string {
  return `${a.length >= b.length ? a : b}:1`;
}

/** One line about an overlap, from `a`'s side. */
export function describeOverlap(o: Overlap): string {
  const { a, b } = o;
  if (!o.sharedKeys) {
    return `'${a.name}' (keysPrefix '${a.keysPrefix}') and '${b.name}' (keysPrefix '${b.keysPrefix}') both write to ${a.target}: ` +
      `ids of both share its key column (${a.keysPrefix}:1 and ${b.keysPrefix}:1 are one row), and each would take the other's rows for its own whose key is gone ` +
      '(the sweep after a gap deletes them with onExpire: \'delete\', verify --delete-extra too)';
  }
  const head = `'${a.name}' (keysPrefix '${a.keysPrefix}') overlaps '${b.name}' (keysPrefix '${b.keysPrefix}')`;
  const key = sharedKey(a.keysPrefix, b.keysPrefix);
  return o.sameTable
    ? `${head} and both write to ${a.target}: a key such as ${key} is written by both into the same row`
    : `${head}: a key such as ${key} is synced by both, to ${a.target} and to ${b.target}`;
}

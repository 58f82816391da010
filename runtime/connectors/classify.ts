import type { FailureKind } from './types.ts';

/*
 * The one rule every connector's errors follow.
 *
 * A failed write is dead-lettered (`record`) only when the database is KNOWN to have refused a
 * row for its own values: a value that does not fit its column, a constraint on the row, bad
 * encoding. Everything else is retried with backoff and shown by `wb-cli status`: `schema` when
 * the recipe and the table are known to disagree, `connection` for errors known to be about the
 * connection or the server's state, and `connection` too for every error the connector does not
 * recognise (an unknown code, no code at all, not even an Error). Retrying an error that was in
 * fact one row's fault holds the backlog up, visibly, until someone looks; dead-lettering one that
 * was not ("table is full", a lost connection, a cancelled query) throws good rows away.
 *
 * Each dialect's `errors.ts` lists the codes it knows and reads an error's codes, most specific
 * first (e.g. a SQLSTATE, then its class); this module decides.
 */

/** What an error that no table lists is: retried (the session reconnects), never dead-lettered. */
export const UNKNOWN_ERROR: FailureKind = 'connection';

/** Numeric codes from `from` to `to`, both included. */
export interface CodeRange {
  readonly from: number;
  readonly to: number;
}

/** A dialect's known codes; a code is listed once, under one kind. */
export interface KnownCodes<C extends string | number> {
  /** Known to be about one row's own values: the row is isolated and dead-lettered. */
  readonly record: readonly (C | CodeRange)[];
  /** Known to mean that the recipe and the table (or the account) disagree: retried, loudly. */
  readonly schema: readonly (C | CodeRange)[];
  /** Known to be about the connection, the server's state, contention or resources: retried. */
  readonly transient: readonly (C | CodeRange)[];
}

/** A dialect's codes and the rule applied to them. */
export interface ErrorRule<C extends string | number> {
  /** The kind a code is listed under, or undefined when no table lists it. */
  kindOf(code: C): FailureKind | undefined;
  /** The kind of the first code (most specific first) a table lists; none listed: {@link UNKNOWN_ERROR}. */
  classify(codes: readonly (C | undefined)[]): FailureKind;
}

const KIND_OF_LIST: Readonly<Record<keyof KnownCodes<string>, FailureKind>> = { record: 'record', schema: 'schema', transient: 'connection' };
const LISTS = ['record', 'schema', 'transient'] as const;

/** Builds a dialect's rule; throws when a code is listed twice or under two kinds (a table's bug). */
export function errorRule<C extends string | number>(known: KnownCodes<C>): ErrorRule<C> {
  const exact = new Map<C, FailureKind>();
  const ranges: Array<CodeRange & { readonly kind: FailureKind }> = [];
  for (const list of LISTS) {
    const kind = KIND_OF_LIST[list];
    for (const entry of known[list]) {
      if (typeof entry === 'object') {
        if (!(entry.from <= entry.to)) throw new Error(`error codes ${entry.from}-${entry.to}: an empty range`);
        const overlap = ranges.find((r) => entry.from <= r.to && r.from <= entry.to);
        if (overlap) throw new Error(`error codes ${entry.from}-${entry.to} overlap ${overlap.from}-${overlap.to}`);
        ranges.push({ from: entry.from, to: entry.to, kind });
      } else {
        if (exact.has(entry)) throw new Error(`error code ${String(entry)} is listed twice`);
        exact.set(entry, kind);
      }
    }
  }
  for (const code of exact.keys()) {
    if (typeof code === 'number' && ranges.some((r) => code >= r.from && code <= r.to)) throw new Error(`error code ${code} is also in a range`);
  }

  const kindOf = (code: C): FailureKind | undefined => {
    const kind = exact.get(code);
    if (kind !== undefined || typeof code !== 'number') return kind;
    return ranges.find((r) => code >= r.from && code <= r.to)?.kind;
  };
  return {
    kindOf,
    classify(codes: readonly (C | undefined)[]): FailureKind {
      for (const code of codes) {
        const kind = code === undefined ? undefined : kindOf(code);
        if (kind !== undefined) return kind;
      }
      return UNKNOWN_ERROR;
    },
  };
}

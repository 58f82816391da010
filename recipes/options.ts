import { BaseConnector } from './connectors/base.ts';
import type { CassandraConnector } from './connectors/cassandra.ts';
import type { MySqlConnector } from './connectors/mysql.ts';
import type { OracleConnector } from './connectors/oracle.ts';
import type { PostgresConnector } from './connectors/postgres.ts';
import type { SnowflakeConnector } from './connectors/snowflake.ts';
import type { SqliteConnector } from './connectors/sqlite.ts';
import { RecipeError } from './errors.ts';
import { isVersion } from './version.ts';

/** Any connector a registration can write through. */
export type Connector = MySqlConnector | PostgresConnector | SqliteConnector | CassandraConnector | OracleConnector | SnowflakeConnector;

/** What happens to the row when its key expires or is evicted from Redis. */
export type ExpirePolicy = 'keep' | 'delete';

/**
 * How the table's key column compares ids: `exact` (default: binary, no padding, so two
 * different ids are two rows) or `inexact`, an explicit acceptance that ids differing only in
 * case, accents or trailing spaces share one row (and that deleting one deletes the other's).
 */
export type KeyMatch = 'exact' | 'inexact';

/** Options of {@link writeBehind}. */
export interface WriteBehindOptions {
  /** Unique per Redis deployment; letters, digits, `_`, `-`, `.`. */
  readonly name: string;
  /** Dotted number (`1`, `1.2`, `1.10.0`); an upload must raise it to replace a registered recipe. */
  readonly version: string;
  /** Where records are written. */
  readonly connector: Connector;
  /** Keys `{keysPrefix}:{id}` are covered; the id is everything after the first `{keysPrefix}:`. */
  readonly keysPrefix: string;
  /** Hash field → column. Fields without a mapping are ignored; an absent mapped field is written as NULL. */
  readonly mappings: Readonly<Record<string, string>>;
  /** `keep` (default): an expired or evicted key leaves its row. `delete`: expiry deletes the row. */
  readonly onExpire?: ExpirePolicy;
  /**
   * What to do when Redis loses every key at once (FLUSHDB/FLUSHALL, or a restart without
   * persistence), which publishes no events: `keep` (default) leaves the rows and logs loudly;
   * `delete` deletes the rows whose keys are gone.
   */
  readonly onFlush?: ExpirePolicy;
  /** Most records written in one transaction (default 1000); fewer when fewer are waiting. */
  readonly batchSize?: number;
  /**
   * Database sessions writing at once (default 2; SQLite always 1). Keys are spread over them
   * by hash, so each key's changes stay in order.
   */
  readonly parallelism?: number;
  /**
   * `exact` (default): `wb-cli check` and `upload` refuse a text key column whose comparison is
   * not exact (a case- or accent-insensitive collation, or one that pads trailing spaces), since
   * `person:Ada` and `person:ada` would then share one row. `inexact` accepts that.
   */
  readonly keyMatch?: KeyMatch;
  /**
   * The most records the recipe's backlog may hold in Redis (default 1,000,000). While the
   * database is away the backlog grows; past this bound changes are no longer captured, the
   * recipe is marked overflowed, and once the backlog has drained to half of it a reconcile and
   * a sweep catch up: Redis memory stays bounded, and no final state is lost.
   */
  readonly maxBacklog?: number;
  /**
   * How many partitions the recipe's backlog is split into (default 8, from 1 to 64). A key's
   * changes always go to the same partition, so they stay in order; partitions are what several
   * runtimes share (each written by one runtime at a time), so this is the most runtimes that
   * can write the recipe at once. Fixed once uploaded: an upload that changes it is refused.
   */
  readonly partitions?: number;
}

/** Options of {@link writeThrough}: those of write-behind plus where the application stages writes. */
export interface WriteThroughOptions extends WriteBehindOptions {
  /**
   * The application writes `HSET {stagingPrefix}{<keysPrefix>:<id>} ...` (default `__`, so
   * `__{person:1}`); the change reaches `person:1` only after the database has it.
   */
  readonly stagingPrefix?: string;
}

/** A validated, fully defaulted registration, as the runtime consumes it. */
export interface Registration {
  readonly kind: 'writeBehind' | 'writeThrough';
  /** Write-through only: the prefix of staging keys (`__` by default). */
  readonly stagingPrefix: string;
  readonly name: string;
  readonly version: string;
  readonly connector: Connector;
  readonly keysPrefix: string;
  readonly mappings: Readonly<Record<string, string>>;
  readonly onExpire: ExpirePolicy;
  readonly onFlush: ExpirePolicy;
  readonly batchSize: number;
  readonly parallelism: number;
  readonly keyMatch: KeyMatch;
  readonly maxBacklog: number;
  readonly partitions: number;
}

/**
 * Backlog partitions: 8 by default, enough to spread a recipe evenly (±1) over the few runtimes
 * a namespace usually runs (two to four) while each read and each finish stays cheap; at most
 * 64, since every read of the backlog names each partition's stream.
 */
export const PARTITIONS = { min: 1, max: 64, default: 8 } as const;

/** `maxBacklog` in records: a bound of a few dozen would overflow at every ordinary burst. */
const MAX_BACKLOG = { min: 100, max: 1_000_000_000, default: 1_000_000 } as const;

const REGISTRATION = Symbol.for('wbsync.registration');
const NAME = /^[A-Za-z0-9_.-]+$/;

/** True for a value produced by {@link compileWriteBehind}. */
export function isRegistration(value: unknown): value is Registration {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[REGISTRATION] === true;
}

/** Validates options once; every error names the field. */
export function compileWriteBehind(options: WriteBehindOptions): Registration {
  return compile(options, 'writeBehind');
}

/** Validates write-through options once; every error names the field. */
export function compileWriteThrough(options: WriteThroughOptions): Registration {
  return compile(options, 'writeThrough');
}

function compile(options: WriteThroughOptions, where: 'writeBehind' | 'writeThrough'): Registration {
  if (typeof options !== 'object' || options === null) throw new RecipeError(`${where} needs an options object`);
  const o = options as unknown as Record<string, unknown>;
  const name = o['name'];
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new RecipeError(`${where} name must be a non-empty string of letters, digits, '_', '-' or '.' (got ${show(name)})`);
  }
  const at = `${where} '${name}'`;
  if (!isVersion(o['version'])) {
    throw new RecipeError(`${at}: version must be a dotted number such as '1' or '1.2.0' (got ${show(o['version'])})`);
  }
  if (!(o['connector'] instanceof BaseConnector)) {
    throw new RecipeError(`${at}: connector must be a connector such as new MySqlConnector(...) or new PostgresConnector(...)`);
  }
  const connector = o['connector'] as Connector;
  const keysPrefix = o['keysPrefix'];
  if (typeof keysPrefix !== 'string' || keysPrefix === '') {
    throw new RecipeError(`${at}: keysPrefix must be a non-empty string (got ${show(keysPrefix)})`);
  }
  if (/[*?[\]\\]/.test(keysPrefix)) {
    throw new RecipeError(`${at}: keysPrefix must not contain '*', '?', '[', ']' or '\\' (got '${keysPrefix}'); it is a plain prefix, keys '${keysPrefix.replace(/[*?[\]\\]/g, '')}:{id}' are covered`);
  }
  if (keysPrefix.endsWith(':')) {
    throw new RecipeError(`${at}: keysPrefix must not end with ':' (got '${keysPrefix}'); write '${keysPrefix.slice(0, -1)}', the ':' is added for you`);
  }
  const mappings = compileMappings(o['mappings'], connector.pkColumn, at);
  const onExpire = o['onExpire'] ?? 'keep';
  if (onExpire !== 'keep' && onExpire !== 'delete') {
    throw new RecipeError(`${at}: onExpire must be 'keep' or 'delete' (got ${show(onExpire)})`);
  }
  const onFlush = o['onFlush'] ?? 'keep';
  if (onFlush !== 'keep' && onFlush !== 'delete') {
    throw new RecipeError(`${at}: onFlush must be 'keep' or 'delete' (got ${show(onFlush)})`);
  }
  const batchSize = o['batchSize'] ?? 1000;
  if (typeof batchSize !== 'number' || !Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) {
    throw new RecipeError(`${at}: batchSize must be an integer from 1 to 10000 (got ${show(batchSize)})`);
  }
  const parallelism = o['parallelism'] ?? 2;
  if (typeof parallelism !== 'number' || !Number.isInteger(parallelism) || parallelism < 1 || parallelism > 16) {
    throw new RecipeError(`${at}: parallelism must be an integer from 1 to 16 (got ${show(parallelism)})`);
  }
  const keyMatch = o['keyMatch'] ?? 'exact';
  if (keyMatch !== 'exact' && keyMatch !== 'inexact') {
    throw new RecipeError(`${at}: keyMatch must be 'exact' or 'inexact' (got ${show(keyMatch)})`);
  }
  const maxBacklog = o['maxBacklog'] ?? MAX_BACKLOG.default;
  if (typeof maxBacklog !== 'number' || !Number.isInteger(maxBacklog) || maxBacklog < MAX_BACKLOG.min || maxBacklog > MAX_BACKLOG.max) {
    throw new RecipeError(`${at}: maxBacklog must be an integer from ${MAX_BACKLOG.min} to ${MAX_BACKLOG.max} records (got ${show(maxBacklog)})`);
  }
  const partitions = o['partitions'] ?? PARTITIONS.default;
  if (typeof partitions !== 'number' || !Number.isInteger(partitions) || partitions < PARTITIONS.min || partitions > PARTITIONS.max) {
    throw new RecipeError(`${at}: partitions must be an integer from ${PARTITIONS.min} to ${PARTITIONS.max} (got ${show(partitions)})`);
  }
  const stagingPrefix = where === 'writeThrough' ? (o['stagingPrefix'] ?? '__') : '';
  if (typeof stagingPrefix !== 'string' || (where === 'writeThrough' && stagingPrefix === '') || /[*?[\]\\{}]/.test(stagingPrefix)) {
    throw new RecipeError(`${at}: stagingPrefix must be a non-empty string without '*', '?', '[', ']', '\\', '{' or '}' (got ${show(stagingPrefix)})`);
  }
  if (where === 'writeBehind' && o['stagingPrefix'] !== undefined) {
    throw new RecipeError(`${at}: stagingPrefix applies to writeThrough only; use writeThrough({...}) to stage writes`);
  }
  const registration: Registration = {
    kind: where, name, version: o['version'], connector, keysPrefix, mappings, onExpire, onFlush, batchSize, parallelism, keyMatch, maxBacklog, partitions, stagingPrefix,
  };
  Object.defineProperty(registration, REGISTRATION, { value: true, enumerable: false });
  return Object.freeze(registration);
}

function compileMappings(value: unknown, pkColumn: string, at: string): Readonly<Record<string, string>> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new RecipeError(`${at}: mappings must be an object of hash field -> column (got ${show(value)})`);
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) throw new RecipeError(`${at}: mappings must map at least one hash field to a column`);
  const seen = new Map<string, string>();
  for (const [field, column] of entries) {
    if (field === '' || field === '#') {
      throw new RecipeError(`${at}: mappings has an invalid field name ${show(field)} ('#' is reserved for the sync protocol)`);
    }
    if (typeof column !== 'string' || column.trim() === '') {
      throw new RecipeError(`${at}: mappings.${field} must be a non-empty column name (got ${show(column)})`);
    }
    // MySQL and most databases compare column names without regard to case.
    if (column.toLowerCase() === pkColumn.toLowerCase()) {
      throw new RecipeError(`${at}: mappings.${field} maps to the primary-key column '${pkColumn}', which always receives the id from the key; remove that mapping`);
    }
    const other = seen.get(column.toLowerCase());
    if (other !== undefined) {
      throw new RecipeError(`${at}: mappings.${field} and mappings.${other} both map to column '${column}'`);
    }
    seen.set(column.toLowerCase(), field);
  }
  return Object.freeze(Object.fromEntries(entries as [string, string][]));
}

function show(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (value === undefined) return 'nothing';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * The wbsync recipe SDK: what a recipe module imports.
 *
 * A recipe's default export is a registration (or an array of them) built with {@link writeBehind}.
 * @packageDocumentation
 */
import { compileWriteBehind, compileWriteThrough, type Registration, type WriteBehindOptions, type WriteThroughOptions } from './options.ts';

export { configGet } from './config-get.ts';
export type { Credential } from './credential.ts';
export { CassandraConnection, CassandraConnector, type CassandraConnectionOptions } from './connectors/cassandra.ts';
export { MySqlConnection, MySqlConnector, type MySqlConnectionOptions } from './connectors/mysql.ts';
export { OracleConnection, OracleConnector, type OracleConnectionOptions } from './connectors/oracle.ts';
export { PostgresConnection, PostgresConnector, type PostgresConnectionOptions } from './connectors/postgres.ts';
export { SnowflakeConnection, SnowflakeConnector, type SnowflakeConnectionOptions, type SnowflakeExtraOptions } from './connectors/snowflake.ts';
export { SqliteConnection, SqliteConnector, type SqliteConnectionOptions } from './connectors/sqlite.ts';
export { RecipeError } from './errors.ts';
export type { Connector, ExpirePolicy, Registration, WriteBehindOptions, WriteThroughOptions } from './options.ts';

/**
 * Declares a write-behind registration: every change of a `{keysPrefix}:{id}` hash is synced,
 * asynchronously, to the connector's table.
 *
 * @throws RecipeError naming the invalid field.
 */
export function writeBehind(options: WriteBehindOptions): Registration {
  return compileWriteBehind(options);
}

/**
 * Declares a write-through registration. The application writes to a staging key,
 * `HSET __{person:1} first_name Ada` (RGSync's client protocol); the runtime writes the merged
 * record (the current `person:1` overlaid with the staged fields) to the database first, and
 * only then merges the staged fields into `person:1` and removes the staging key. A `#` field
 * (`# =<ackId>`) asks for an acknowledgement on stream `{person:1}<ackId>`.
 *
 * @throws RecipeError naming the invalid field.
 */
export function writeThrough(options: WriteThroughOptions): Registration {
  return compileWriteThrough(options);
}

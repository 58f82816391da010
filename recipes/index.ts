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
export type { Connector, ExpirePolicy, KeyMatch, Registration, WriteBehindOptions, WriteThroughOptions } from './options.ts';

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
 * `HSET __{person:1} first_name Ada` (RGSync's client protocol). The runtime takes the staged
 * fields at once (the staging key is removed), writes the merged record (the current `person:1`
 * overlaid with them) to the database, and only after the commit merges them into `person:1`;
 * a refused write leaves `person:1` untouched. A `#` field
 * (`# =<ackId>`) asks for an acknowledgement on stream `{person:1}<ackId>`.
 *
 * @throws RecipeError naming the invalid field.
 */
export function writeThrough(options: WriteThroughOptions): Registration {
  return compileWriteThrough(options);
}

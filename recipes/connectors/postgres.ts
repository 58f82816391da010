import type { Credential } from '../credential.ts';
import { BaseConnector } from './base.ts';
import { HostDbConnection, type HostDbConnectionOptions } from './host-db-connection.ts';

/** The single-object form of {@link PostgresConnection}. */
export type PostgresConnectionOptions = HostDbConnectionOptions;

/**
 * How to reach a PostgreSQL server.
 *
 * @example
 * new PostgresConnection(() => configGet('PgUser'), () => configGet('PgPassword'), 'localhost:5432/test')
 */
export class PostgresConnection extends HostDbConnection {
  readonly kind = 'postgres';

  /**
   * @param user - user name, or a function returning it at each connection attempt
   * @param password - password, or a function returning it at each connection attempt
   * @param db - `host[:port]/database`; the port defaults to 5432
   */
  constructor(user: Credential, password: Credential, db: string);
  constructor(options: PostgresConnectionOptions);
  constructor(user: Credential | PostgresConnectionOptions, password?: Credential, db?: string) {
    super(5432, user, password, db);
  }
}

/** Writes into one PostgreSQL table with `INSERT ... ON CONFLICT (pk) DO UPDATE` and `DELETE`. */
export class PostgresConnector extends BaseConnector<PostgresConnection> {
  readonly kind = 'postgres';

  /**
   * @param connection - where the table lives
   * @param table - table name (`table` or `schema.table`)
   * @param pkColumn - primary-key column; it receives the id taken from the Redis key
   */
  constructor(connection: PostgresConnection, table: string, pkColumn: string) {
    super(connection, table, pkColumn, PostgresConnection);
  }
}

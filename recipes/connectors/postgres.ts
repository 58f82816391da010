import type { Credential } from '../credential.ts';
import { BaseConnector, credential, isOptionsObject, type ConnectionSpec } from './base.ts';
import { parseHostDb } from './host-db.ts';

/** The single-object form of {@link PostgresConnection}. */
export interface PostgresConnectionOptions {
  readonly user: Credential;
  readonly password: Credential;
  readonly host: string;
  readonly port?: number;
  readonly database: string;
}

/**
 * How to reach a PostgreSQL server.
 *
 * @example
 * new PostgresConnection(() => configGet('PgUser'), () => configGet('PgPassword'), 'localhost:5432/test')
 */
export class PostgresConnection implements ConnectionSpec {
  readonly kind = 'postgres';
  readonly user: Credential;
  readonly password: Credential;
  readonly host: string;
  readonly port: number;
  readonly database: string;

  /**
   * @param user - user name, or a function returning it at each connection attempt
   * @param password - password, or a function returning it at each connection attempt
   * @param db - `host[:port]/database`; the port defaults to 5432
   */
  constructor(user: Credential, password: Credential, db: string);
  constructor(options: PostgresConnectionOptions);
  constructor(user: Credential | PostgresConnectionOptions, password?: Credential, db?: string) {
    const o = isOptionsObject(user) ? user : undefined;
    this.user = credential(o ? o['user'] : user, 'PostgresConnection user');
    this.password = credential(o ? o['password'] : password, 'PostgresConnection password');
    const parsed = o
      ? parseHostDb(`${String(o['host'])}:${String(o['port'] ?? 5432)}/${String(o['database'])}`, 5432, 'PostgresConnection host/port/database')
      : parseHostDb(db, 5432, 'PostgresConnection db');
    this.host = parsed.host;
    this.port = parsed.port;
    this.database = parsed.database;
  }

  describe(): string {
    return `${this.host}:${this.port}/${this.database}`;
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

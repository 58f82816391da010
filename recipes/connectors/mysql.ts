import type { Credential } from '../credential.ts';
import { BaseConnector, credential, isOptionsObject, type ConnectionSpec } from './base.ts';
import { parseHostDb } from './host-db.ts';

/** The single-object form of {@link MySqlConnection}. */
export interface MySqlConnectionOptions {
  readonly user: Credential;
  readonly password: Credential;
  readonly host: string;
  readonly port?: number;
  readonly database: string;
}

/**
 * How to reach a MySQL or MariaDB server. Pure data: nothing connects until the runtime does.
 *
 * @example
 * new MySqlConnection(() => configGet('MySqlUser'), () => configGet('MySqlPassword'), 'localhost:3306/test')
 */
export class MySqlConnection implements ConnectionSpec {
  readonly kind = 'mysql';
  readonly user: Credential;
  readonly password: Credential;
  readonly host: string;
  readonly port: number;
  readonly database: string;

  /**
   * @param user - user name, or a function returning it at each connection attempt
   * @param password - password, or a function returning it at each connection attempt
   * @param db - `host[:port]/database`; the port defaults to 3306
   */
  constructor(user: Credential, password: Credential, db: string);
  constructor(options: MySqlConnectionOptions);
  constructor(user: Credential | MySqlConnectionOptions, password?: Credential, db?: string) {
    const o = isOptionsObject(user) ? user : undefined;
    this.user = credential(o ? o['user'] : user, 'MySqlConnection user');
    this.password = credential(o ? o['password'] : password, 'MySqlConnection password');
    const parsed = o
      ? parseHostDb(`${String(o['host'])}:${String(o['port'] ?? 3306)}/${String(o['database'])}`, 3306, 'MySqlConnection host/port/database')
      : parseHostDb(db, 3306, 'MySqlConnection db');
    this.host = parsed.host;
    this.port = parsed.port;
    this.database = parsed.database;
  }

  /** `host:port/database`, safe to log (no credentials). */
  describe(): string {
    return `${this.host}:${this.port}/${this.database}`;
  }
}

/**
 * Writes a recipe's records into one MySQL/MariaDB table with multi-row
 * `INSERT ... ON DUPLICATE KEY UPDATE` and `DELETE`, one transaction per batch.
 */
export class MySqlConnector extends BaseConnector<MySqlConnection> {
  readonly kind = 'mysql';

  /**
   * @param connection - where the table lives
   * @param table - table name (`table` or `database.table`)
   * @param pkColumn - primary-key column; it receives the id taken from the Redis key
   */
  constructor(connection: MySqlConnection, table: string, pkColumn: string) {
    super(connection, table, pkColumn, MySqlConnection);
  }
}

import type { Credential } from '../credential.ts';
import { BaseConnector } from './base.ts';
import { HostDbConnection, type HostDbConnectionOptions } from './host-db-connection.ts';

/** The single-object form of {@link MySqlConnection}. */
export type MySqlConnectionOptions = HostDbConnectionOptions;

/**
 * How to reach a MySQL or MariaDB server. Pure data: nothing connects until the runtime does.
 *
 * @example
 * new MySqlConnection(() => configGet('MySqlUser'), () => configGet('MySqlPassword'), 'localhost:3306/test')
 */
export class MySqlConnection extends HostDbConnection {
  readonly kind = 'mysql';

  /**
   * @param user - user name, or a function returning it at each connection attempt
   * @param password - password, or a function returning it at each connection attempt
   * @param db - `host[:port]/database`; the port defaults to 3306
   */
  constructor(user: Credential, password: Credential, db: string);
  constructor(options: MySqlConnectionOptions);
  constructor(user: Credential | MySqlConnectionOptions, password?: Credential, db?: string) {
    super(3306, user, password, db);
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

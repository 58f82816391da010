import { type Credential, isCredential } from '../credential.ts';
import { RecipeError } from '../errors.ts';
import { parseHostDb } from './host-db.ts';

/**
 * How to reach a MySQL or MariaDB server. Pure data: nothing connects until the runtime does.
 *
 * @example
 * new MySqlConnection(() => configGet('MySqlUser'), () => configGet('MySqlPassword'), 'localhost:3306/test')
 */
export class MySqlConnection {
  readonly kind = 'mysql';
  readonly host: string;
  readonly port: number;
  readonly database: string;

  /**
   * @param user - user name, or a function returning it at each connection attempt
   * @param password - password, or a function returning it at each connection attempt
   * @param db - `host[:port]/database`; the port defaults to 3306
   */
  constructor(
    readonly user: Credential,
    readonly password: Credential,
    db: string,
  ) {
    if (!isCredential(user)) throw new RecipeError('MySqlConnection user must be a string or a function');
    if (!isCredential(password)) throw new RecipeError('MySqlConnection password must be a string or a function');
    const parsed = parseHostDb(db, 3306, 'MySqlConnection db');
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
export class MySqlConnector {
  readonly kind = 'mysql';

  /**
   * @param connection - where the table lives
   * @param table - table name (`table` or `database.table`)
   * @param pkColumn - primary-key column; it receives the id taken from the Redis key
   */
  constructor(
    readonly connection: MySqlConnection,
    readonly table: string,
    readonly pkColumn: string,
  ) {
    if (!(connection instanceof MySqlConnection)) {
      throw new RecipeError('MySqlConnector connection must be a MySqlConnection');
    }
    if (typeof table !== 'string' || table.trim() === '') {
      throw new RecipeError('MySqlConnector table must be a non-empty string');
    }
    if (typeof pkColumn !== 'string' || pkColumn.trim() === '') {
      throw new RecipeError('MySqlConnector pkColumn must be a non-empty string');
    }
  }

  /** `mysql host:port/database table`, safe to log. */
  describe(): string {
    return `mysql ${this.connection.describe()} table ${this.table}`;
  }
}

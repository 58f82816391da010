import { RecipeError } from '../errors.ts';
import { BaseConnector, isOptionsObject, nonEmpty, type ConnectionSpec } from './base.ts';

/** The single-object form of {@link SqliteConnection}. */
export interface SqliteConnectionOptions {
  readonly path: string;
}

/** An SQLite database file (created if missing), opened by the runtime with better-sqlite3. */
export class SqliteConnection implements ConnectionSpec {
  readonly kind = 'sqlite';
  readonly path: string;

  /** @param path - database file; `:memory:` is refused (it would vanish with the runtime) */
  constructor(path: string | SqliteConnectionOptions) {
    this.path = nonEmpty(isOptionsObject(path) ? path['path'] : path, 'SqliteConnection path');
    if (this.path === ':memory:') throw new RecipeError('SqliteConnection path must be a file; :memory: would lose every row when the runtime stops');
  }

  describe(): string {
    return this.path;
  }
}

/** Writes into one SQLite table with `INSERT ... ON CONFLICT (pk) DO UPDATE` (unmapped columns kept). */
export class SqliteConnector extends BaseConnector<SqliteConnection> {
  readonly kind = 'sqlite';

  constructor(connection: SqliteConnection, table: string, pkColumn: string) {
    super(connection, table, pkColumn, SqliteConnection);
  }
}

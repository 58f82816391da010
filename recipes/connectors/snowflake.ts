import type { Credential } from '../credential.ts';
import { RecipeError } from '../errors.ts';
import { BaseConnector, credential, isOptionsObject, nonEmpty, type ConnectionSpec } from './base.ts';

/** Extra Snowflake session settings. */
export interface SnowflakeExtraOptions {
  readonly warehouse?: string;
  readonly role?: string;
}

/** The single-object form of {@link SnowflakeConnection}. */
export interface SnowflakeConnectionOptions extends SnowflakeExtraOptions {
  readonly user: Credential;
  readonly password: Credential;
  readonly account: string;
  readonly database: string;
  readonly schema?: string;
}

/**
 * How to reach Snowflake.
 *
 * @example
 * new SnowflakeConnection(() => configGet('SfUser'), () => configGet('SfPassword'), 'myorg-acct/SALES/PUBLIC', { warehouse: 'WH' })
 */
export class SnowflakeConnection implements ConnectionSpec {
  readonly kind = 'snowflake';
  readonly user: Credential;
  readonly password: Credential;
  readonly account: string;
  readonly database: string;
  readonly schema: string;
  readonly warehouse: string | undefined;
  readonly role: string | undefined;

  /** @param target - `account/database[/schema]`; the schema defaults to PUBLIC */
  constructor(user: Credential, password: Credential, target: string, options?: SnowflakeExtraOptions);
  constructor(options: SnowflakeConnectionOptions);
  constructor(user: Credential | SnowflakeConnectionOptions, password?: Credential, target?: string, options?: SnowflakeExtraOptions) {
    let o: Record<string, unknown>;
    if (isOptionsObject(user)) o = user;
    else {
      const parts = typeof target === 'string' ? target.split('/') : [];
      if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === '')) {
        throw new RecipeError(`SnowflakeConnection target must look like 'account/database[/schema]' (got ${JSON.stringify(target)})`);
      }
      o = { user, password, account: parts[0], database: parts[1], schema: parts[2], ...(options ?? {}) };
    }
    this.user = credential(o['user'], 'SnowflakeConnection user');
    this.password = credential(o['password'], 'SnowflakeConnection password');
    this.account = nonEmpty(o['account'], 'SnowflakeConnection account');
    this.database = nonEmpty(o['database'], 'SnowflakeConnection database');
    this.schema = o['schema'] === undefined ? 'PUBLIC' : nonEmpty(o['schema'], 'SnowflakeConnection schema');
    this.warehouse = o['warehouse'] === undefined ? undefined : nonEmpty(o['warehouse'], 'SnowflakeConnection warehouse');
    this.role = o['role'] === undefined ? undefined : nonEmpty(o['role'], 'SnowflakeConnection role');
  }

  describe(): string {
    return `${this.account}/${this.database}/${this.schema}`;
  }
}

/** Writes into one Snowflake table with a set-based `MERGE` over a bound multi-row source. */
export class SnowflakeConnector extends BaseConnector<SnowflakeConnection> {
  readonly kind = 'snowflake';

  constructor(connection: SnowflakeConnection, table: string, pkColumn: string) {
    super(connection, table, pkColumn, SnowflakeConnection);
  }
}

import type { Credential } from '../credential.ts';
import { BaseConnector, credential, isOptionsObject, nonEmpty, type ConnectionSpec } from './base.ts';

/** The single-object form of {@link OracleConnection}. */
export interface OracleConnectionOptions {
  readonly user: Credential;
  readonly password: Credential;
  /** Easy Connect string such as `dbhost:1521/ORCLPDB1`, or a TNS alias. */
  readonly connectString: string;
}

/** How to reach an Oracle database (node-oracledb thin mode: no Instant Client needed). */
export class OracleConnection implements ConnectionSpec {
  readonly kind = 'oracle';
  readonly user: Credential;
  readonly password: Credential;
  readonly connectString: string;

  constructor(user: Credential, password: Credential, connectString: string);
  constructor(options: OracleConnectionOptions);
  constructor(user: Credential | OracleConnectionOptions, password?: Credential, connectString?: string) {
    const o = isOptionsObject(user) ? user : undefined;
    this.user = credential(o ? o['user'] : user, 'OracleConnection user');
    this.password = credential(o ? o['password'] : password, 'OracleConnection password');
    this.connectString = nonEmpty(o ? o['connectString'] : connectString, 'OracleConnection connectString');
  }

  describe(): string {
    return this.connectString;
  }
}

/** Writes into one Oracle table with `MERGE` (executeMany) and `DELETE`. */
export class OracleConnector extends BaseConnector<OracleConnection> {
  readonly kind = 'oracle';

  constructor(connection: OracleConnection, table: string, pkColumn: string) {
    super(connection, table, pkColumn, OracleConnection);
  }
}

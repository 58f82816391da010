import type { Credential } from '../credential.ts';
import { credential, isOptionsObject, type ConnectionSpec, type ConnectorKind } from './base.ts';
import { parseHostDb } from './host-db.ts';

/** The single-object form of a connection to a server database (MySQL, PostgreSQL). */
export interface HostDbConnectionOptions {
  readonly user: Credential;
  readonly password: Credential;
  readonly host: string;
  readonly port?: number;
  readonly database: string;
}

/** A user, a password and `host[:port]/database`: what MySQL and PostgreSQL connections share. */
export abstract class HostDbConnection implements ConnectionSpec {
  abstract readonly kind: ConnectorKind;
  readonly user: Credential;
  readonly password: Credential;
  readonly host: string;
  readonly port: number;
  readonly database: string;

  protected constructor(defaultPort: number, user: Credential | HostDbConnectionOptions, password?: Credential, db?: string) {
    const name = new.target.name;
    const o = isOptionsObject(user) ? user : undefined;
    this.user = credential(o ? o['user'] : user, `${name} user`);
    this.password = credential(o ? o['password'] : password, `${name} password`);
    const parsed = o
      ? parseHostDb(`${String(o['host'])}:${String(o['port'] ?? defaultPort)}/${String(o['database'])}`, defaultPort, `${name} host/port/database`)
      : parseHostDb(db, defaultPort, `${name} db`);
    this.host = parsed.host;
    this.port = parsed.port;
    this.database = parsed.database;
  }

  /** `host:port/database`, safe to log (no credentials). */
  describe(): string {
    return `${this.host}:${this.port}/${this.database}`;
  }
}

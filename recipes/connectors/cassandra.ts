import type { Credential } from '../credential.ts';
import { RecipeError } from '../errors.ts';
import { BaseConnector, credential, isOptionsObject, nonEmpty, type ConnectionSpec } from './base.ts';

/** Options of {@link CassandraConnection} beyond the contact points. */
export interface CassandraConnectionOptions {
  readonly user?: Credential;
  readonly password?: Credential;
  /** `host1[:port],host2`; the port defaults to 9042 */
  readonly contactPoints?: string | readonly string[];
  readonly localDataCenter: string;
  readonly keyspace: string;
}

/**
 * How to reach a Cassandra cluster.
 *
 * @example
 * new CassandraConnection(() => configGet('CassUser'), () => configGet('CassPassword'), '10.0.0.1,10.0.0.2:9042',
 *   { localDataCenter: 'datacenter1', keyspace: 'app' })
 */
export class CassandraConnection implements ConnectionSpec {
  readonly kind = 'cassandra';
  readonly user: Credential | undefined;
  readonly password: Credential | undefined;
  readonly contactPoints: readonly string[];
  readonly localDataCenter: string;
  readonly keyspace: string;

  constructor(user: Credential | undefined, password: Credential | undefined, contactPoints: string, options: Pick<CassandraConnectionOptions, 'localDataCenter' | 'keyspace'>);
  constructor(options: CassandraConnectionOptions);
  constructor(
    user: Credential | undefined | CassandraConnectionOptions,
    password?: Credential,
    contactPoints?: string,
    options?: Pick<CassandraConnectionOptions, 'localDataCenter' | 'keyspace'>,
  ) {
    const o: Record<string, unknown> = isOptionsObject(user) ? user : { user, password, contactPoints, ...(options ?? {}) };
    this.user = o['user'] === undefined ? undefined : credential(o['user'], 'CassandraConnection user');
    this.password = o['password'] === undefined ? undefined : credential(o['password'], 'CassandraConnection password');
    if ((this.user === undefined) !== (this.password === undefined)) throw new RecipeError('CassandraConnection needs both user and password, or neither');
    const points = typeof o['contactPoints'] === 'string' ? o['contactPoints'].split(',') : o['contactPoints'];
    if (!Array.isArray(points) || points.length === 0 || points.some((p) => typeof p !== 'string' || p.trim() === '')) {
      throw new RecipeError("CassandraConnection contactPoints must look like 'host1[:port],host2'");
    }
    this.contactPoints = points.map((p: string) => p.trim());
    this.localDataCenter = nonEmpty(o['localDataCenter'], 'CassandraConnection localDataCenter');
    this.keyspace = nonEmpty(o['keyspace'], 'CassandraConnection keyspace');
  }

  describe(): string {
    return `${this.contactPoints.join(',')}/${this.keyspace}`;
  }
}

/** Writes into one Cassandra table with prepared `UPDATE ... SET` and `DELETE`, batched per partition. */
export class CassandraConnector extends BaseConnector<CassandraConnection> {
  readonly kind = 'cassandra';

  constructor(connection: CassandraConnection, table: string, pkColumn: string) {
    super(connection, table, pkColumn, CassandraConnection);
  }
}

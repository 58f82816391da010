import { BaseConnector } from '../../recipes/connectors/base.ts';
import { CassandraConnection, CassandraConnector } from '../../recipes/connectors/cassandra.ts';
import { MySqlConnection, MySqlConnector } from '../../recipes/connectors/mysql.ts';
import { OracleConnection, OracleConnector } from '../../recipes/connectors/oracle.ts';
import { PostgresConnection, PostgresConnector } from '../../recipes/connectors/postgres.ts';
import { SnowflakeConnection, SnowflakeConnector } from '../../recipes/connectors/snowflake.ts';
import { SqliteConnection, SqliteConnector } from '../../recipes/connectors/sqlite.ts';
import type { Credential } from '../../recipes/credential.ts';
import { compileWriteBehind, compileWriteThrough, type Connector, type Registration } from '../../recipes/options.ts';

/**
 * A registration as it crosses from a recipe's sandbox to the runtime: plain data, every
 * function (a credential) replaced by its number in the sandbox's function table.
 */
export interface WireRegistration {
  readonly options: Record<string, unknown>;
  readonly kind: Registration['kind'];
  readonly connector: {
    readonly kind: Connector['kind'];
    readonly table: string;
    readonly pkColumn: string;
    readonly connection: Record<string, WireValue>;
  };
}

/** A connection field: data as it is, a function as `{ fn }`. */
export type WireValue = string | number | boolean | null | undefined | readonly string[] | { readonly fn: number };

const CLASSES = {
  mysql: [MySqlConnection, MySqlConnector],
  postgres: [PostgresConnection, PostgresConnector],
  sqlite: [SqliteConnection, SqliteConnector],
  cassandra: [CassandraConnection, CassandraConnector],
  oracle: [OracleConnection, OracleConnector],
  snowflake: [SnowflakeConnection, SnowflakeConnector],
} as const;

/** In the sandbox: a registration as data, its functions kept in `functions`. */
export function toWire(reg: Registration, functions: Array<() => unknown>): WireRegistration {
  const connection: Record<string, WireValue> = {};
  for (const [field, value] of Object.entries(reg.connector.connection)) {
    if (typeof value === 'function') {
      functions.push(value as () => unknown);
      connection[field] = { fn: functions.length - 1 };
    } else {
      connection[field] = value as WireValue;
    }
  }
  const { connector: _connector, kind, ...options } = reg;
  return { kind, options, connector: { kind: reg.connector.kind, table: reg.connector.table, pkColumn: reg.connector.pkColumn, connection } };
}

/**
 * In the runtime: the registration again, with the SDK's own classes (so `describe()` and the
 * checks work) and each function replaced by `call(fn)`, which runs it in the sandbox.
 */
export function fromWire(wire: WireRegistration, call: (fn: number) => Promise<unknown>): Registration {
  const classes = CLASSES[wire.connector.kind];
  if (classes === undefined) throw new Error(`unknown connector kind '${String(wire.connector.kind)}'`);
  const [ConnectionClass, ConnectorClass] = classes;
  const connection = Object.create(ConnectionClass.prototype) as Record<string, unknown>;
  for (const [field, value] of Object.entries(wire.connector.connection)) {
    connection[field] = isFn(value) ? ((() => call(value.fn)) as Credential) : value;
  }
  const connector = Object.create(ConnectorClass.prototype) as Record<string, unknown>;
  Object.assign(connector, { connection, table: wire.connector.table, pkColumn: wire.connector.pkColumn, kind: wire.connector.kind });
  if (!(connector instanceof BaseConnector)) throw new Error('connector did not rebuild');
  const options = { ...wire.options, connector } as never;
  if (wire.kind === 'writeThrough') return compileWriteThrough(options);
  const { stagingPrefix: _staging, ...behind } = options as Record<string, unknown>;
  return compileWriteBehind(behind as never);
}

function isFn(value: WireValue): value is { readonly fn: number } {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && typeof (value as { fn?: unknown }).fn === 'number';
}

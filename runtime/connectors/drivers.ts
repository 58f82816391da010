import type { Connector } from '../../recipes/options.ts';
import type { ConnectorDriver, ConnectorSession, FailureKind } from './types.ts';

type Loader = (connector: never) => Promise<ConnectorDriver>;

// Each driver (and its database client) is loaded only when a recipe uses it.
const LOADERS: Record<Connector['kind'], Loader> = {
  mysql: async (c) => new (await import('./mysql/driver.ts')).MySqlDriver(c),
  postgres: async (c) => new (await import('./postgres/driver.ts')).PostgresDriver(c),
  sqlite: async (c) => new (await import('./sqlite/driver.ts')).SqliteDriver(c),
  cassandra: async (c) => new (await import('./cassandra/driver.ts')).CassandraDriver(c),
  oracle: async (c) => new (await import('./oracle/driver.ts')).OracleDriver(c),
  snowflake: async (c) => new (await import('./snowflake/driver.ts')).SnowflakeDriver(c),
};

/** The runtime driver for a recipe's connector description, loaded on first connect. */
export function driverFor(connector: Connector): ConnectorDriver {
  let loaded: ConnectorDriver | undefined;
  const load = async (): Promise<ConnectorDriver> => (loaded ??= await (LOADERS[connector.kind] as Loader)(connector as never));
  return {
    describe: () => connector.describe(),
    connect: async (table: string): Promise<ConnectorSession> => (await load()).connect(table),
    classify: (err: unknown): FailureKind => loaded?.classify(err) ?? 'connection',
    columnOf: (err: unknown) => loaded?.columnOf?.(err),
  };
}

/** How many sessions may write one table at once: SQLite has a single writer. */
export function maxParallelism(connector: Connector): number {
  return connector.kind === 'sqlite' ? 1 : 16;
}

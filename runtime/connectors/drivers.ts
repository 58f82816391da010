import { createRequire } from 'node:module';
import type { Connector } from '../../recipes/options.ts';
import type { ConnectorDriver, ConnectorSession, DbTimeouts, FailureKind } from './types.ts';

type Loader = (connector: never) => Promise<ConnectorDriver>;

/**
 * The database client each connector needs: an optional peer dependency of wbsync, so a
 * deployment installs only the ones its recipes use. The major is the one wbsync is tested with.
 */
export const DRIVER_PACKAGES: Readonly<Record<Connector['kind'], { readonly name: string; readonly major: number }>> = {
  mysql: { name: 'mysql2', major: 3 },
  postgres: { name: 'pg', major: 8 },
  sqlite: { name: 'better-sqlite3', major: 12 },
  cassandra: { name: 'cassandra-driver', major: 4 },
  oracle: { name: 'oracledb', major: 6 },
  snowflake: { name: 'snowflake-sdk', major: 2 },
};

/** A recipe's connector needs a database client that is not installed next to wbsync. */
export class MissingDriverError extends Error {
  override readonly name = 'MissingDriverError';
}

const requireHere = createRequire(import.meta.url);

/**
 * Throws {@link MissingDriverError} unless the connector's database client resolves from where
 * wbsync is installed (where its driver module will import it). Loads nothing.
 */
export function assertDriverInstalled(connector: Connector): void {
  const pkg = DRIVER_PACKAGES[connector.kind];
  try {
    requireHere.resolve(pkg.name);
  } catch {
    throw new MissingDriverError(
      `the ${connector.kind} connector needs the npm package '${pkg.name}', which is not installed; ` +
        `install it next to wbsync (npm install ${pkg.name}@${pkg.major}) and restart wb-runtime`,
    );
  }
}

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
  const load = async (): Promise<ConnectorDriver> => {
    if (loaded === undefined) {
      assertDriverInstalled(connector);
      loaded = await (LOADERS[connector.kind] as Loader)(connector as never);
    }
    return loaded;
  };
  return {
    describe: () => connector.describe(),
    connect: async (table: string, timeouts?: DbTimeouts): Promise<ConnectorSession> => (await load()).connect(table, timeouts),
    classify: (err: unknown): FailureKind => loaded?.classify(err) ?? 'connection',
    columnOf: (err: unknown) => loaded?.columnOf?.(err),
  };
}

/** How many sessions may write one table at once: SQLite has a single writer. */
export function maxParallelism(connector: Connector): number {
  return connector.kind === 'sqlite' ? 1 : 16;
}

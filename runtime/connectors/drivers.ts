import type { Connector } from '../../recipes/options.ts';
import { MySqlDriver } from './mysql/driver.ts';
import type { ConnectorDriver } from './types.ts';

/** The runtime driver for a recipe's connector description. */
export function driverFor(connector: Connector): ConnectorDriver {
  switch (connector.kind) {
    case 'mysql':
      return new MySqlDriver(connector);
  }
}

/**
 * The wbsync recipe SDK: what a recipe module imports.
 *
 * A recipe's default export is a registration (or an array of them) built with {@link writeBehind}.
 * @packageDocumentation
 */
import { compileWriteBehind, type Registration, type WriteBehindOptions } from './options.ts';

export { configGet } from './config-get.ts';
export type { Credential } from './credential.ts';
export { MySqlConnection, MySqlConnector } from './connectors/mysql.ts';
export { RecipeError } from './errors.ts';
export type { Connector, ExpirePolicy, Registration, WriteBehindOptions } from './options.ts';

/**
 * Declares a write-behind registration: every change of a `{keysPrefix}:{id}` hash is synced,
 * asynchronously, to the connector's table.
 *
 * @throws RecipeError naming the invalid field.
 */
export function writeBehind(options: WriteBehindOptions): Registration {
  return compileWriteBehind(options);
}

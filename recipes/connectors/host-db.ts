import { RecipeError } from '../errors.ts';

/** Parses `host[:port]/database`, naming `field` in any error. */
export function parseHostDb(
  value: unknown,
  defaultPort: number,
  field: string,
): { host: string; port: number; database: string } {
  const shape = `${field} must look like 'host[:port]/database'`;
  if (typeof value !== 'string') throw new RecipeError(`${shape} (got ${typeof value})`);
  const slash = value.indexOf('/');
  if (slash <= 0 || slash === value.length - 1) throw new RecipeError(`${shape} (got '${value}')`);
  const hostPort = value.slice(0, slash);
  const database = value.slice(slash + 1);
  const colon = hostPort.lastIndexOf(':');
  if (colon === -1) return { host: hostPort, port: defaultPort, database };
  const port = Number(hostPort.slice(colon + 1));
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RecipeError(`${field} has an invalid port in '${value}' (expected 1-65535)`);
  }
  return { host: hostPort.slice(0, colon), port, database };
}

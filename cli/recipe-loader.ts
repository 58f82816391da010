import type { Redis } from 'ioredis';
import { setParamSource } from '../recipes/config-get.ts';
import type { Registration } from '../recipes/options.ts';
import type { Keys } from '../runtime/keys.ts';
import { ParamStore } from '../runtime/params/param-store.ts';
import { loadRegistration } from '../runtime/registry/load.ts';
import { RecipeStore } from '../runtime/registry/store.ts';
import { CliError } from './output.ts';

/** Loads a stored recipe by name, with configGet reading the namespace's parameters. */
export async function loadStoredRecipe(redis: Redis, keys: Keys, name: string): Promise<Registration> {
  const stored = await new RecipeStore(redis, keys).get(name);
  if (stored === undefined) throw new CliError(`no recipe named '${name}' is registered; wb-cli list shows the registered ones`);
  const params = new ParamStore(redis, keys);
  setParamSource((n) => params.get(n));
  try {
    return loadRegistration(name, stored.code, keys.ns);
  } catch (err) {
    throw new CliError(err instanceof Error ? err.message : String(err));
  }
}

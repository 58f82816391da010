import type { Redis } from 'ioredis';
import type { Registration } from '../recipes/options.ts';
import type { Keys } from '../runtime/keys.ts';
import { ParamStore } from '../runtime/params/param-store.ts';
import { loadRegistration } from '../runtime/registry/load.ts';
import { claimOf, type PrefixClaim } from '../runtime/registry/overlap.ts';
import { RecipeStore, type RecipeMeta } from '../runtime/registry/store.ts';
import type { SandboxLimits } from '../runtime/sandbox/limits.ts';
import { CliError } from './output.ts';

/** Loads a stored recipe by name, with configGet reading the namespace's parameters. */
export async function loadStoredRecipe(redis: Redis, keys: Keys, name: string, limits?: SandboxLimits): Promise<Registration> {
  const stored = await new RecipeStore(redis, keys).get(name);
  if (stored === undefined) throw new CliError(`no recipe named '${name}' is registered; wb-cli list shows the registered ones`);
  const params = new ParamStore(redis, keys);
  try {
    // The sandbox's thread does not keep the command alive; it ends with the command.
    return (await loadRegistration(name, stored.code, keys.ns, { params: (n) => params.get(n), limits })).reg;
  } catch (err) {
    throw new CliError(err instanceof Error ? err.message : String(err));
  }
}

/**
 * What the registered recipes claim (keysPrefix and table), for the overlap check of upload and
 * status. Metas stored before the claim was kept in them are read from their bundle; one that no
 * longer loads claims nothing that can be known here (its own load reports the problem).
 */
export async function registeredClaims(redis: Redis, keys: Keys, metas?: readonly RecipeMeta[], limits?: SandboxLimits): Promise<PrefixClaim[]> {
  const store = new RecipeStore(redis, keys);
  const claims: PrefixClaim[] = [];
  for (const m of metas ?? (await store.list())) {
    if (m.keysPrefix !== undefined && m.target !== undefined) {
      claims.push({ name: m.name, keysPrefix: m.keysPrefix, target: m.target });
      continue;
    }
    const stored = await store.get(m.name);
    if (stored === undefined) continue;
    const params = new ParamStore(redis, keys);
    try {
      const { reg, sandbox } = await loadRegistration(m.name, stored.code, keys.ns, { params: (n) => params.get(n), limits });
      claims.push(claimOf(reg));
      await sandbox.close();
    } catch {
      // not knowable here
    }
  }
  return claims;
}

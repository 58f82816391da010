import { createRequire, isBuiltin } from 'node:module';
import * as sdk from './index.ts';
import { isRegistration, type Registration } from './options.ts';

/** A bundled recipe could not be evaluated or did not export registrations. */
export class RecipeLoadError extends Error {
  override readonly name = 'RecipeLoadError';
}

const nodeRequire = createRequire(import.meta.url);

/**
 * Evaluates a bundle produced by `bundleRecipe` and returns its registrations. Nothing connects
 * to a database here: connectors are descriptions, and credential functions run only at connect.
 */
export function evaluateRecipe(code: string, origin: string): Registration[] {
  const module = { exports: {} as Record<string, unknown> };
  const requireForRecipe = (id: string): unknown => {
    if (id === 'wbsync') return sdk;
    if (isBuiltin(id)) return nodeRequire(id);
    throw new RecipeLoadError(`${origin} requires '${id}', which is not part of the bundle`);
  };
  try {
    new Function('require', 'module', 'exports', code)(requireForRecipe, module, module.exports);
  } catch (err) {
    if (err instanceof RecipeLoadError) throw err;
    throw new RecipeLoadError(`${origin} failed while loading: ${err instanceof Error ? err.message : String(err)}`);
  }
  const exported = module.exports['default'];
  if (exported === undefined) {
    throw new RecipeLoadError(`${origin} has no default export; end it with: export default writeBehind({ ... })`);
  }
  const list = Array.isArray(exported) ? exported : [exported];
  if (list.length === 0) throw new RecipeLoadError(`${origin} exports an empty array of registrations`);
  const names = new Set<string>();
  for (const [i, item] of list.entries()) {
    if (!isRegistration(item)) {
      const where = Array.isArray(exported) ? `default export [${i}]` : 'default export';
      throw new RecipeLoadError(`${origin}: ${where} is not a registration; build it with writeBehind({ ... }) from 'wbsync'`);
    }
    if (names.has(item.name)) throw new RecipeLoadError(`${origin} registers the name '${item.name}' twice`);
    names.add(item.name);
  }
  return list as Registration[];
}

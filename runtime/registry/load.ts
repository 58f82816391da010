import { evaluateRecipe } from '../../recipes/evaluate.ts';
import type { Registration } from '../../recipes/options.ts';

/** Evaluates a stored bundle and picks the registration stored under `name`. */
export function loadRegistration(name: string, code: string, namespace: string): Registration {
  const regs = evaluateRecipe(code, `recipe '${name}'`);
  const reg = regs.find((r) => r.name === name);
  if (reg === undefined) throw new Error(`recipe '${name}': the stored bundle no longer declares '${name}'; upload it again`);
  if (reg.keysPrefix === namespace || reg.keysPrefix.startsWith(`${namespace}:`)) {
    throw new Error(`recipe '${name}': keysPrefix '${reg.keysPrefix}' overlaps wbsync's own namespace '${namespace}'; choose another prefix or run with another --namespace`);
  }
  return reg;
}

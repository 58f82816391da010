import type { Logger } from 'pino';
import type { Registration } from '../../recipes/options.ts';
import { RecipeSandbox, type SandboxOptions } from '../sandbox/sandbox.ts';

/**
 * Evaluates a stored bundle in a sandbox of its own (`sandbox/sandbox.ts`) and picks the
 * registration stored under `name`. With `log` (the runtime's), the recipe's `console` logs
 * through it, bound to the recipe's name, so a `console.log` in a recipe is a JSON log line like
 * any other; without it, it prints to stderr. The sandbox lives as long as the registration: its
 * credential functions run there; close it when the recipe stops.
 */
export async function loadRegistration(
  name: string,
  code: string,
  namespace: string,
  opts: Omit<SandboxOptions, 'log'> & { readonly log?: Logger },
): Promise<{ reg: Registration; sandbox: RecipeSandbox }> {
  const { regs, sandbox } = await RecipeSandbox.load(code, `recipe '${name}'`, { ...opts, ...(opts.log ? { log: opts.log.child({ recipe: name }) } : {}) });
  try {
    return { reg: pickRegistration(name, regs, namespace), sandbox };
  } catch (err) {
    await sandbox.close();
    throw err;
  }
}

/** The registration named `name` among a bundle's, refused when it is gone or in wbsync's own namespace. */
export function pickRegistration(name: string, regs: readonly Registration[], namespace: string): Registration {
  const reg = regs.find((r) => r.name === name);
  if (reg === undefined) throw new Error(`recipe '${name}': the stored bundle no longer declares '${name}'; upload it again`);
  if (reg.keysPrefix === namespace || reg.keysPrefix.startsWith(`${namespace}:`)) {
    throw new Error(`recipe '${name}': keysPrefix '${reg.keysPrefix}' overlaps wbsync's own namespace '${namespace}'; choose another prefix or run with another --namespace`);
  }
  return reg;
}

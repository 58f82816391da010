/** Where {@link configGet} reads parameters from; installed by the runtime and by `wb-cli`. */
export type ParamSource = (name: string) => Promise<string | undefined>;

let source: ParamSource | undefined;

/** @internal Installs the parameter store behind {@link configGet}. */
export function setParamSource(next: ParamSource | undefined): void {
  source = next;
}

/**
 * Reads a parameter set with `wb-cli tune param NAME VALUE`.
 *
 * Use it inside a credential function, `() => configGet('MySqlPassword')`, so that the value is
 * read at every connection attempt and a tuned value is picked up at the next reconnect.
 *
 * @throws when the parameter is not set, with the command that sets it.
 */
export async function configGet(name: string): Promise<string> {
  if (source === undefined) {
    throw new Error(`configGet('${name}'): no parameter store is attached (is this running inside wb-runtime?)`);
  }
  const value = await source(name);
  if (value === undefined) {
    throw new Error(`parameter '${name}' is not set; set it with: wb-cli tune param ${name} VALUE`);
  }
  return value;
}

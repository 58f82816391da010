/** The time in a stream entry id (`<ms>-<seq>`), in ms on the clock of the Redis that made it. */
export function streamIdMs(id: string): number {
  return Number(id.slice(0, id.indexOf('-')));
}

/** A stream entry's flat `[field, value, …]` list as an object. */
export function entryFields(raw: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) out[raw[i] as string] = raw[i + 1] as string;
  return out;
}

/** A failure the CLI reports as one clear line and an exit code (1 refused/failed, 2 usage). */
export class CliError extends Error {
  readonly exitCode: 1 | 2;
  override readonly name = 'CliError';
  constructor(
    message: string,
    exitCode: 1 | 2 = 1,
  ) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** Prints rows as aligned columns, or JSON when asked. */
export function printTable(rows: readonly Record<string, unknown>[], columns: readonly string[], json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return;
  }
  if (rows.length === 0) {
    process.stdout.write('(none)\n');
    return;
  }
  const cells = rows.map((r) => columns.map((c) => (r[c] === undefined || r[c] === null || r[c] === '' ? '-' : String(r[c]))));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => (row[i] as string).length)));
  const line = (values: readonly string[]): string => values.map((v, i) => v.padEnd(widths[i] as number)).join('  ').trimEnd();
  process.stdout.write(`${line(columns.map((c) => c.toUpperCase()))}\n${cells.map(line).join('\n')}\n`);
}

export function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

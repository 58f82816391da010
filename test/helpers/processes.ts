import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = (name: string): string => `${ROOT}bin/${name}.js`;

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the real `wb-cli` bin; `env` adds to (or overrides) the test process's environment. */
export function cli(args: readonly string[], input?: string, env?: NodeJS.ProcessEnv): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN('wb-cli'), ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

/** A running `wb-runtime` child process with its JSON log lines. */
export class RuntimeProcess {
  private readonly child: ChildProcess;
  readonly lines: string[] = [];
  /** Only the lines of its stdout (`lines` has stderr's chunks too). */
  readonly stdoutLines: string[] = [];
  private readonly exited: Promise<number | null>;

  constructor(child: ChildProcess) {
    this.child = child;
    let buf = '';
    child.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      const parts = buf.split('\n');
      buf = parts.pop() ?? '';
      this.lines.push(...parts);
      this.stdoutLines.push(...parts);
      if (process.env['WB_TEST_LOG']) for (const p of parts) process.stdout.write(`[runtime] ${p}\n`);
    });
    child.stderr?.on('data', (d: Buffer) => this.lines.push(d.toString()));
    this.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  }

  /** Log records (parsed JSON lines). */
  logs(): Array<Record<string, unknown>> {
    return this.lines.flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  }

  hasLog(match: (r: Record<string, unknown>) => boolean): boolean {
    return this.logs().some(match);
  }

  /** SIGTERM and wait for a graceful exit; returns the exit code. */
  async stop(): Promise<number | null> {
    if (this.child.exitCode === null) this.child.kill('SIGTERM');
    return this.exited;
  }

  async kill9(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }
}

/**
 * Starts the real `wb-runtime` bin and waits until it logs that it is running; `env` adds to (or
 * overrides) the test process's environment.
 */
export async function startRuntime(args: readonly string[], env?: NodeJS.ProcessEnv): Promise<RuntimeProcess> {
  // Debug level: control messages and verdicts are in the log a failing test prints.
  const level = args.includes('--log-level') ? [] : ['--log-level', 'debug'];
  // Many runtimes run at once in the suite: no HTTP unless a test asks for it.
  const http = args.includes('--http') ? [] : ['--http', 'off'];
  const child = spawn(process.execPath, [BIN('wb-runtime'), '--retry-max-ms', '1000', ...level, ...http, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const rt = new RuntimeProcess(child);
  const deadline = Date.now() + 20_000;
  while (!rt.hasLog((r) => r['msg'] === 'runtime running')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`runtime did not start:\n${rt.lines.join('\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return rt;
}

// CLI start-up against a bare `node -e 0` on the same machine, runs interleaved so that both see
// the same load: `wb-cli --help` (commander and the command list only) and `wb-cli params`
// (ioredis, a connection and a read). Medians of `runs` runs each. Part of `npm run bench`;
// alone: node --import tsx bench/cli-startup.ts [redis-url]
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { NS, ROOT } from './lib.ts';

export interface CliStartup {
  readonly runs: number;
  readonly nodeMs: number;
  readonly helpMs: number;
  readonly paramsMs: number;
  readonly helpRatio: number;
  readonly paramsRatio: number;
}

function timeOnce(args: readonly string[]): number {
  const started = performance.now();
  const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = performance.now() - started;
  if (r.status !== 0) throw new Error(`bench: node ${args.join(' ')} exited ${r.status}: ${r.stderr.toString()}`);
  return ms;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

/** Times the three commands `runs` times each, interleaved, after one warm-up run of each. */
export function cliStartup(redisUrl: string, runs = 10): CliStartup {
  const cli = `${ROOT}bin/wb-cli.js`;
  const commands = { node: ['-e', '0'], help: [cli, '--help'], params: [cli, 'params', '--url', redisUrl, '--namespace', NS] };
  const times: Record<keyof typeof commands, number[]> = { node: [], help: [], params: [] };
  for (const args of Object.values(commands)) timeOnce(args); // warm the file cache
  for (let i = 0; i < runs; i++) for (const [name, args] of Object.entries(commands)) times[name as keyof typeof commands].push(timeOnce(args));
  const nodeMs = median(times.node);
  const helpMs = median(times.help);
  const paramsMs = median(times.params);
  const r2 = (x: number): number => Math.round(x * 100) / 100;
  return { runs, nodeMs: r2(nodeMs), helpMs: r2(helpMs), paramsMs: r2(paramsMs), helpRatio: r2(helpMs / nodeMs), paramsRatio: r2(paramsMs / nodeMs) };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const r = cliStartup(process.argv[2] ?? 'redis://127.0.0.1:6379');
  process.stdout.write(`node -e 0 ${r.nodeMs} ms; wb-cli --help ${r.helpMs} ms (${r.helpRatio}x, target <= 2.5x); wb-cli params ${r.paramsMs} ms (${r.paramsRatio}x, target <= 4x); medians of ${r.runs}\n`);
}

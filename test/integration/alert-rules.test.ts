import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { needServer } from '../helpers/required.ts';

const DIR = fileURLToPath(new URL('../../docs/prometheus/', import.meta.url));
const promtool = spawnSync('promtool', ['--version']).status === 0;

/** The shipped Prometheus rules: valid, and each alert fires on the series it is meant for. */
describe('docs/prometheus/wbsync-rules.yml', () => {
  it('passes promtool check rules and promtool test rules', (ctx) => {
    // .ci/run installs Debian's prometheus package (promtool) when it is missing.
    if (!promtool) needServer(ctx, 'promtool (Debian package prometheus) is not installed');
    const check = execFileSync('promtool', ['check', 'rules', 'wbsync-rules.yml'], { cwd: DIR, encoding: 'utf8' });
    expect(check).toContain('SUCCESS: 8 rules found');
    const test = spawnSync('promtool', ['test', 'rules', 'wbsync-rules.test.yml'], { cwd: DIR, encoding: 'utf8' });
    expect(test.status, test.stdout + test.stderr).toBe(0);
    expect(test.stdout).toContain('SUCCESS');
  });

  it('names only metrics the runtime exports', async () => {
    const { readFileSync } = await import('node:fs');
    const rules = readFileSync(`${DIR}wbsync-rules.yml`, 'utf8');
    const used = new Set([...rules.matchAll(/\b(wbsync_[a-z_]+?)(?:_bucket)?\b/g)].map((m) => m[1] as string));
    const { Metrics } = await import('../../runtime/metrics/metrics.ts');
    const exported = (await new Metrics(async () => []).registry.getMetricsAsJSON()).map((m) => m.name);
    for (const name of used) expect(exported).toContain(name);
  });
});

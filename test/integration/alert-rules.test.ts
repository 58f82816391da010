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

/** The shipped Grafana dashboard: JSON whose every query is valid PromQL over exported metrics. */
describe('docs/grafana/wbsync-dashboard.json', () => {
  const exprs = async (): Promise<string[]> => {
    const { readFileSync } = await import('node:fs');
    const dash = JSON.parse(readFileSync(fileURLToPath(new URL('../../docs/grafana/wbsync-dashboard.json', import.meta.url)), 'utf8')) as { panels: Array<{ targets: Array<{ expr: string }> }> };
    return dash.panels.flatMap((p) => p.targets.map((t) => t.expr.replace(/\$recipe/g, '.*')));
  };

  it('every query parses (promtool, as recording rules)', async (ctx) => {
    if (!promtool) needServer(ctx, 'promtool (Debian package prometheus) is not installed');
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const list = await exprs();
    expect(list.length).toBeGreaterThan(10);
    const file = `${mkdtempSync(`${tmpdir()}/wbsync-dash-`)}/rules.yml`;
    writeFileSync(file, `groups:\n  - name: dashboard\n    rules:\n${list.map((e, i) => `      - record: dashboard_query_${i}\n        expr: ${JSON.stringify(e)}\n`).join('')}`);
    const check = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
    expect(check.status, check.stdout + check.stderr).toBe(0);
  });

  it('names only metrics the runtime exports', async () => {
    const { Metrics } = await import('../../runtime/metrics/metrics.ts');
    const exported = new Set((await new Metrics(async () => []).registry.getMetricsAsJSON()).map((m) => m.name));
    const used = new Set((await exprs()).flatMap((e) => [...e.matchAll(/\b(wbsync_[a-z_]+?)(?:_bucket|_sum|_count)?\b/g)].map((m) => m[1] as string)));
    for (const name of used) expect(exported.has(name), name).toBe(true);
  });
});

/**
 * The status page at `/`: one self-contained HTML document. Its charts use uPlot, served by the
 * runtime from the npm package (`/assets/…`, no CDN); its data is `/api/status`, read every 5 s.
 * Text goes in with textContent only, never as HTML. `window.wbsync` exposes what was drawn
 * (for the browser test, and for anyone curious in the console).
 */
export const STATUS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>wbsync status</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/uPlot.min.css">
<style>
  :root { color-scheme: light dark; --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --muted: #6e7781; }
  body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; padding: 12px; max-width: 1100px; margin-inline: auto; }
  h1 { font-size: 20px; margin: 4px 0 2px; }
  .sub { color: var(--muted); margin-bottom: 12px; }
  .recipe { border: 1px solid #d0d7de; border-radius: 8px; padding: 12px; margin: 12px 0; }
  .head { display: flex; flex-wrap: wrap; gap: 8px 16px; align-items: baseline; }
  .head h2 { font-size: 17px; margin: 0; }
  .state { font-weight: 600; }
  .state.loaded { color: var(--ok); } .state.paused, .state.overflowed { color: var(--warn); } .state.failed, .state.failing { color: var(--bad); }
  .nums { display: flex; flex-wrap: wrap; gap: 4px 18px; margin: 8px 0; }
  .nums b { font-variant-numeric: tabular-nums; }
  .error { color: var(--bad); overflow-wrap: anywhere; margin: 4px 0; }
  .last { color: var(--muted); overflow-wrap: anywhere; margin: 4px 0; }
  .charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap: 8px; }
  .chart h3 { font-size: 13px; font-weight: 600; margin: 6px 0 2px; color: var(--muted); }
  .empty { color: var(--muted); font-style: italic; padding: 8px 0; }
  table { border-collapse: collapse; width: 100%; }
  td, th { text-align: left; padding: 4px 8px 4px 0; border-bottom: 1px solid #d0d7de; overflow-wrap: break-word; font-size: 13px; }
  #problem { color: var(--bad); }
  /* On a phone the runtimes' table scrolls by itself, never the page. */
  .scroll { overflow-x: auto; max-width: 100%; }
  .scroll td { white-space: nowrap; }
  .scroll td.wrap { white-space: normal; min-width: 10em; }
</style>
</head>
<body>
<h1>wbsync</h1>
<div class="sub">namespace <span id="ns">…</span> · updated <span id="at">…</span> · <span id="problem"></span></div>
<div id="recipes"></div>
<h2 style="font-size:17px">Runtimes</h2>
<div class="scroll"><table><thead><tr><th>id</th><th>host</th><th>pid</th><th>since</th><th>captures</th><th>partitions</th><th>rows/s</th><th>warning</th></tr></thead><tbody id="runtimes"></tbody></table></div>
<script src="/assets/uPlot.iife.min.js"></script>
<script>
(() => {
  const state = { points: 0, charts: {}, renders: 0, errors: 0 };
  window.wbsync = state;
  const el = (tag, attrs, ...kids) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
    return e;
  };
  const fmt = (n) => (n === null || n === undefined ? '–' : Number(n).toLocaleString('en'));
  const width = (node) => Math.max(280, node.clientWidth || 300);

  function chart(box, key, title, series, data) {
    const holder = el('div', { class: 'chart' }, el('h3', {}, title));
    box.append(holder);
    if (data[0].length === 0) {
      holder.append(el('div', { class: 'empty' }, 'no points yet'));
      return;
    }
    const opts = {
      width: width(holder), height: 180,
      scales: { x: { time: true } },
      series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, spanGaps: true }))],
      axes: [{}, { size: 60 }],
      legend: { live: false },
    };
    state.charts[key] = new uPlot(opts, data, holder);
    state.points += data[0].length;
  }

  function render(report) {
    document.getElementById('ns').textContent = report.namespace;
    document.getElementById('at').textContent = new Date(report.at).toLocaleTimeString();
    const box = document.getElementById('recipes');
    for (const c of Object.values(state.charts)) c.destroy();
    state.charts = {};
    state.points = 0;
    box.replaceChildren();
    if (report.recipes.length === 0) box.append(el('p', { class: 'empty' }, 'No recipe is registered. Upload one with wb-cli upload.'));
    for (const r of report.recipes) {
      const label = r.overflowedAt ? 'overflowed' : r.error && r.state === 'loaded' ? 'failing' : r.state;
      const card = el('section', { class: 'recipe', 'data-recipe': r.name },
        el('div', { class: 'head' }, el('h2', {}, r.name), el('span', {}, 'version ' + r.version), el('span', { class: 'state ' + label }, label)),
        el('div', { class: 'nums' },
          el('span', {}, 'backlog ', el('b', {}, fmt(r.backlog))),
          el('span', {}, 'synced ', el('b', {}, fmt(r.synced))),
          el('span', {}, 'dead letters ', el('b', {}, fmt(r.deadLetters)))));
      if (r.error) card.append(el('div', { class: 'error' }, 'error: ' + r.error));
      else if (r.lastError) card.append(el('div', { class: 'last' }, 'last error (' + r.lastErrorAt + '): ' + r.lastError));
      if (r.warning) card.append(el('div', { class: 'last' }, 'warning: ' + r.warning));
      const charts = el('div', { class: 'charts' });
      card.append(charts);
      box.append(card);
      const h = r.history;
      const t = h.map((p) => p.t / 1000);
      chart(charts, r.name + ':lag', 'lag, ms (p50, p99)', [{ label: 'p50', color: '#0969da' }, { label: 'p99', color: '#cf222e' }], [t, h.map((p) => p.lagP50Ms), h.map((p) => p.lagP99Ms)]);
      chart(charts, r.name + ':rows', 'rows/s and backlog', [{ label: 'rows/s', color: '#1a7f37' }, { label: 'backlog', color: '#9a6700' }], [t, h.map((p) => p.rowsPerSec), h.map((p) => p.backlog)]);
    }
    const rows = document.getElementById('runtimes');
    const held = (r) => Object.entries(r.partitions || {}).filter(([, ps]) => ps.length).map(([n, ps]) => n + ': ' + ps.join(',')).join('; ');
    rows.replaceChildren(...report.runtimes.map((r) => el('tr', {}, el('td', {}, r.id), el('td', {}, r.host), el('td', {}, r.pid), el('td', {}, new Date(r.startedAt).toLocaleString()), el('td', {}, r.capture ? 'yes' : ''), el('td', { class: 'wrap' }, held(r)), el('td', {}, r.rowsPerSec ?? ''), el('td', {}, r.warning || ''))));
    if (report.runtimes.length === 0) rows.append(el('tr', {}, el('td', { colspan: '8' }, 'none alive')));
    state.renders++;
  }

  async function refresh() {
    try {
      const res = await fetch('/api/status', { cache: 'no-store' });
      if (!res.ok) throw new Error('HTTP ' + res.status);
      render(await res.json());
      document.getElementById('problem').textContent = '';
    } catch (err) {
      state.errors++;
      document.getElementById('problem').textContent = 'cannot reach the runtime: ' + err.message;
    }
  }
  refresh();
  setInterval(refresh, 5000);
})();
</script>
</body>
</html>
`;

import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * What a recipe's parts report as they work. Every method is cheap (a counter or a histogram
 * bucket): the runtime calls them on its hot path. `NO_METRICS` does nothing (tests, `--http off`).
 */
export interface RecipeMetrics {
  /** Records the capture scripts appended to the backlog. */
  captured(records: number): void;
  /** Rows the database committed, by op. */
  written(op: 'upsert' | 'delete', rows: number): void;
  deadLettered(records: number): void;
  /** A database attempt that failed and is retried, by reason (connection, schema, timeout, ...). */
  retried(reason: string): void;
  /** One batch sent to the database: its rows and how long the write took. */
  batch(rows: number, seconds: number): void;
  /** Lag from capture (the entry's id, Redis's clock) to commit (Redis's clock), per record. */
  lag(seconds: number, records: number): void;
  /** A reconcile ran because changes may have been missed: why. */
  gap(reason: string): void;
  reconciled(keys: number): void;
}

export const NO_METRICS: RecipeMetrics = {
  captured: () => undefined,
  written: () => undefined,
  deadLettered: () => undefined,
  retried: () => undefined,
  batch: () => undefined,
  lag: () => undefined,
  gap: () => undefined,
  reconciled: () => undefined,
};

/** What the runtime knows about a recipe right now, read when /metrics is scraped. */
export interface RecipeSnapshot {
  readonly name: string;
  readonly version: string;
  readonly state: string;
  /** Records in the backlog (the status hash's `queued`). */
  readonly backlog: number;
  /** Age of the oldest entry not yet acknowledged, in seconds (0 when none). */
  readonly oldestPendingSeconds: number;
  readonly overflowed: boolean;
  /** Backlog partitions of the recipe this runtime holds the lease of. */
  readonly partitionsHeld?: number;
  /**
   * Whether this runtime reports the recipe-wide backlog gauges (it captures): one runtime does,
   * so that a sum over runtimes counts the backlog once. True when absent.
   */
  readonly reportsBacklog?: boolean;
}

// Lag and write time: from a millisecond to several minutes (a database outage).
const SECONDS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const ROWS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000];

/**
 * The runtime's Prometheus metrics (prom-client), `wbsync_`-prefixed, in base units, counters
 * ending `_total`, with a `recipe` label where one applies. Counters and histograms are updated
 * as work happens; gauges of the backlog and recipe states are read from `snapshot` at scrape
 * time, so a scrape costs Redis nothing the runtime does not already keep.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly captured: Counter<'recipe'>;
  private readonly rows: Counter<'recipe' | 'op'>;
  private readonly deadLetters: Counter<'recipe'>;
  private readonly retries: Counter<'recipe' | 'reason'>;
  private readonly batchRows: Histogram<'recipe'>;
  private readonly writeSeconds: Histogram<'recipe'>;
  private readonly lagSeconds: Histogram<'recipe'>;
  private readonly gaps: Counter<'recipe' | 'reason'>;
  private readonly reconciledKeys: Counter<'recipe'>;
  /** Per recipe: rows and lags since the last history sample (`takeWindow`). */
  private readonly windows = new Map<string, { rows: number; lags: Array<[number, number]> }>();

  /**
   * @param capturing - whether this runtime holds the capture lease now (`wbsync_leases_held`
   *   with kind capture).
   */
  constructor(snapshot: () => Promise<readonly RecipeSnapshot[]>, capturing: () => boolean = () => true) {
    const registers = [this.registry];
    this.captured = new Counter({ name: 'wbsync_changes_captured_total', help: 'Records the capture scripts appended to the backlog (one per changed key per capture).', labelNames: ['recipe'], registers });
    this.rows = new Counter({ name: 'wbsync_rows_written_total', help: 'Rows committed to the database, by op (upsert, delete).', labelNames: ['recipe', 'op'], registers });
    this.deadLetters = new Counter({ name: 'wbsync_dead_letters_total', help: 'Records dead-lettered (refused by a conversion, the database, or malformed).', labelNames: ['recipe'], registers });
    this.retries = new Counter({ name: 'wbsync_db_retries_total', help: 'Database attempts that failed and are retried, by reason.', labelNames: ['recipe', 'reason'], registers });
    this.batchRows = new Histogram({ name: 'wbsync_batch_rows', help: 'Rows per batch sent to the database.', labelNames: ['recipe'], buckets: ROWS, registers });
    this.writeSeconds = new Histogram({ name: 'wbsync_db_write_seconds', help: 'Time to write one batch to the database, retries excluded.', labelNames: ['recipe'], buckets: SECONDS, registers });
    this.lagSeconds = new Histogram({ name: 'wbsync_sync_lag_seconds', help: "Time from capture to commit per record, on Redis's clock (the backlog entry's id to the acknowledgement).", labelNames: ['recipe'], buckets: SECONDS, registers });
    this.gaps = new Counter({ name: 'wbsync_capture_gaps_total', help: 'Reconciles run because changes may have been missed, by reason (start-up, subscription restored, overflow, flush, ...).', labelNames: ['recipe', 'reason'], registers });
    this.reconciledKeys = new Counter({ name: 'wbsync_keys_reconciled_total', help: 'Keys snapshotted by reconciles.', labelNames: ['recipe'], registers });

    const backlog = new Gauge({ name: 'wbsync_backlog_entries', help: 'Records in the backlog not yet written.', labelNames: ['recipe'], registers });
    const oldest = new Gauge({ name: 'wbsync_backlog_oldest_age_seconds', help: 'Age of the oldest backlog entry not yet acknowledged (0 when none).', labelNames: ['recipe'], registers });
    const overflowed = new Gauge({ name: 'wbsync_backlog_overflowed', help: '1 while the backlog is past its bound (maxBacklog) and changes are caught up by a reconcile.', labelNames: ['recipe'], registers });
    const leases = new Gauge({ name: 'wbsync_leases_held', help: "Leases this runtime holds: kind partition, per recipe, its backlog partitions; kind capture (recipe ''), 1 while it captures.", labelNames: ['kind', 'recipe'], registers });
    const info = new Gauge({ name: 'wbsync_recipe_info', help: 'A recipe this runtime knows, with its version and state (loaded, paused, failed).', labelNames: ['recipe', 'version', 'state'], registers });
    const fill = async (): Promise<void> => {
      const recipes = await snapshot();
      backlog.reset();
      oldest.reset();
      overflowed.reset();
      info.reset();
      leases.reset();
      leases.set({ kind: 'capture', recipe: '' }, capturing() ? 1 : 0);
      for (const r of recipes) {
        if (r.reportsBacklog !== false) {
          backlog.set({ recipe: r.name }, r.backlog);
          oldest.set({ recipe: r.name }, r.oldestPendingSeconds);
          overflowed.set({ recipe: r.name }, r.overflowed ? 1 : 0);
        }
        if (r.partitionsHeld !== undefined) leases.set({ kind: 'partition', recipe: r.name }, r.partitionsHeld);
        info.set({ recipe: r.name, version: r.version, state: r.state }, 1);
      }
    };
    // prom-client calls collect() of each gauge before serialising it: they share one fill,
    // so the snapshot is read once per scrape.
    let filling: Promise<void> | undefined;
    const collect = async (): Promise<void> => {
      filling ??= fill().finally(() => setImmediate(() => (filling = undefined)));
      await filling;
    };
    for (const g of [backlog, oldest, overflowed, info, leases]) (g as unknown as { collect: () => Promise<void> }).collect = collect;
    collectDefaultMetrics({ register: this.registry, prefix: 'wbsync_' });
  }

  /** The hooks one recipe's parts report through. */
  forRecipe(recipe: string): RecipeMetrics {
    const l = { recipe };
    const window = (): { rows: number; lags: Array<[number, number]> } => {
      let w = this.windows.get(recipe);
      if (w === undefined) this.windows.set(recipe, (w = { rows: 0, lags: [] }));
      return w;
    };
    return {
      captured: (n) => n > 0 && this.captured.inc(l, n),
      written: (op, n) => {
        if (n <= 0) return;
        this.rows.inc({ recipe, op }, n);
        window().rows += n;
      },
      deadLettered: (n) => n > 0 && this.deadLetters.inc(l, n),
      retried: (reason) => this.retries.inc({ recipe, reason }),
      batch: (rows, seconds) => {
        this.batchRows.observe(l, rows);
        this.writeSeconds.observe(l, seconds);
      },
      lag: (seconds, n) => {
        if (n <= 0) return;
        const w = window();
        if (w.lags.length < 100_000) w.lags.push([Math.max(0, seconds), n]);
        // prom-client has no weighted observe; a batch's records share one commit time, so
        // their lags are observed at the batch's: n observations of the same value.
        for (let i = 0; i < n; i++) this.lagSeconds.observe(l, Math.max(0, seconds));
      },
      gap: (reason) => this.gaps.inc({ recipe, reason }),
      reconciled: (n) => n > 0 && this.reconciledKeys.inc(l, n),
    } as RecipeMetrics;
  }

  /**
   * What a recipe did since the last call: rows written, and the lag's p50 and p99 in ms over
   * its records (null when none was written). Resets the window.
   */
  takeWindow(recipe: string): { rows: number; lagP50Ms: number | null; lagP99Ms: number | null } {
    const w = this.windows.get(recipe) ?? { rows: 0, lags: [] };
    this.windows.set(recipe, { rows: 0, lags: [] });
    return { rows: w.rows, lagP50Ms: weightedQuantile(w.lags, 0.5), lagP99Ms: weightedQuantile(w.lags, 0.99) };
  }

  /** The text a scrape gets, and its content type. */
  async render(): Promise<{ body: string; contentType: string }> {
    return { body: await this.registry.metrics(), contentType: this.registry.contentType };
  }
}

/** The q-quantile of values given with their weights, in ms (null when there are none). */
export function weightedQuantile(samples: ReadonlyArray<readonly [number, number]>, q: number): number | null {
  const total = samples.reduce((a, [, n]) => a + n, 0);
  if (total === 0) return null;
  const sorted = [...samples].sort((a, b) => a[0] - b[0]);
  const rank = q * total;
  let seen = 0;
  for (const [value, n] of sorted) {
    seen += n;
    if (seen >= rank) return Math.round(value * 1000 * 10) / 10;
  }
  return Math.round((sorted[sorted.length - 1]?.[0] ?? 0) * 1000 * 10) / 10;
}

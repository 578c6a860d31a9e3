/**
 * Time series and totals for one simulation run: sampled every `sample_ms`
 * (outbox depth, DAG width, accepted events and bytes sent per server, and
 * whether the rooms agree), plus the fault timeline and the time each heal
 * took to converge. The runner feeds it through a Probe; this module only
 * keeps the numbers, so the report, the CSV and the HTML all read the same data.
 */

export interface ServerSample {
  up: boolean;
  /** Queued outbound entries, all destinations. */
  outbox: number;
  /** Forward extremities, summed over the rooms it holds (null: holds none). */
  width: number | null;
  /** Accepted events, summed over the rooms it holds (null: holds none). */
  events: number | null;
  /** Bytes sent so far, federation + gossip, all incarnations. */
  bytes: number;
}

export interface Probe {
  labels(): string[];
  sample(label: string): ServerSample;
  /** Whether every room's live joined servers agree (a cheap signature: events and extremities). */
  converged(): boolean;
}

export interface ServerTotals {
  /** Federation requests (transactions, fetches, joins, backfill…) this server sent. */
  federation: { messages: number; bytes: number };
  /** Room broadcasts (gossip) this server sent, counted per recipient. */
  gossip: { messages: number; bytes: number };
  /** Requests and broadcast deliveries dropped by lossy links. */
  lost: number;
  /** PDUs received that it already had (engine stats.duplicates). */
  duplicates: number;
  pdus_received: number;
  /** State resolutions run (Room.stats), and their total time. */
  resolutions: number;
  resolution_ms: number;
  max_outbox: number;
}

export interface FaultRecord {
  kind: string;
  /** Human-readable: which servers or link. */
  label: string;
  start_ms: number;
  /** null: still active at the end of the run. */
  end_ms: number | null;
}

export interface HealRecord {
  /** When the last active fault ended (ms since the run started). */
  t_ms: number;
  /** Milliseconds until the rooms agreed again; null if another fault started first, or never. */
  converge_ms: number | null;
}

export interface MetricsReport {
  sample_ms: number;
  duration_ms: number;
  /** Sample times, ms since the run started. */
  t: number[];
  outbox: Record<string, number[]>;
  width: Record<string, (number | null)[]>;
  events: Record<string, (number | null)[]>;
  bytes: Record<string, number[]>;
  /** 1 when the rooms agreed at that sample, else 0. */
  converged: number[];
  faults: FaultRecord[];
  heals: HealRecord[];
  totals: Record<string, ServerTotals>;
}

export class Metrics {
  private readonly start = performance.now();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly report: MetricsReport;
  private active = 0;
  private pendingHeal: number | undefined;

  constructor(
    private readonly probe: Probe,
    sampleMs: number,
  ) {
    this.report = { sample_ms: sampleMs, duration_ms: 0, t: [], outbox: {}, width: {}, events: {}, bytes: {}, converged: [], faults: [], heals: [], totals: {} };
  }

  now(): number {
    return Math.round(performance.now() - this.start);
  }

  startSampling(): void {
    if (this.report.sample_ms <= 0) return;
    const tick = () => {
      this.sample();
      this.timer = setTimeout(tick, this.report.sample_ms);
    };
    this.timer = setTimeout(tick, this.report.sample_ms);
  }

  /** A fault began; returns its index for `faultEnd`. */
  faultStart(kind: string, label: string): number {
    this.active++;
    if (this.pendingHeal !== undefined) {
      // Disturbed again before it converged: that heal never got its convergence.
      this.report.heals.push({ t_ms: this.pendingHeal, converge_ms: null });
      this.pendingHeal = undefined;
    }
    this.report.faults.push({ kind, label, start_ms: this.now(), end_ms: null });
    return this.report.faults.length - 1;
  }

  faultEnd(index: number): void {
    const f = this.report.faults[index];
    if (!f || f.end_ms !== null) return;
    f.end_ms = this.now();
    this.active = Math.max(0, this.active - 1);
    if (this.active === 0) this.pendingHeal = f.end_ms;
  }

  /** Ends every open fault (a heal-all). */
  endAll(kinds?: readonly string[]): void {
    this.report.faults.forEach((f, i) => {
      if (f.end_ms === null && (!kinds || kinds.includes(f.kind))) this.faultEnd(i);
    });
  }

  /** Ends the open fault of this kind and label, if any. */
  endOpen(kind: string, label: string): void {
    const i = this.report.faults.findIndex((f) => f.end_ms === null && f.kind === kind && f.label === label);
    if (i >= 0) this.faultEnd(i);
  }

  /** Instant events (a wipe) are faults that start and end at once. */
  instant(kind: string, label: string): void {
    this.faultEnd(this.faultStart(kind, label));
  }

  sample(): void {
    const r = this.report;
    const t = this.now();
    const labels = this.probe.labels();
    const i = r.t.length;
    r.t.push(t);
    for (const l of labels) {
      const s = this.probe.sample(l);
      const col = <T>(m: Record<string, T[]>, fill: T): T[] => {
        let a = m[l];
        if (!a) {
          a = new Array<T>(i).fill(fill);
          m[l] = a;
        }
        return a;
      };
      col(r.outbox, 0).push(s.outbox);
      col<number | null>(r.width, null).push(s.width);
      col<number | null>(r.events, null).push(s.events);
      col(r.bytes, 0).push(s.bytes);
    }
    const agreed = this.probe.converged();
    r.converged.push(agreed ? 1 : 0);
    if (agreed && this.pendingHeal !== undefined && this.active === 0) {
      r.heals.push({ t_ms: this.pendingHeal, converge_ms: Math.max(0, t - this.pendingHeal) });
      this.pendingHeal = undefined;
    }
  }

  /** Stops sampling (after one last sample) and returns the report. */
  finish(totals: Record<string, ServerTotals>): MetricsReport {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.report.sample_ms > 0) this.sample();
    if (this.pendingHeal !== undefined) this.report.heals.push({ t_ms: this.pendingHeal, converge_ms: null });
    this.pendingHeal = undefined;
    this.report.duration_ms = this.now();
    this.report.totals = totals;
    return this.report;
  }
}

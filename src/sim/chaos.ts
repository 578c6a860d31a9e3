/**
 * Seeded fault schedules for the `chaos` step. A schedule is plain data
 * (the report carries it under "schedule"), generated from a seed alone, so
 * the same seed replays the same faults; and every fault undoes itself
 * (a partition heals, a crashed server restarts, a paused one resumes), so
 * any subset of a schedule is itself a valid schedule — which is what lets
 * the shrinker delete faults freely.
 */
import { Rng } from './prng.ts';

export const FAULT_KINDS = ['partition', 'flap', 'crash', 'pause', 'link', 'wipe'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

interface At {
  /** Milliseconds from the start of the chaos step. */
  at_ms: number;
}
export type ChaosFault =
  | (At & { kind: 'partition'; ms: number; groups: string[][] })
  | (At & { kind: 'partition'; ms: number; from: string[]; to: string[] })
  | (At & { kind: 'flap'; a: string; b: string; period_ms: number; count: number })
  | (At & { kind: 'crash'; server: string; ms: number })
  | (At & { kind: 'pause'; server: string; ms: number })
  | (At & {
      kind: 'link';
      a: string;
      b: string;
      ms: number;
      latency_ms: number;
      jitter_ms: number;
      loss: number;
      bandwidth_kbps: number;
      one_way: boolean;
    })
  | (At & { kind: 'wipe'; server: string });

export interface ScheduleSpec {
  seed: number;
  duration_ms: number;
  faults: readonly FaultKind[];
  /** Server labels the faults may touch. */
  servers: readonly string[];
}

/** How long a fault keeps the network or a server disturbed (its end, relative to at_ms). */
export function faultSpan(f: ChaosFault): number {
  switch (f.kind) {
    case 'flap':
      return f.period_ms * f.count;
    case 'wipe':
      return 0;
    default:
      return f.ms;
  }
}

/** Node faults: the server they freeze, stop or wipe (one at a time per server). */
function nodeOf(f: ChaosFault): string | undefined {
  return f.kind === 'crash' || f.kind === 'pause' || f.kind === 'wipe' ? f.server : undefined;
}

/**
 * The schedule for a seed. Faults start every duration/6 ms on average and
 * end before the step does (the step then heals everything and converges);
 * node faults never overlap on one server.
 */
export function generateSchedule(spec: ScheduleSpec): ChaosFault[] {
  const rng = new Rng(spec.seed);
  const { duration_ms: d, servers } = spec;
  const kinds = spec.faults.length > 0 ? spec.faults : ['partition' as const];
  const out: ChaosFault[] = [];
  const busyUntil = new Map<string, number>();
  const meanGap = Math.max(20, Math.round(d / 6));
  let t = rng.int(Math.round(meanGap / 4), meanGap);
  while (t < d * 0.85) {
    const left = Math.max(50, Math.round(d - t));
    const free = servers.filter((s) => (busyUntil.get(s) ?? -1) < t);
    let kind = rng.pick(kinds);
    if (nodeOf({ kind, server: '' } as ChaosFault) !== undefined && free.length === 0) kind = 'partition';
    const span = (lo: number, hi: number) => Math.min(left, rng.int(lo, Math.max(lo, Math.round(hi))));
    const pair = (): [string, string] => {
      const [a, b] = rng.shuffle(servers);
      return [a!, b ?? a!];
    };
    let f: ChaosFault | undefined;
    switch (kind) {
      case 'partition': {
        if (servers.length < 2) break;
        const shuffled = rng.shuffle(servers);
        const cut = rng.int(1, shuffled.length - 1);
        const sideA = shuffled.slice(0, cut).sort();
        const sideB = shuffled.slice(cut).sort();
        const ms = span(100, d * 0.4);
        // One in four partitions is one-way: A cannot reach B, B still reaches A.
        f = rng.chance(0.25) ? { at_ms: t, kind, ms, from: sideA, to: sideB } : { at_ms: t, kind, ms, groups: [sideA, sideB] };
        break;
      }
      case 'flap': {
        if (servers.length < 2) break;
        const [a, b] = pair();
        const period_ms = rng.int(40, 120);
        const count = Math.max(1, Math.min(rng.int(2, 6), Math.floor(left / period_ms)));
        f = { at_ms: t, kind, a, b, period_ms, count };
        break;
      }
      case 'link': {
        if (servers.length < 2) break;
        const [a, b] = pair();
        f = {
          at_ms: t,
          kind,
          a,
          b,
          ms: span(150, d * 0.4),
          latency_ms: rng.int(0, 60),
          jitter_ms: rng.int(0, 30),
          loss: rng.pick([0, 0.1, 0.3, 0.5]),
          bandwidth_kbps: rng.pick([0, 0, 64, 256]),
          one_way: rng.chance(0.3),
        };
        break;
      }
      case 'crash':
      case 'pause': {
        const server = rng.pick(free);
        const ms = span(80, d * 0.3);
        f = { at_ms: t, kind, server, ms };
        busyUntil.set(server, t + ms);
        break;
      }
      case 'wipe': {
        const server = rng.pick(free);
        f = { at_ms: t, kind, server };
        // Recovery (re-joining through peers) takes a while; do not stack another node fault on it.
        busyUntil.set(server, t + Math.round(d * 0.2));
        break;
      }
    }
    if (f) out.push(f);
    t += rng.int(Math.round(meanGap / 2), Math.round(meanGap * 1.5));
  }
  return out;
}

/** One line per fault, for logs and the HTML report. */
export function describeFault(f: ChaosFault): string {
  const at = `@${f.at_ms}ms`;
  switch (f.kind) {
    case 'partition':
      return 'groups' in f
        ? `${at} partition ${f.groups.map((g) => g.join(',')).join(' | ')} for ${f.ms}ms`
        : `${at} one-way cut ${f.from.join(',')} -> ${f.to.join(',')} for ${f.ms}ms`;
    case 'flap':
      return `${at} flap ${f.a}<->${f.b} every ${f.period_ms}ms x${f.count}`;
    case 'crash':
      return `${at} crash ${f.server} for ${f.ms}ms`;
    case 'pause':
      return `${at} pause ${f.server} for ${f.ms}ms`;
    case 'link':
      return `${at} link ${f.a}${f.one_way ? '->' : '<->'}${f.b} latency ${f.latency_ms}±${f.jitter_ms}ms loss ${f.loss} bw ${f.bandwidth_kbps || '∞'}kbps for ${f.ms}ms`;
    case 'wipe':
      return `${at} wipe ${f.server}`;
  }
}

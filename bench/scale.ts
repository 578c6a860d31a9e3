/**
 * The simulation-scale rows of `npm run bench` (issue 16, items 3 and 4):
 * bench/sim-scale.ts run in a child process (it needs --expose-gc and a
 * larger heap) on a reduced shape, 100 servers × 1,000 messages, once with
 * fake-indexeddb and once with the SQLite store. The targets are for
 * 100 × 10,000 (`node --expose-gc --max-old-space-size=20000 --import tsx
 * bench/sim-scale.ts --scenario scenarios/scale-100.json`, ~10 min): memory
 * per server is projected to 10,000 events from the heap each event costs
 * here (the breakdown) plus the fixed part, and said to be a projection.
 */
import { spawn } from 'node:child_process';
import type { BenchResult } from './core.ts';

/** The reduced shape; HEARTH_SCALE_SHAPE=SxM overrides it (e.g. 20x100 to try the bench quickly). */
const [SERVERS, MESSAGES] = (/^(\d+)x(\d+)$/.exec(process.env.HEARTH_SCALE_SHAPE ?? '')?.slice(1).map(Number) ?? [100, 1_000]) as [number, number];
const FULL = 10_000;
const TARGET_MB = 25;
const TARGET_S = 150;

interface SimScaleOutput {
  ok: boolean;
  servers: number;
  total_s: number;
  cpu_s: number;
  ingests: { per_s: number; raw_verify_per_s: number; ratio: number };
  /** Scenarios with a heal: from the heal step to the end of the converge after it (with issue 16's target for the libp2p ones). */
  heal_to_converge?: { s: number; target_s?: number; met?: boolean };
  /** Issue 16's targets for the run's shape (sim-scale.ts holds them). */
  targets?: { per_server_rss_mb: number };
  failed?: string[];
  per_server_mb: { rss: number; heap: number };
  memory_breakdown?: {
    per_server_mb: Record<string, number>;
    events_per_server: number;
    bytes_per_event: { store: number; room: number };
  };
}

/** A run that has not finished by then is stopped and reported as failed (a quiet machine needs ~1.5 min). */
const RUN_TIMEOUT_MS = 15 * 60_000;

function runSimScale(store: 'idb' | 'sqlite'): Promise<SimScaleOutput> {
  return runSimScaleWith([String(SERVERS), String(MESSAGES), '--memory-breakdown', '--store', store], `--store ${store}`);
}

function runSimScaleWith(scriptArgs: string[], what: string): Promise<SimScaleOutput> {
  const script = new URL('./sim-scale.ts', import.meta.url).pathname;
  const args = ['--expose-gc', '--max-old-space-size=12000', '--import', 'tsx', script, ...scriptArgs];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(out) as SimScaleOutput);
      } catch {
        reject(new Error(`sim-scale ${what} printed no result (stopped after ${RUN_TIMEOUT_MS / 60_000} min, or failed)`));
      }
    });
  });
}

export async function benchScale(): Promise<BenchResult[]> {
  const rows: BenchResult[] = [];
  for (const store of ['idb', 'sqlite'] as const) {
    let r: SimScaleOutput;
    try {
      r = await runSimScale(store);
    } catch (err) {
      rows.push({ name: `simulation ${SERVERS} × ${MESSAGES} (--store ${store})`, value: Number.NaN, unit: '', detail: `failed: ${(err as Error).message}` });
      continue;
    }
    const label = store === 'idb' ? 'fake-indexeddb in memory' : 'SQLite on disk';
    const b = r.memory_breakdown;
    rows.push({
      name: `simulation ${SERVERS} servers × ${MESSAGES.toLocaleString('en-US')} messages, one process, ${label}`,
      value: r.total_s,
      unit: 's',
      detail: `${r.ok ? 'converged' : 'FAILED'}; ${r.ingests.per_s} ingests/s = ${(r.ingests.ratio * 100).toFixed(0)}% of raw verify in the same run (${r.ingests.raw_verify_per_s}/s); CPU ${r.cpu_s} s (target for 100 × ${FULL.toLocaleString('en-US')}: < ${TARGET_S} s, bench/sim-scale.ts --scenario scenarios/scale-100.json)`,
    });
    if (b) {
      const parts = Object.entries(b.per_server_mb)
        .filter(([k]) => k !== 'total')
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
      // Heap per event times 10,000, plus this run's fixed part and the RSS above the heap per server.
      const perEvent = b.bytes_per_event.store + b.bytes_per_event.room;
      const fixed = (b.per_server_mb.rest ?? 0) + Math.max(0, r.per_server_mb.rss - r.per_server_mb.heap);
      const projected = (perEvent * FULL) / 2 ** 20 + fixed;
      rows.push({
        name: `memory per server at ${MESSAGES.toLocaleString('en-US')} events, ${label}`,
        value: r.per_server_mb.rss,
        unit: 'MB',
        detail: `RSS; V8 heap ${r.per_server_mb.heap} MB = ${parts}; ${perEvent} B of heap per event (store ${b.bytes_per_event.store}, room ${b.bytes_per_event.room}) → projected ≈ ${projected.toFixed(1)} MB at ${FULL.toLocaleString('en-US')} events = ${((projected / TARGET_MB) * 100).toFixed(0)}% of the target (< ${TARGET_MB} MB)`,
      });
    }
  }
  return rows;
}

/** Issue 16 item 2 and the libp2p half of item 3; the targets come with sim-scale's output. The memory target is libp2p-20's. */
const LIBP2P_SCENARIOS: { file: string; memory: boolean }[] = [
  { file: 'scenarios/libp2p-10-heal.json', memory: false },
  { file: 'scenarios/libp2p-20.json', memory: true },
];

/**
 * The shipped libp2p scenarios over real libp2p TCP on loopback, every server in this one process
 * (bench/sim-scale.ts --scenario FILE --transport libp2p): heal → converged, and for libp2p-20 the
 * memory per server (process RSS after the run minus before it, over the servers).
 */
export async function benchLibp2pScale(): Promise<BenchResult[]> {
  const rows: BenchResult[] = [];
  for (const { file, memory } of LIBP2P_SCENARIOS) {
    const name = file.replace(/^scenarios\/|\.json$/g, '');
    let r: SimScaleOutput;
    try {
      r = await runSimScaleWith(['--scenario', new URL(`../${file}`, import.meta.url).pathname, '--transport', 'libp2p'], `--scenario ${file}`);
    } catch (err) {
      rows.push({ name: `${name} over libp2p`, value: Number.NaN, unit: '', detail: `failed: ${(err as Error).message}` });
      continue;
    }
    const heal = r.heal_to_converge;
    const target = heal?.target_s === undefined ? 'no target' : `${((heal.s / heal.target_s) * 100).toFixed(0)}% of the target (< ${heal.target_s} s)`;
    const outcome = r.ok ? 'converged' : `FAILED (${(r.failed ?? []).join('; ')})`;
    rows.push({
      name: `${name}: ${r.servers} servers over libp2p TCP, heal → converged`,
      value: heal?.s ?? Number.NaN,
      unit: 's',
      detail: `${outcome}; ${heal ? target : 'no heal measured'}; whole scenario ${r.total_s} s, CPU ${r.cpu_s} s`,
    });
    const memoryTarget = r.targets?.per_server_rss_mb;
    if (memory && memoryTarget !== undefined) {
      rows.push({
        name: `${name}: memory per server over libp2p`,
        value: r.per_server_mb.rss,
        unit: 'MB',
        detail: `RSS after the run minus before, over the servers; V8 heap ${r.per_server_mb.heap} MB; ${((r.per_server_mb.rss / memoryTarget) * 100).toFixed(0)}% of the target (< ${memoryTarget} MB)`,
      });
    }
  }
  return rows;
}

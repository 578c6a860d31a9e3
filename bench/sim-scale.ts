/**
 * `node --expose-gc --import tsx bench/sim-scale.ts [SERVERS] [MESSAGES]`:
 * the simulation-scale figure of docs/benchmarks.md. Runs the
 * scenarios/scale-100.json shape (SERVERS servers in one public room over
 * the in-process network, MESSAGES messages from every user at 200/s, then
 * converge) and prints time per phase and memory per server (process RSS
 * and V8 heap after the run, minus before it, over SERVERS).
 */
import '../src/platform/node-polyfills.ts';
import { runScenario } from '../src/sim/runner.ts';
import { parseScenario } from '../src/sim/scenario.ts';

const servers = Number(process.argv[2] ?? 100);
const messages = Number(process.argv[3] ?? 10_000);
const rate = 200;
const gc = (globalThis as { gc?: () => void }).gc;

const labels = Array.from({ length: servers }, (_, i) => `s${String(i).padStart(3, '0')}`);
const users = Object.fromEntries(labels.map((s, i) => [`u${String(i).padStart(3, '0')}`, s]));
const names = Object.keys(users);
const scenario = parseScenario({
  name: `scale-${servers}`,
  tuning: { anti_entropy_ms: 2000, outbox_max_backoff_ms: 1000, sample_ms: 1000 },
  servers: labels,
  users,
  steps: [
    { do: 'createRoom', as: names[0], room: 'r', preset: 'public_chat' },
    ...names.slice(1).map((u) => ({ do: 'join', as: u, room: 'r' })),
    { do: 'converge', timeout_ms: 120_000 },
    { do: 'load', as: names, room: 'r', rate_per_s: rate, duration_ms: (messages / rate) * 1000, kind: 'message' },
    { do: 'converge', timeout_ms: 1_200_000 },
    { do: 'expect', server: 'all', room: 'r', messages: { count: messages } },
  ],
});

gc?.();
const before = process.memoryUsage();
const t0 = performance.now();
let peakRss = before.rss;
const peak = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 500);
const report = await runScenario(scenario, {
  noCheck: servers > 60,
  stepTimeoutMs: 3_600_000,
  onStep: (s) => {
    if (s.ms > 1000 || !s.ok) process.stderr.write(`step ${s.i} ${s.do}: ${s.ok ? 'ok' : `FAILED ${s.error}`} (${s.ms} ms)\n`);
  },
});
clearInterval(peak);
const total = performance.now() - t0;
gc?.();
const after = process.memoryUsage();
const joins = report.steps.filter((s) => s.do === 'join').reduce((n, s) => n + s.ms, 0);
const load = report.steps.find((s) => s.do === 'load')!;
const converge = report.steps.filter((s) => s.do === 'converge').at(-1)!;
const mb = (b: number) => Math.round((b / 1024 / 1024) * 10) / 10;
const totals = Object.values(report.metrics.totals);
const out = {
  ok: report.ok,
  servers,
  messages,
  sent: load.load,
  total_s: Math.round(total / 100) / 10,
  joins_s: Math.round(joins / 100) / 10,
  load_s: Math.round(load.ms / 100) / 10,
  converge_after_load_s: Math.round(converge.ms / 100) / 10,
  rss_mb: { before: mb(before.rss), after: mb(after.rss), peak: mb(peakRss) },
  heap_mb: { before: mb(before.heapUsed), after: mb(after.heapUsed) },
  per_server_mb: { rss: Math.round(((after.rss - before.rss) / servers / 1024 / 1024) * 100) / 100, heap: Math.round(((after.heapUsed - before.heapUsed) / servers / 1024 / 1024) * 100) / 100 },
  duplicates: totals.reduce((n, t) => n + t.duplicates, 0),
  federation_mb: mb(totals.reduce((n, t) => n + t.federation.bytes, 0)),
  gossip_mb: mb(totals.reduce((n, t) => n + t.gossip.bytes, 0)),
  failed: report.steps.filter((s) => !s.ok).map((s) => `${s.i} ${s.do}: ${s.error}`),
};
console.log(JSON.stringify(out, null, 2));
process.exit(report.ok ? 0 : 1);

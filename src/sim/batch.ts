/**
 * Many runs: `hearth simulate --runs N --seed S FILE…` runs seeds S..S+N-1
 * of every file, a few at a time (a run mostly waits on timers, so several
 * overlap well even on two cores), and shrinks every failing chaos run to a
 * minimal failing schedule by replaying subsets with the same seed.
 */
import type { ChaosFault } from './chaos.ts';
import type { Divergence, Violation } from './checker.ts';
import { type RunOptions, type ScheduledFault, type SimReport, runScenario } from './runner.ts';
import type { Scenario } from './scenario.ts';
import { shrink } from './shrink.ts';

export interface BatchOptions {
  runs: number;
  seed: number;
  /** Runs at once (default 4). */
  jobs?: number;
  /** Time budget to shrink one failing run (default 60 s; 0 = do not shrink). */
  shrinkBudgetMs?: number;
  /** Called after each run. */
  onRun?: (file: string, report: SimReport, ms: number) => void;
  run?: RunOptions;
}

export interface Failure {
  file: string;
  seed: number;
  /** Failed steps and checker violations, one line each. */
  errors: string[];
  violations: Violation[];
  schedule: ScheduledFault[];
  /** The smallest failing schedule the shrinker found (same seed). */
  minimal_schedule?: ScheduledFault[];
  shrink?: { tries: number; complete: boolean; reproduced: boolean };
  /** What differed at the end of the (minimal, when it reproduced) failing run. */
  divergence: Divergence[];
}

export interface BatchSummary {
  ok: boolean;
  runs: number;
  passed: number;
  failed: number;
  failing_seeds: Record<string, number[]>;
  ms: number;
  per_file: Record<string, { runs: number; failed: number; mean_ms: number; max_converge_ms: number | null; mean_converge_ms: number | null }>;
  failures: Failure[];
}

/** The errors of a run, one line each: failed steps, then checker violations. */
export function runErrors(r: SimReport): string[] {
  return [
    ...r.steps.filter((s) => !s.ok).map((s) => `step ${s.i} (${s.do}): ${s.error ?? 'failed'}`),
    ...(r.check?.violations ?? []).map((v) => `${v.invariant} in ${v.room}${v.server ? ` on ${v.server}` : ''}: ${v.detail}`),
  ];
}

export async function runBatch(files: { file: string; scenario: Scenario }[], opts: BatchOptions): Promise<{ summary: BatchSummary; reports: { file: string; report: SimReport }[] }> {
  const started = performance.now();
  const tasks = files.flatMap((f) => Array.from({ length: opts.runs }, (_, k) => ({ ...f, seed: opts.seed + k })));
  const results: { file: string; seed: number; report: SimReport; ms: number; scenario: Scenario }[] = [];
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const t = tasks[next++]!;
      const t0 = performance.now();
      const report = await runScenario(t.scenario, { ...(opts.run ?? {}), seed: t.seed });
      const ms = Math.round(performance.now() - t0);
      results.push({ file: t.file, seed: t.seed, report, ms, scenario: t.scenario });
      opts.onRun?.(t.file, report, ms);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.jobs ?? 4) }, worker));
  results.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.seed - b.seed));

  const failures: Failure[] = [];
  for (const r of results.filter((x) => !x.report.ok)) failures.push(await explain(r.file, r.scenario, r.seed, r.report, opts));

  const per_file: BatchSummary['per_file'] = {};
  for (const { file } of files) {
    const mine = results.filter((r) => r.file === file);
    const conv = mine.flatMap((r) => r.report.metrics.heals.map((h) => h.converge_ms).filter((x): x is number => x !== null));
    per_file[file] = {
      runs: mine.length,
      failed: mine.filter((r) => !r.report.ok).length,
      mean_ms: Math.round(mine.reduce((n, r) => n + r.ms, 0) / Math.max(1, mine.length)),
      max_converge_ms: conv.length ? Math.max(...conv) : null,
      mean_converge_ms: conv.length ? Math.round(conv.reduce((a, b) => a + b, 0) / conv.length) : null,
    };
  }
  const failing_seeds: Record<string, number[]> = {};
  for (const f of failures) failing_seeds[f.file] = [...(failing_seeds[f.file] ?? []), f.seed];
  const summary: BatchSummary = {
    ok: failures.length === 0,
    runs: results.length,
    passed: results.length - failures.length,
    failed: failures.length,
    failing_seeds,
    ms: Math.round(performance.now() - started),
    per_file,
    failures,
  };
  return { summary, reports: results.map((r) => ({ file: r.file, report: r.report })) };
}

/** Shrinks a failing run's schedule (when it has one) and describes the failure. */
export async function explain(file: string, scenario: Scenario, seed: number, report: SimReport, opts: Pick<BatchOptions, 'shrinkBudgetMs' | 'run'>): Promise<Failure> {
  const schedule = report.schedule ?? [];
  const failure: Failure = {
    file,
    seed,
    errors: runErrors(report),
    violations: report.check?.violations ?? [],
    schedule,
    divergence: report.check?.divergence ?? [],
  };
  const budget = opts.shrinkBudgetMs ?? 60_000;
  if (schedule.length === 0 || budget <= 0) return failure;
  let last: SimReport | undefined;
  const replay = async (subset: ScheduledFault[]): Promise<boolean> => {
    const schedules: Record<number, ChaosFault[]> = {};
    for (const step of new Set(schedule.map((f) => f.step))) schedules[step] = [];
    for (const { step, ...f } of subset) schedules[step]!.push(f as ChaosFault);
    const r = await runScenario(scenario, { ...(opts.run ?? {}), seed, schedules });
    if (!r.ok) last = r;
    return !r.ok;
  };
  // First: does the whole schedule fail again? Timing differs from run to run, so a failure
  // may not reproduce; then shrinking would chase noise.
  const reproduced = await replay(schedule);
  if (!reproduced) {
    failure.shrink = { tries: 1, complete: false, reproduced: false };
    return failure;
  }
  const result = await shrink(schedule, replay, { budgetMs: budget });
  failure.minimal_schedule = result.minimal;
  failure.shrink = { tries: result.tries + 1, complete: result.complete, reproduced: true };
  if (last) failure.divergence = last.check?.divergence ?? failure.divergence;
  return failure;
}

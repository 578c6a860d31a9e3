/**
 * `hearth simulate SCENARIO.json…`: runs scenarios on in-process servers and
 * prints a JSON report. Unlike the other commands it reads files (a
 * scenario is written by hand and kept in the repository, not piped) and
 * exits 1 when a step or the checker did not hold, so scripts and CI can use
 * it as a check. With --runs N it runs seeds S..S+N-1 of every file and
 * prints a summary instead (failing seeds, minimal failing schedules).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { explain, runBatch, runErrors } from '../sim/batch.ts';
import { toCsv, toHtml } from '../sim/report-html.ts';
import { checkTransport, runScenario } from '../sim/runner.ts';
import { type Scenario, ScenarioError, parseScenario } from '../sim/scenario.ts';
import type { Command } from './commands.ts';
import { UsageError } from './io.ts';

const VALUE_FLAGS = ['--runs', '--seed', '--jobs', '--csv', '--report', '--shrink-budget-ms', '--transport'];

function parseArgs(argv: string[]): { files: string[]; flags: Map<string, string>; progress: boolean } {
  const files: string[] = [];
  const flags = new Map<string, string>();
  let progress = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) {
      files.push(a);
      continue;
    }
    if (a === '--progress') {
      progress = true;
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(0, eq) : a;
    if (!VALUE_FLAGS.includes(name)) throw new UsageError(`unknown option ${name}`);
    const value = eq > 0 ? a.slice(eq + 1) : argv[++i];
    if (value === undefined || value === '') throw new UsageError(`${name} needs a value`);
    flags.set(name, value);
  }
  return { files, flags, progress };
}

function intFlag(flags: Map<string, string>, name: string, min: number): number | undefined {
  const v = flags.get(name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`${name} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  return n;
}

async function load(file: string): Promise<Scenario> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    return parseScenario(text);
  } catch (err) {
    if (err instanceof ScenarioError) throw new UsageError(`${file}: ${err.message}`);
    throw err;
  }
}

export const simulateCommand: Command = {
  args: 'SCENARIO.json… [--transport in-process|libp2p] [--runs N] [--seed S] [--jobs J] [--csv FILE] [--report FILE.html] [--shrink-budget-ms MS] [--progress]',
  summary: 'runs multi-server scenarios in process (faults, seeded chaos, checker) -> JSON report (exit 1 if a step or the checker failed); see docs/simulate.md',
  async run(argv) {
    const { files, flags, progress } = parseArgs(argv);
    if (files.length === 0) throw new UsageError('expected one scenario file, got 0');
    const runs = intFlag(flags, '--runs', 1);
    const seed = intFlag(flags, '--seed', 0);
    const jobs = intFlag(flags, '--jobs', 1);
    const shrinkBudgetMs = intFlag(flags, '--shrink-budget-ms', 0);
    const transportFlag = flags.get('--transport') ?? 'in-process';
    if (transportFlag !== 'in-process' && transportFlag !== 'libp2p') {
      throw new UsageError(`--transport must be in-process or libp2p, got ${JSON.stringify(transportFlag)}`);
    }
    const transport = transportFlag as 'in-process' | 'libp2p';
    if (transport === 'libp2p' && (runs !== undefined || files.length > 1)) {
      throw new UsageError('--transport libp2p runs one scenario once; --runs and several files use the in-process network');
    }
    const csv = flags.get('--csv');
    const html = flags.get('--report');
    // Every file is validated before anything runs.
    const scenarios = [];
    for (const file of files) {
      const scenario = await load(file);
      try {
        checkTransport(scenario, transport);
      } catch (err) {
        throw new UsageError(`${file}: ${(err as Error).message}`);
      }
      scenarios.push({ file, scenario });
    }
    const captureDag = html !== undefined;

    if (runs === undefined && scenarios.length === 1) {
      const { file, scenario } = scenarios[0]!;
      const report = await runScenario(scenario, {
        transport,
        ...(seed !== undefined ? { seed } : {}),
        captureDag,
        ...(progress
          ? {
              onStep: (s) =>
                process.stderr.write(`step ${s.i} ${s.do}: ${s.ok ? 'ok' : 'FAILED'} (${s.ms} ms)${s.error ? ` ${s.error}` : ''}\n`),
            }
          : {}),
      });
      let output: object = report;
      if (!report.ok && (report.schedule?.length ?? 0) > 0) {
        if (progress) process.stderr.write('shrinking the failing schedule…\n');
        const failure = await explain(file, scenario, report.seed ?? 0, report, { ...(shrinkBudgetMs !== undefined ? { shrinkBudgetMs } : {}) });
        output = { ...report, failure };
      }
      if (csv) await writeFile(csv, toCsv([{ file, report }]));
      if (html) await writeFile(html, toHtml({ title: `hearth simulate ${scenario.name}`, runs: [{ file, report }] }));
      return { output: JSON.stringify(output, null, 2), exitCode: report.ok ? 0 : 1 };
    }

    const { summary, reports } = await runBatch(scenarios, {
      runs: runs ?? 1,
      seed: seed ?? 1,
      ...(jobs !== undefined ? { jobs } : {}),
      ...(shrinkBudgetMs !== undefined ? { shrinkBudgetMs } : {}),
      run: { captureDag },
      ...(progress
        ? {
            onRun: (file, r, ms) =>
              process.stderr.write(`${file} seed ${r.seed ?? '-'}: ${r.ok ? 'ok' : 'FAILED'} (${ms} ms)${r.ok ? '' : ` ${runErrors(r)[0] ?? ''}`}\n`),
          }
        : {}),
    });
    if (csv) await writeFile(csv, toCsv(reports));
    if (html) {
      // Charts for the failing runs (up to 5), or the first run when all passed: 200 full sections would be unreadable.
      const failing = reports.filter((r) => !r.report.ok).slice(0, 5);
      const shown = failing.length > 0 ? failing : reports.slice(0, 1);
      await writeFile(html, toHtml({ title: `hearth simulate ${files.join(' ')}`, runs: shown, summary }));
    }
    return { output: JSON.stringify(summary, null, 2), exitCode: summary.ok ? 0 : 1 };
  },
};

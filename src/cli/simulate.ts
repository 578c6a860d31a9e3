/**
 * `hearth simulate SCENARIO.json`: runs a scenario on in-process servers and
 * prints the JSON report. Unlike the other commands it reads a file (a
 * scenario is written by hand and kept in the repository, not piped) and
 * exits 1 when a step did not hold, so scripts and CI can use it as a check.
 */
import { readFile } from 'node:fs/promises';
import { runScenario } from '../sim/runner.ts';
import { ScenarioError, parseScenario } from '../sim/scenario.ts';
import type { Command } from './commands.ts';
import { UsageError } from './io.ts';

export const simulateCommand: Command = {
  args: 'SCENARIO.json [--progress]',
  summary: 'runs a multi-server scenario in process -> JSON report (exit 1 if a step failed); see docs/simulate.md',
  async run(argv) {
    const files = argv.filter((a) => !a.startsWith('--'));
    const flags = argv.filter((a) => a.startsWith('--'));
    for (const f of flags) if (f !== '--progress') throw new UsageError(`unknown option ${f}`);
    if (files.length !== 1) throw new UsageError(`expected one scenario file, got ${files.length}`);
    const file = files[0]!;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    let scenario: ReturnType<typeof parseScenario>;
    try {
      scenario = parseScenario(text);
    } catch (err) {
      if (err instanceof ScenarioError) throw new UsageError(`${file}: ${err.message}`);
      throw err;
    }
    const progress = flags.includes('--progress');
    const report = await runScenario(scenario, {
      ...(progress
        ? {
            onStep: (s) =>
              process.stderr.write(`step ${s.i} ${s.do}: ${s.ok ? 'ok' : 'FAILED'} (${s.ms} ms)${s.error ? ` ${s.error}` : ''}\n`),
          }
        : {}),
    });
    return { output: JSON.stringify(report, null, 2), exitCode: report.ok ? 0 : 1 };
  },
};

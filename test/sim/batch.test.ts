import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runBatch } from '../../src/sim/batch.ts';
import { toCsv, toHtml } from '../../src/sim/report-html.ts';
import { parseScenario } from '../../src/sim/scenario.ts';
import { hearth } from '../cli/helpers.ts';

const TUNING = { anti_entropy_ms: 100, outbox_max_backoff_ms: 200, sample_ms: 50 };

/** A chaos run followed by a check that can never hold: every seed fails, whatever the faults. */
const alwaysFails = parseScenario({
  name: 'always-fails',
  tuning: TUNING,
  servers: ['a', 'b'],
  users: { alice: 'a', bob: 'b' },
  steps: [
    { do: 'createRoom', as: 'alice', room: 'r', preset: 'public_chat', topic: 'real' },
    { do: 'join', as: 'bob', room: 'r' },
    { do: 'chaos', seed: 1, duration_ms: 300, faults: ['partition', 'flap'], workload: { room: 'r', rate_per_s: 10, kind: 'message' } },
    { do: 'expect', server: 'all', room: 'r', state: { 'm.room.topic': { '': { topic: 'never' } } } },
  ],
});

describe('runBatch', () => {
  it('runs seeds S..S+N-1, lists the failing ones, and shrinks each failing schedule', async () => {
    const { summary, reports } = await runBatch([{ file: 'x.json', scenario: alwaysFails }], { runs: 2, seed: 7, jobs: 2, shrinkBudgetMs: 20_000 });
    expect(summary.ok).toBe(false);
    expect(summary.runs).toBe(2);
    expect(summary.failing_seeds).toEqual({ 'x.json': [7, 8] });
    expect(reports.map((r) => r.report.seed).sort()).toEqual([7, 8]);
    const f = summary.failures[0]!;
    expect(f.errors[0]).toContain('step 3 (expect)');
    // The failure does not depend on the faults: the minimal schedule is empty.
    expect(f.shrink?.reproduced).toBe(true);
    expect(f.minimal_schedule).toEqual([]);
    expect(f.schedule.length).toBeGreaterThan(0);

    const csv = toCsv(reports);
    expect(csv.split('\n')[0]).toBe('file,seed,t_ms,server,outbox,dag_width,events,bytes_sent,converged');
    expect(csv).toContain('x.json,7,');
    const html = toHtml({ title: 't', runs: reports, summary });
    expect(html).toContain('uPlot');
    expect(html).toContain('Minimal failing schedule');
    expect(html).not.toMatch(/<script src=/);
  });
});

describe('hearth simulate --runs', () => {
  it('exits 1 and lists the failing seeds; writes --csv and --report', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-sim-'));
    const file = join(dir, 'fail.json');
    writeFileSync(
      file,
      JSON.stringify({
        name: 'fail',
        servers: ['a'],
        users: { alice: 'a' },
        steps: [
          { do: 'createRoom', as: 'alice', room: 'r', topic: 'real' },
          { do: 'expect', server: 'a', room: 'r', state: { 'm.room.topic': { '': { topic: 'wrong' } } } },
        ],
      }),
    );
    const res = await hearth(['simulate', '--runs', '2', '--seed', '5', '--csv', join(dir, 'o.csv'), '--report', join(dir, 'o.html'), file], '');
    expect(res.code).toBe(1);
    const summary = res.json() as { ok: boolean; failed: number; failing_seeds: Record<string, number[]> };
    expect(summary.ok).toBe(false);
    expect(summary.failed).toBe(2);
    expect(summary.failing_seeds[file]).toEqual([5, 6]);
    expect(readFileSync(join(dir, 'o.csv'), 'utf8')).toMatch(/^file,seed,/);
    expect(readFileSync(join(dir, 'o.html'), 'utf8')).toContain('<svg');
  });
});

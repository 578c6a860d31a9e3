/** The scenario format over real libp2p on 127.0.0.1 (TCP, a relay for discovery). */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkTransport, runScenario } from '../../src/sim/runner.ts';
import { parseScenario } from '../../src/sim/scenario.ts';

const load = (name: string) => parseScenario(JSON.parse(readFileSync(new URL(`../../scenarios/${name}.json`, import.meta.url), 'utf8')));

describe('hearth simulate --transport libp2p', () => {
  it('runs a partition scenario over real libp2p to convergence', async () => {
    const report = await runScenario(load('split-brain-topic-race'), { transport: 'libp2p' });
    expect(report.steps.filter((s) => !s.ok)).toEqual([]);
    expect(report.ok).toBe(true);
    // What each server sent is counted over libp2p too (it read 0 when only the in-process network counted).
    for (const [label, t] of Object.entries(report.metrics.totals)) {
      expect(t.federation.messages, label).toBeGreaterThan(0);
      expect(t.federation.bytes, label).toBeGreaterThan(t.federation.messages * 50);
      expect(t.gossip.messages, label).toBeGreaterThan(0);
      expect(t.gossip.bytes, label).toBeGreaterThan(0);
      expect(Math.max(...report.metrics.bytes[label]!), label).toBeGreaterThan(0);
    }
  }, 60_000);

  it('runs crash and restart over real libp2p (the restarted server keeps its PeerId)', async () => {
    const report = await runScenario(load('crash-restart'), { transport: 'libp2p' });
    expect(report.steps.filter((s) => !s.ok)).toEqual([]);
    // Bytes sent are cumulative over a server's incarnations: a restart does not start c at zero.
    expect(report.metrics.bytes.c?.length).toBeGreaterThan(2);
    for (const [label, series] of Object.entries(report.metrics.bytes)) {
      for (let i = 1; i < series.length; i++) expect(series[i]!, `${label} at sample ${i}`).toBeGreaterThanOrEqual(series[i - 1]!);
      expect(report.metrics.totals[label]!.federation.bytes + report.metrics.totals[label]!.gossip.bytes, label).toBeGreaterThanOrEqual(series.at(-1)!);
    }
  }, 60_000);

  it('refuses steps only the in-process network can carry out', () => {
    expect(() => checkTransport(load('flapping-link'), 'libp2p')).toThrow(/needs the in-process network/);
    expect(() => checkTransport(load('flapping-link'), 'in-process')).not.toThrow();
  });
});

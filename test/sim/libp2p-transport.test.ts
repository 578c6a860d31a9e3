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
  }, 60_000);

  it('runs crash and restart over real libp2p (the restarted server keeps its PeerId)', async () => {
    const report = await runScenario(load('crash-restart'), { transport: 'libp2p' });
    expect(report.steps.filter((s) => !s.ok)).toEqual([]);
  }, 60_000);

  it('refuses steps only the in-process network can carry out', () => {
    expect(() => checkTransport(load('flapping-link'), 'libp2p')).toThrow(/needs the in-process network/);
    expect(() => checkTransport(load('flapping-link'), 'in-process')).not.toThrow();
  });
});

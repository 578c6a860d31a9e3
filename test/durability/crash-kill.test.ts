/**
 * Crash consistency, proven by killing (the short form of
 * `node --import tsx bench/crash-soak.ts`): `hearth serve --data DIR`
 * SIGKILLed 10 times under local sends and a peer's messages, at seeded
 * random moments. After each kill: no partial event in the store, no
 * acknowledged event lost, a client's retried transaction IDs answer
 * without duplicates, and after the restart the room converges with the peer. The seed is printed; rerun one with HEARTH_CRASH_SEED=N.
 */
import { describe, expect, it } from 'vitest';
import { runCrashHarness } from './crash-harness.ts';

const KILLS = 10;

describe('hearth serve --data DIR under SIGKILL', () => {
  it(`${KILLS} kills at random moments: nothing partial, nothing acknowledged lost, the room converges`, { timeout: 420_000 }, async () => {
    const seed = process.env.HEARTH_CRASH_SEED ? Number(process.env.HEARTH_CRASH_SEED) : Math.floor(Math.random() * 2 ** 31);
    const lines: string[] = [];
    console.log(`crash-kill seed ${seed} (rerun with HEARTH_CRASH_SEED=${seed})`);
    const r = await runCrashHarness({ kills: KILLS, seed, upMs: [150, 1200], log: (l) => lines.push(l) });
    const report = `seed ${seed}\n${lines.join('\n')}`;
    console.log(report);
    expect(r.kills).toBe(KILLS);
    expect(r.acknowledged, report).toBeGreaterThan(KILLS);
    expect(r.peerSent, report).toBeGreaterThan(0);
    expect(r.lost, report).toEqual([]);
    expect(r.inconsistencies, report).toEqual([]);
    expect(r.divergences, report).toEqual([]);
    expect(r.txnProblems, report).toEqual([]);
  });
});

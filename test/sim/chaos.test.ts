import { describe, expect, it } from 'vitest';
import { FAULT_KINDS, type ChaosFault, faultSpan, generateSchedule } from '../../src/sim/chaos.ts';
import { Rng, mulberry32 } from '../../src/sim/prng.ts';
import { shrink } from '../../src/sim/shrink.ts';

describe('mulberry32 / Rng', () => {
  it('is deterministic per seed and differs across seeds', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const xs = Array.from({ length: 5 }, () => a());
    expect(Array.from({ length: 5 }, () => b())).toEqual(xs);
    expect(mulberry32(43)()).not.toBe(xs[0]);
    for (const x of xs) expect(x >= 0 && x < 1).toBe(true);
  });

  it('int, pick and shuffle stay in range', () => {
    const r = new Rng(7);
    for (let i = 0; i < 200; i++) {
      const n = r.int(3, 5);
      expect(n >= 3 && n <= 5).toBe(true);
    }
    expect(r.shuffle([1, 2, 3, 4]).sort()).toEqual([1, 2, 3, 4]);
    expect(['x', 'y']).toContain(r.pick(['x', 'y']));
  });
});

describe('generateSchedule', () => {
  const spec = { duration_ms: 2000, faults: [...FAULT_KINDS], servers: ['a', 'b', 'c', 'd'] };

  it('same seed, same schedule; another seed, another schedule', () => {
    const s1 = generateSchedule({ ...spec, seed: 12345 });
    expect(generateSchedule({ ...spec, seed: 12345 })).toEqual(s1);
    expect(s1.length).toBeGreaterThan(0);
    expect(generateSchedule({ ...spec, seed: 12346 })).not.toEqual(s1);
  });

  it('draws only the allowed kinds, within the step, with no overlapping node faults on one server', () => {
    for (let seed = 0; seed < 50; seed++) {
      const s = generateSchedule({ ...spec, seed, faults: ['partition', 'crash', 'pause'] });
      const busy = new Map<string, number>();
      for (const f of s) {
        expect(['partition', 'crash', 'pause']).toContain(f.kind);
        expect(f.at_ms).toBeGreaterThanOrEqual(0);
        expect(f.at_ms + faultSpan(f)).toBeLessThanOrEqual(spec.duration_ms);
        if (f.kind === 'crash' || f.kind === 'pause') {
          expect(f.at_ms).toBeGreaterThan(busy.get(f.server) ?? -1);
          busy.set(f.server, f.at_ms + f.ms);
        }
        if (f.kind === 'partition' && 'groups' in f) {
          expect(f.groups.flat().sort()).toEqual(spec.servers);
          expect(f.groups.every((g) => g.length > 0)).toBe(true);
        }
      }
    }
  });

  it('faults are ordered by start time', () => {
    const s = generateSchedule({ ...spec, seed: 3 });
    const starts = s.map((f: ChaosFault) => f.at_ms);
    expect([...starts].sort((x, y) => x - y)).toEqual(starts);
  });
});

describe('shrink (ddmin)', () => {
  it('finds the two faults that together cause a failure', async () => {
    const items = Array.from({ length: 16 }, (_, i) => i);
    const seen: number[][] = [];
    const r = await shrink(items, async (s) => {
      seen.push(s);
      return s.includes(3) && s.includes(11);
    });
    expect(r.minimal.sort((a, b) => a - b)).toEqual([3, 11]);
    expect(r.complete).toBe(true);
    // Halves first: the first non-empty subset tried is half of the schedule.
    expect(seen[1]!.length).toBe(8);
    expect(r.tries).toBe(seen.length);
  });

  it('returns [] when the run fails with no faults at all', async () => {
    const r = await shrink([1, 2, 3], async () => true);
    expect(r.minimal).toEqual([]);
  });

  it('keeps the whole list when every fault is needed, and stops at the time budget', async () => {
    const all = await shrink([1, 2, 3, 4], async (s) => s.length === 4);
    expect(all.minimal).toEqual([1, 2, 3, 4]);
    let t = 0;
    const timed = await shrink(
      Array.from({ length: 64 }, (_, i) => i),
      async (s) => s.includes(5),
      { budgetMs: 3, now: () => t++ },
    );
    expect(timed.complete).toBe(false);
    expect(timed.minimal).toContain(5);
  });
});

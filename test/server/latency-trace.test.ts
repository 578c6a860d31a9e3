import { afterEach, describe, expect, it } from 'vitest';
import { latencyTracing, setLatencyTracing, takeLatencyTrace, traceMark } from '../../src/server/latency-trace.ts';

afterEach(() => setLatencyTracing(false));

describe('latency marks (the benchmark breakdown)', () => {
  it('records nothing while off, and marks on one clock while on', () => {
    traceMark('$e', 'signed');
    expect(latencyTracing()).toBe(false);
    expect(takeLatencyTrace()).toEqual([]);
    setLatencyTracing(true);
    const before = Date.now();
    traceMark('$e', 'signed');
    traceMark('$e', 'page-send', 1234.5, 'hello');
    const marks = takeLatencyTrace();
    expect(marks.map((m) => m.stage)).toEqual(['signed', 'page-send']);
    // ms since the epoch (performance.timeOrigin + now()), comparable across contexts.
    expect(Math.abs(marks[0]!.at - before)).toBeLessThan(60_000);
    expect(marks[1]).toEqual({ key: '$e', stage: 'page-send', at: 1234.5, note: 'hello' });
    expect(takeLatencyTrace()).toEqual([]);
  });

  it('stops growing at its bound when nobody reads it', () => {
    setLatencyTracing(true);
    for (let i = 0; i < 60_000; i++) traceMark(`$${i}`, 'x');
    expect(takeLatencyTrace().length).toBe(50_000);
  });
});

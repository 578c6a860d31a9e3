/** Test clocks for code that takes an injected `Clock` (src/server/clock.ts). */
import type { Clock } from '../../src/server/clock.ts';

/** A clock whose time moves only when told; its timers fire in order. */
export function manualClock() {
  let t = 1_000;
  const timers = new Map<number, { at: number; fn: () => void }>();
  let next = 1;
  const clock: Clock = {
    now: () => t,
    setTimeout: (fn, ms) => {
      const id = next++;
      timers.set(id, { at: t + ms, fn });
      return id;
    },
    clearTimeout: (h) => void timers.delete(h as number),
  };
  return {
    clock,
    pendingTimers: () => [...timers.values()].map((x) => x.at - t),
    advance(ms: number) {
      t += ms;
      for (const [id, x] of [...timers].sort((a, b) => a[1].at - b[1].at)) {
        if (x.at <= t) {
          timers.delete(id);
          x.fn();
        }
      }
    },
  };
}

/** Time and timers, injected so the simulator can drive many servers deterministically. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/** Random bytes, injected for reproducible simulations. */
export type RandomSource = (n: number) => Uint8Array;
export const cryptoRandom: RandomSource = (n) => crypto.getRandomValues(new Uint8Array(n));

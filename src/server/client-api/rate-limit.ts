/**
 * Token buckets per key (a user, an action): M_LIMIT_EXCEEDED with
 * `retry_after_ms` once a key's bucket is empty. Buckets refill continuously.
 */
import { MatrixError } from '../errors.ts';

export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    /** Burst size. */
    private readonly burst: number,
    /** Tokens added per second. */
    private readonly perSecond: number,
    private readonly now: () => number,
  ) {}

  /** Takes one token for `key`, or throws M_LIMIT_EXCEEDED saying when to retry. */
  take(key: string, what: string): void {
    const t = this.now();
    const b = this.buckets.get(key) ?? { tokens: this.burst, at: t };
    b.tokens = Math.min(this.burst, b.tokens + ((t - b.at) / 1000) * this.perSecond);
    b.at = t;
    if (b.tokens < 1) {
      const retry = Math.ceil(((1 - b.tokens) / this.perSecond) * 1000);
      this.buckets.set(key, b);
      throw new MatrixError('M_LIMIT_EXCEEDED', `too many ${what}; retry in ${retry} ms`, { extra: { retry_after_ms: retry } });
    }
    b.tokens -= 1;
    this.buckets.set(key, b);
    if (this.buckets.size > 10_000) this.buckets.delete(this.buckets.keys().next().value!);
  }
}

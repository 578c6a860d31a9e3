/**
 * Starts the homeserver worker's verification helpers (src/crypto/verify-pool.ts):
 * one per core beyond the first, at most 3, when this context can start
 * workers (Chromium and Firefox can from a dedicated worker). Chromium checks
 * an Ed25519 signature on the calling thread, so without helpers the
 * homeserver worker spends more time verifying than on everything else a
 * received event needs. On a 2-core machine one helper made ingest faster
 * once transactions from different servers overlap (their signatures are
 * checked outside the room's lock): median of 5 alternating runs, 4 origins,
 * 6.1k vs 4.9k events/s; one origin 4.9k vs 4.0k (bench/browser ?pool=off).
 * (Before that change the helper lost on 2 cores, and needed 3.) Undefined
 * when there is no core to spare or no Worker: the engine then verifies
 * in-thread.
 */
import type { Ed25519Verifier } from '../core/ed25519.ts';
import { type VerifyPool, createVerifyPool } from '../crypto/verify-pool.ts';
import { bestVerifier } from '../crypto/webcrypto-ed25519.ts';

/** At most 2 jobs at once, and 8 in 100 ms: a person's messages, not a transaction or a backlog. */
const QUIET = { batch: 2, max: 8, windowMs: 100 } as const;

export async function startVerifyHelpers(max = 3, reservedCores = 1): Promise<VerifyPool | undefined> {
  const cores = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 1;
  const count = Math.min(max, cores - reservedCores);
  if (count < 1 || typeof Worker === 'undefined') return undefined;
  const fallback: Ed25519Verifier = await bestVerifier();
  const ports = [];
  try {
    for (let i = 0; i < count; i++) {
      ports.push(new Worker(new URL('../../workers/verify.worker.ts', import.meta.url), { type: 'module', name: `hearth-verify-${i}` }));
    }
  } catch {
    for (const p of ports) p.terminate();
    return undefined;
  }
  return createVerifyPool(ports, fallback, {
    onRetire: (why) => console.warn(`a signature-check helper stopped (${why}); verifying in the homeserver worker instead`),
    // A live message in a quiet room (one or two signatures) is checked here: the helper's
    // round trip was 11–14 ms p50 of the 60 ms from Enter to another tab (docs/benchmarks.md).
    // Ingest (batches, streams) still goes to the helpers.
    inThreadWhenQuiet: QUIET,
  });
}

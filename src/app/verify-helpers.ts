/**
 * Starts the homeserver worker's verification helpers (src/crypto/verify-pool.ts):
 * one per core beyond two, at most 3, when this context can start workers
 * (Chromium and Firefox can from a dedicated worker). Two cores are left to
 * the homeserver worker and to everything else a tab needs at the same time
 * (the page, the browser's storage process): on a 2-core machine a helper
 * competed with those and ingest was slower with it (4.7–4.8k vs 5.2–5.7k
 * events/s, bench/browser ?nopool). Undefined when there is no core to
 * spare or no Worker: the engine then verifies in-thread.
 */
import type { Ed25519Verifier } from '../core/ed25519.ts';
import { type VerifyPool, createVerifyPool } from '../crypto/verify-pool.ts';
import { bestVerifier } from '../crypto/webcrypto-ed25519.ts';

export async function startVerifyHelpers(max = 3, reservedCores = 2): Promise<VerifyPool | undefined> {
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
  });
}

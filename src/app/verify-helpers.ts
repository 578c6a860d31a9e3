/**
 * Starts the homeserver worker's verification helpers (src/crypto/verify-pool.ts):
 * one per core beyond the first, at most 3, when this context can start
 * workers (Chromium and Firefox can from a dedicated worker). Undefined when
 * there is no second core or no Worker: the engine then verifies in-thread.
 */
import type { Ed25519Verifier } from '../core/ed25519.ts';
import { type VerifyPool, createVerifyPool } from '../crypto/verify-pool.ts';
import { bestVerifier } from '../crypto/webcrypto-ed25519.ts';

export async function startVerifyHelpers(max = 3): Promise<VerifyPool | undefined> {
  const cores = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 1;
  const count = Math.min(max, cores - 1);
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
  return createVerifyPool(ports, fallback);
}

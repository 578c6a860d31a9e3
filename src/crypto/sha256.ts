/**
 * SHA-256 for the ingest hot path. In browsers WebCrypto's digest runs off
 * the main thread at ~4x the pure implementation's rate (Chromium worker,
 * ENVIRONMENT.md) and overlaps with other work; in Node it is the other way
 * round (@noble/hashes 84–141k/s vs WebCrypto 38–57k/s), so Node keeps the
 * pure one. Both give the same bytes.
 */
import { sha256 } from '@noble/hashes/sha2.js';

const isNode = typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === 'string';
const subtle = isNode ? undefined : (globalThis as { crypto?: Crypto }).crypto?.subtle;

export async function sha256Async(bytes: Uint8Array): Promise<Uint8Array> {
  if (subtle) {
    try {
      return new Uint8Array(await subtle.digest('SHA-256', bytes.slice()));
    } catch {
      // fall through to the pure implementation
    }
  }
  return sha256(bytes);
}

/**
 * SHA-256 for the ingest hot path. In browsers WebCrypto's digest runs off
 * the main thread at ~4x the pure implementation's rate (Chromium worker,
 * ENVIRONMENT.md) and overlaps with other work; in Node it is the other way
 * round (@noble/hashes 84–141k/s vs WebCrypto 38–57k/s), so Node keeps the
 * pure one. Both give the same bytes.
 */
import { sha256 } from '@noble/hashes/sha2.js';

interface NodeHash {
  update(b: Uint8Array): NodeHash;
  digest(): Uint8Array;
}
type GetBuiltin = (id: 'node:crypto') => { createHash(alg: 'sha256'): NodeHash } | undefined;
const nodeProcess = (globalThis as { process?: { versions?: { node?: string }; getBuiltinModule?: GetBuiltin } }).process;
const isNode = typeof nodeProcess?.versions?.node === 'string';
// Node's own OpenSSL hash is several times faster than both (and synchronous); reached without an
// import so the browser bundle never sees `node:crypto`.
const nodeCrypto = isNode ? nodeProcess?.getBuiltinModule?.('node:crypto') : undefined;
const subtle = isNode ? undefined : (globalThis as { crypto?: Crypto }).crypto?.subtle;

/**
 * Synchronous SHA-256 (Node's OpenSSL, else the pure one): for short inputs
 * whose digest is needed at once — an event ID decides whether the event is
 * verified at all, and a synchronous ID lets a batch's verifications be
 * issued together.
 */
export function sha256Sync(bytes: Uint8Array): Uint8Array {
  if (nodeCrypto) return new Uint8Array(nodeCrypto.createHash('sha256').update(bytes).digest());
  return sha256(bytes);
}

export async function sha256Async(bytes: Uint8Array): Promise<Uint8Array> {
  if (nodeCrypto) return new Uint8Array(nodeCrypto.createHash('sha256').update(bytes).digest());
  if (subtle) {
    try {
      return new Uint8Array(await subtle.digest('SHA-256', bytes.slice()));
    } catch {
      // fall through to the pure implementation
    }
  }
  return sha256(bytes);
}

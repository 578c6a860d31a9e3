/**
 * SHA-256 for the ingest hot path (every received event is hashed twice: its
 * reference hash for the event ID, its content hash). All paths give the same
 * bytes (test/crypto/sha256.test.ts).
 *
 * - Node: OpenSSL through `node:crypto`, synchronous and the fastest there.
 * - Browsers: hash-wasm's WebAssembly SHA-256 once it has compiled — ~3x
 *   @noble/hashes in a Chromium worker (3–6 vs 14–19 µs for an event's
 *   ~600-byte reference hash input) and cheaper for the calling thread than
 *   issuing and settling a WebCrypto digest. Until it is ready (or where
 *   WebAssembly cannot be compiled): @noble/hashes for the synchronous
 *   digest, WebCrypto for the asynchronous one.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import type { IHasher } from 'hash-wasm';

interface NodeHash {
  update(b: Uint8Array): NodeHash;
  digest(): Uint8Array;
}
interface NodeCrypto {
  createHash(alg: 'sha256'): NodeHash;
  /** One-shot digest (Node 20.12+): no Hash object, ~1 µs less per event-sized input. */
  hash?(alg: 'sha256', data: Uint8Array, encoding: 'buffer'): Uint8Array;
}
type GetBuiltin = (id: 'node:crypto') => NodeCrypto | undefined;
const nodeProcess = (globalThis as { process?: { versions?: { node?: string }; getBuiltinModule?: GetBuiltin } }).process;
const isNode = typeof nodeProcess?.versions?.node === 'string';
// Node's own OpenSSL hash is several times faster than both (and synchronous); reached without an
// import so the browser bundle never sees `node:crypto`.
const nodeCrypto = isNode ? nodeProcess?.getBuiltinModule?.('node:crypto') : undefined;
const subtle = isNode ? undefined : (globalThis as { crypto?: Crypto }).crypto?.subtle;

/**
 * Synchronous SHA-256: for short inputs whose digest is needed at once — an
 * event ID decides whether the event is verified at all, and a synchronous ID
 * lets a batch's verifications be issued together.
 */
export function sha256Sync(bytes: Uint8Array): Uint8Array {
  if (nodeCrypto) return nodeSha256(nodeCrypto, bytes);
  if (wasmSha256) return wasmSha256(bytes);
  return sha256(bytes);
}

/** SHA-256 through a hash-wasm hasher: synchronous once created, one digest at a time. */
export function hasherSha256(hasher: IHasher): (bytes: Uint8Array) => Uint8Array {
  return (bytes) => {
    hasher.init();
    hasher.update(bytes);
    return hasher.digest('binary');
  };
}

function nodeSha256(c: NodeCrypto, bytes: Uint8Array): Uint8Array {
  return new Uint8Array(c.hash ? c.hash('sha256', bytes, 'buffer') : c.createHash('sha256').update(bytes).digest());
}

let wasmSha256: ((bytes: Uint8Array) => Uint8Array) | undefined;
if (!nodeCrypto) {
  // Imported only where it is used, so Node never loads it; a platform without WebAssembly
  // (or a page whose CSP forbids compiling it) keeps @noble/hashes.
  void import('hash-wasm')
    .then((m) => m.createSHA256())
    .then((hasher) => {
      wasmSha256 = hasherSha256(hasher);
    })
    .catch(() => undefined);
}

export async function sha256Async(bytes: Uint8Array): Promise<Uint8Array> {
  if (nodeCrypto) return nodeSha256(nodeCrypto, bytes);
  // Cheaper for this thread than a WebCrypto digest (8–12 vs ~11 µs just to issue one for a
  // 1.3 KB event), and no work for another thread: on 2 cores that one shares a core with the
  // signature checks.
  if (wasmSha256) return wasmSha256(bytes);
  if (subtle) {
    try {
      return new Uint8Array(await subtle.digest('SHA-256', bytes.slice()));
    } catch {
      // fall through to the pure implementation
    }
  }
  return sha256(bytes);
}

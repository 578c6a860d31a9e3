/**
 * Under Node, Ed25519 verification through `node:crypto` directly: the same
 * OpenSSL call Node's WebCrypto makes, on the same libuv thread pool, without
 * WebCrypto's per-call JavaScript (WebIDL conversion, algorithm
 * normalisation, a CryptoKey check, a job object with its promise). Issuing a
 * verification costs the calling thread ~5–13 µs here against WebCrypto's
 * ~18–45 µs (4,000 issued at once; the pool completes both at the same
 * ~18k/s), and the calling thread is what an ingesting server runs out of.
 *
 * The verdict is the WebCrypto path's: `precheckSignature` (core/ed25519.ts)
 * first, then OpenSSL's cofactorless check. Reached without an import so the
 * browser bundle never sees `node:crypto` (as crypto/sha256.ts does); a
 * self-test against the pure verifier decides whether it is used at all.
 */
import { encodeBase64Url } from '../core/base64.ts';
import { byteString, sameBytes } from '../core/bytes.ts';
import { type Ed25519Verifier, keyPairFromSeed, precheckSignature, signSync, verifyStrictSync } from '../core/ed25519.ts';

interface NodeCrypto {
  createPublicKey(key: { key: object; format: 'jwk' }): unknown;
  verify(algorithm: null, data: Uint8Array, key: unknown, signature: Uint8Array, callback: (err: Error | null, valid: boolean) => void): void;
}
type GetBuiltin = (id: 'node:crypto') => NodeCrypto | undefined;

const KEY_CACHE_LIMIT = 4096;

function nodeCrypto(): NodeCrypto | undefined {
  const proc = (globalThis as { process?: { versions?: { node?: string }; getBuiltinModule?: GetBuiltin } }).process;
  if (typeof proc?.versions?.node !== 'string') return undefined;
  try {
    return proc.getBuiltinModule?.('node:crypto');
  } catch {
    return undefined;
  }
}

/** The verifier, or undefined off Node (or where `node:crypto` cannot be reached). */
export function createNodeVerifier(): Ed25519Verifier | undefined {
  const crypto = nodeCrypto();
  if (!crypto) return undefined;
  const c: NodeCrypto = crypto;
  // Imported keys by their bytes, and by array identity (a server's key is one cached array,
  // core/peer-id.ts) so a verification needs no 32-character cache ID; bytes compared, as arrays
  // can change.
  const keys = new Map<string, unknown>();
  const byArray = new WeakMap<Uint8Array, { bytes: Uint8Array; key: unknown }>();
  const keyFor = (publicKey: Uint8Array): unknown => {
    const hit = byArray.get(publicKey);
    if (hit && sameBytes(hit.bytes, publicKey)) return hit.key;
    const id = byteString(publicKey);
    let key = keys.get(id);
    if (key === undefined) {
      if (keys.size >= KEY_CACHE_LIMIT) keys.clear();
      key = c.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: encodeBase64Url(publicKey) }, format: 'jwk' });
      keys.set(id, key);
    }
    byArray.set(publicKey, { bytes: publicKey.slice(), key });
    return key;
  };
  return {
    name: 'node:crypto Ed25519 (strict precheck)',
    verify(signature, message, publicKey) {
      if (precheckSignature(signature, publicKey) !== undefined) return Promise.resolve(false);
      return new Promise((resolve) => {
        try {
          // The job copies both buffers before this returns, as WebCrypto's does.
          c.verify(null, message, keyFor(publicKey), signature, (err, valid) => resolve(!err && valid === true));
        } catch {
          // A key OpenSSL refuses to import (not a point on the curve) verifies nothing.
          resolve(false);
        }
      });
    },
  };
}

/**
 * A Node verifier (each caller its own, with its own key cache) if one agrees
 * with the pure verifier on a valid signature, a tampered message and a
 * tampered signature; otherwise undefined. The self-test runs once per process.
 */
export async function selfTestedNodeVerifier(): Promise<Ed25519Verifier | undefined> {
  passes ??= selfTest();
  return (await passes) ? createNodeVerifier() : undefined;
}

let passes: Promise<boolean> | undefined;

async function selfTest(): Promise<boolean> {
  const v = createNodeVerifier();
  if (!v) return false;
  const seed = new Uint8Array(32).fill(7);
  const { publicKey } = keyPairFromSeed(seed);
  const msg = new TextEncoder().encode('hearth verifier self-test');
  const sig = signSync(msg, seed);
  const otherMsg = msg.slice();
  otherMsg[0]! ^= 1;
  const otherSig = sig.slice();
  otherSig[5]! ^= 1;
  const cases: [Uint8Array, Uint8Array][] = [
    [sig, msg],
    [sig, otherMsg],
    [otherSig, msg],
  ];
  try {
    for (const [s, m] of cases) if ((await v.verify(s, m, publicKey)) !== verifyStrictSync(s, m, publicKey)) return false;
  } catch {
    return false;
  }
  return true;
}

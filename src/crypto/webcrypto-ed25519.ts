/**
 * The fast path: Ed25519 verification with WebCrypto (OpenSSL in Node,
 * BoringSSL in Chromium), ~15x faster than the pure backend here.
 *
 * Both libraries compute the cofactorless equation and compare R as bytes,
 * which is rule 5 of the acceptance rule in core/ed25519.ts; rules 1–4 (where
 * libraries differ) are enforced by `precheckSignature` before WebCrypto is
 * asked. Imported keys are cached: importKey costs about as much as a verify.
 */
import { byteString, sameBytes } from '../core/bytes.ts';
import { type Ed25519Verifier, nobleVerifier, precheckSignature } from '../core/ed25519.ts';
import { selfTestedNodeVerifier } from './node-ed25519.ts';

type Subtle = SubtleCrypto;

function subtle(): Subtle | undefined {
  return (globalThis as { crypto?: Crypto }).crypto?.subtle;
}

/** Whether this platform's WebCrypto implements Ed25519 (probed once, by a real verification). */
let support: Promise<boolean> | undefined;
export function webCryptoEd25519Supported(): Promise<boolean> {
  support ??= (async () => {
    const s = subtle();
    if (!s) return false;
    try {
      const pair = (await s.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])) as CryptoKeyPair;
      const msg = new Uint8Array([1, 2, 3]);
      const sig = await s.sign({ name: 'Ed25519' }, pair.privateKey, msg);
      return await s.verify({ name: 'Ed25519' }, pair.publicKey, sig, msg);
    } catch {
      return false;
    }
  })();
  return support;
}

const KEY_CACHE_LIMIT = 4096;

export function createWebCryptoVerifier(): Ed25519Verifier {
  const keys = new Map<string, Promise<CryptoKey>>();
  // Imported keys, once ready: with one at hand, verify() hands the job to
  // WebCrypto synchronously, so a batch's verifications start while the
  // caller is still preparing the next events instead of a microtask later.
  const ready = new Map<string, CryptoKey>();
  const maybe = subtle();
  if (!maybe) throw new Error('WebCrypto is not available on this platform');
  const s: Subtle = maybe;
  const importKey = (publicKey: Uint8Array): Promise<CryptoKey> => {
    const id = byteString(publicKey);
    let key = keys.get(id);
    if (!key) {
      if (keys.size >= KEY_CACHE_LIMIT) keys.clear();
      if (keys.size >= KEY_CACHE_LIMIT) ready.clear();
      key = s.importKey('raw', publicKey.slice(), { name: 'Ed25519' }, false, ['verify']);
      keys.set(id, key);
      void key.then((k) => ready.set(id, k)).catch(() => undefined);
    }
    return key;
  };
  // The imported key by array identity (a server's key is one cached array, core/peer-id.ts):
  // no 32-character cache ID per verification. Bytes compared, as arrays can change.
  const byArray = new WeakMap<Uint8Array, { bytes: Uint8Array; key: CryptoKey }>();
  const readyKey = (publicKey: Uint8Array): CryptoKey | undefined => {
    const hit = byArray.get(publicKey);
    if (hit && sameBytes(hit.bytes, publicKey)) return hit.key;
    const key = ready.get(byteString(publicKey));
    if (key) byArray.set(publicKey, { bytes: publicKey.slice(), key });
    return key;
  };
  return {
    name: 'WebCrypto Ed25519 (strict precheck)',
    verify(signature, message, publicKey) {
      if (precheckSignature(signature, publicKey) !== undefined) return Promise.resolve(false);
      const known = readyKey(publicKey);
      if (known) return s.verify({ name: 'Ed25519' }, known, signature.slice(), message.slice()).catch(() => false);
      return verifyAfterImport(signature, message, publicKey);
    },
  };
  async function verifyAfterImport(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): Promise<boolean> {
    try {
      const key = await importKey(publicKey);
      return await s.verify({ name: 'Ed25519' }, key, signature.slice(), message.slice());
    } catch {
      return false;
    }
  }
}

/** Raw WebCrypto verify without the precheck: for benchmarks and differential tests only. */
export async function rawWebCryptoVerify(signature: Uint8Array, message: Uint8Array, key: CryptoKey): Promise<boolean> {
  return subtle()!.verify({ name: 'Ed25519' }, key, signature.slice(), message.slice());
}

/**
 * The best verifier this platform offers, each with the same verdicts: under Node `node:crypto`
 * (crypto/node-ed25519.ts: WebCrypto's OpenSSL call without its per-call overhead), else
 * WebCrypto when it supports Ed25519, else the pure one.
 */
export async function bestVerifier(): Promise<Ed25519Verifier> {
  const native = await selfTestedNodeVerifier();
  if (native) return native;
  if (await webCryptoEd25519Supported()) return createWebCryptoVerifier();
  return nobleVerifier;
}

/** PKCS#8 wrapping of a raw 32-byte Ed25519 seed (RFC 8410), the form WebCrypto imports. */
const PKCS8_ED25519_PREFIX = new Uint8Array([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);

export interface Ed25519Signer {
  readonly publicKey: Uint8Array;
  sign(message: Uint8Array): Promise<Uint8Array>;
}

/**
 * Signs with WebCrypto (~20x faster than the pure signer here). Ed25519 is
 * deterministic, so the signatures are byte-identical to @noble/ed25519's.
 */
export async function createWebCryptoSigner(seed: Uint8Array, publicKey: Uint8Array): Promise<Ed25519Signer> {
  const s = subtle();
  if (!s || !(await webCryptoEd25519Supported())) throw new Error('WebCrypto Ed25519 is not available on this platform');
  if (seed.length !== 32) throw new RangeError(`an Ed25519 seed is 32 bytes, got ${seed.length}`);
  const pkcs8 = new Uint8Array(48);
  pkcs8.set(PKCS8_ED25519_PREFIX);
  pkcs8.set(seed, 16);
  const key = await s.importKey('pkcs8', pkcs8, { name: 'Ed25519' }, false, ['sign']);
  return {
    publicKey: publicKey.slice(),
    async sign(message) {
      return new Uint8Array(await s.sign({ name: 'Ed25519' }, key, message.slice()));
    },
  };
}

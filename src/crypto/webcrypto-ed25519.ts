/**
 * The fast path: Ed25519 verification with WebCrypto (OpenSSL in Node,
 * BoringSSL in Chromium), ~15x faster than the pure backend here.
 *
 * Both libraries compute the cofactorless equation and compare R as bytes,
 * which is rule 5 of the acceptance rule in core/ed25519.ts; rules 1–4 (where
 * libraries differ) are enforced by `precheckSignature` before WebCrypto is
 * asked. Imported keys are cached: importKey costs about as much as a verify.
 */
import { type Ed25519Verifier, precheckSignature } from '../core/ed25519.ts';

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

function keyCacheId(publicKey: Uint8Array): string {
  let s = '';
  for (const b of publicKey) s += String.fromCharCode(b);
  return s;
}

export function createWebCryptoVerifier(): Ed25519Verifier {
  const keys = new Map<string, Promise<CryptoKey>>();
  const s = subtle();
  if (!s) throw new Error('WebCrypto is not available on this platform');
  const importKey = (publicKey: Uint8Array): Promise<CryptoKey> => {
    const id = keyCacheId(publicKey);
    let key = keys.get(id);
    if (!key) {
      if (keys.size >= KEY_CACHE_LIMIT) keys.clear();
      key = s.importKey('raw', publicKey.slice(), { name: 'Ed25519' }, false, ['verify']);
      keys.set(id, key);
    }
    return key;
  };
  return {
    name: 'WebCrypto Ed25519 (strict precheck)',
    async verify(signature, message, publicKey) {
      if (precheckSignature(signature, publicKey) !== undefined) return false;
      try {
        const key = await importKey(publicKey);
        return await s.verify({ name: 'Ed25519' }, key, signature.slice(), message.slice());
      } catch {
        return false;
      }
    },
  };
}

/** Raw WebCrypto verify without the precheck: for benchmarks and differential tests only. */
export async function rawWebCryptoVerify(signature: Uint8Array, message: Uint8Array, key: CryptoKey): Promise<boolean> {
  return subtle()!.verify({ name: 'Ed25519' }, key, signature.slice(), message.slice());
}

/** The best verifier this platform offers: WebCrypto when it supports Ed25519, else the pure one. */
export async function bestVerifier(): Promise<Ed25519Verifier> {
  if (await webCryptoEd25519Supported()) return createWebCryptoVerifier();
  const { nobleVerifier } = await import('../core/ed25519.ts');
  return nobleVerifier;
}

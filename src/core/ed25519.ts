/**
 * Ed25519 with one acceptance rule for every backend.
 *
 * Federation is consensus: if one peer accepts a signature another rejects,
 * their rooms diverge. Ed25519 verifiers disagree on edge cases (RFC 8032 is
 * loose there, ZIP-215 accepts more, @noble/ed25519's `verify` checks the
 * *cofactored* equation while OpenSSL/BoringSSL behind WebCrypto check the
 * *cofactorless* one). So Hearth defines its rule here and enforces the parts
 * that differ between backends before any backend is asked:
 *
 *   1. signature is 64 bytes, public key 32 bytes;
 *   2. S (second half) is canonical: S < L;
 *   3. A is a canonical encoding (y < p, no x=0 with sign bit set), decodes to
 *      a curve point, and is not of small order;
 *   4. R is a canonical encoding (y < p, no x=0 with sign bit) and is not one
 *      of the small-order points;
 *   5. the cofactorless equation holds: encode([S]B - [k]A) == R bytes, with
 *      k = SHA-512(R || A || M) mod L.
 *
 * Rules 1–4 are byte-level or cached per key, so they are cheap on the hot
 * path. Rule 5 is what OpenSSL and BoringSSL compute, and what
 * `verifyStrictSync` computes with noble's curve arithmetic — so WebCrypto
 * and the pure backend reach the same verdict on every input.
 */
import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';
import { sameBytes } from './bytes.ts';

ed.hashes.sha512 = sha512;

const Point = ed.Point;
/** Order of the prime subgroup. */
export const L = 2n ** 252n + 27742317777372353535851937790883648493n;
/** Field prime. */
export const P = 2n ** 255n - 19n;

export interface Ed25519KeyPair {
  readonly seed: Uint8Array;
  readonly publicKey: Uint8Array;
}

/** Derives the key pair of a 32-byte seed (RFC 8032 private key). */
export function keyPairFromSeed(seed: Uint8Array): Ed25519KeyPair {
  if (seed.length !== 32) throw new RangeError(`an Ed25519 seed is 32 bytes, got ${seed.length}`);
  return { seed: seed.slice(), publicKey: ed.getPublicKey(seed) };
}

/** Deterministic RFC 8032 signature (identical bytes from every conforming implementation). */
export function signSync(message: Uint8Array, seed: Uint8Array): Uint8Array {
  return ed.sign(message, seed);
}

function bytesToBigIntLE(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]!);
  return n;
}

/** S < L, checked on the little-endian bytes. */
export function isCanonicalScalar(s: Uint8Array): boolean {
  // Fast path: L's top byte is 0x10, so any S whose top byte is below 0x10 is < L.
  if (s[31]! < 0x10) return true;
  if (s[31]! > 0x10) return false;
  return bytesToBigIntLE(s) < L;
}

/** y < p and not the (x = 0, sign = 1) encoding. Works on the raw 32 bytes (no BigInt: it runs per signature). */
export function isCanonicalPointEncoding(enc: Uint8Array): boolean {
  if (enc.length !== 32) return false;
  const top = enc[31]! & 0x7f;
  // y >= p only when y is in [p, 2^255): bytes ed..ff ff .. 7f.
  let yAtLeastP = enc[0]! >= 0xed && top === 0x7f;
  for (let i = 1; yAtLeastP && i < 31; i++) if (enc[i] !== 0xff) yAtLeastP = false;
  if (yAtLeastP) return false;
  if (enc[31]! >> 7 === 1) {
    // x = 0 exactly when y = 1 or y = p - 1 (the identity and the point of order 2).
    if (isYOne(enc, top) || isYPMinusOne(enc, top)) return false;
  }
  return true;
}

/** y (sign bit cleared: `top` is byte 31 without it) equals 1. */
function isYOne(enc: Uint8Array, top: number): boolean {
  if (enc[0] !== 1 || top !== 0) return false;
  for (let i = 1; i < 31; i++) if (enc[i] !== 0) return false;
  return true;
}

/** y equals p - 1 = 2^255 - 20: bytes ec ff … ff 7f. */
function isYPMinusOne(enc: Uint8Array, top: number): boolean {
  if (enc[0] !== 0xec || top !== 0x7f) return false;
  for (let i = 1; i < 31; i++) if (enc[i] !== 0xff) return false;
  return true;
}

function hex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

/**
 * Canonical encodings of the eight points of small order (the 8-torsion):
 * computed once from a point of order 8 rather than pasted as magic bytes.
 */
const SMALL_ORDER_ENCODINGS: ReadonlySet<string> = (() => {
  // y = 0 gives points of order 4; the order-8 points come from halving them.
  // Any torsion generator works: start from a point of order 8 found by
  // clearing the prime-order part of an arbitrary non-subgroup point.
  const out = new Set<string>();
  let t8: InstanceType<typeof Point> | undefined;
  for (let y = 2n; !t8; y++) {
    const enc = new Uint8Array(32);
    let v = y;
    for (let i = 0; i < 32; i++) {
      enc[i] = Number(v & 0xffn);
      v >>= 8n;
    }
    let pt: InstanceType<typeof Point>;
    try {
      pt = Point.fromBytes(enc);
    } catch {
      continue;
    }
    // [L]pt is in the 8-torsion; keep it if its order is exactly 8.
    const tors = pt.multiply(L / 2n, false).double().add(pt);
    if (!tors.double().double().is0()) t8 = tors;
  }
  let q = Point.ZERO;
  for (let i = 0; i < 8; i++) {
    out.add(hex(q.toBytes()));
    q = q.add(t8);
  }
  return out;
})();

/** First bytes of the small-order encodings: nearly every R is ruled out without building a string. */
const SMALL_ORDER_FIRST_BYTES: ReadonlySet<number> = new Set([...SMALL_ORDER_ENCODINGS].map((h) => Number.parseInt(h.slice(0, 2), 16)));

export function isSmallOrderEncoding(enc: Uint8Array): boolean {
  if (enc.length === 32 && !SMALL_ORDER_FIRST_BYTES.has(enc[0]!)) return false;
  return SMALL_ORDER_ENCODINGS.has(hex(enc));
}

/** Why a signature is refused before any backend is asked, or undefined if it passes rules 1–4. */
export function precheckSignature(signature: Uint8Array, publicKey: Uint8Array): string | undefined {
  if (signature.length !== 64) return `signature is ${signature.length} bytes, expected 64`;
  if (publicKey.length !== 32) return `public key is ${publicKey.length} bytes, expected 32`;
  if (!isCanonicalScalar(signature.subarray(32))) return 'signature S is not canonical (S >= L)';
  const r = signature.subarray(0, 32);
  if (!isCanonicalPointEncoding(r)) return 'signature R is not a canonical point encoding';
  if (isSmallOrderEncoding(r)) return 'signature R is a point of small order';
  const keyProblem = checkPublicKey(publicKey);
  if (keyProblem) return keyProblem;
  return undefined;
}

/** Public key checks are a point decompression each: cache verdicts per key (few keys, many signatures). */
const keyVerdicts = new Map<string, string | null>();
const decodedKeys = new Map<string, InstanceType<typeof Point>>();
const KEY_CACHE_LIMIT = 4096;

/**
 * The same verdicts by array identity: a server's key is one cached array
 * (core/peer-id.ts), so most checks need neither a hex string nor a map
 * lookup by it. The bytes are kept and compared, so an array changed after
 * it was checked is checked again.
 */
const verdictsByArray = new WeakMap<Uint8Array, { bytes: Uint8Array; verdict: string | null }>();

function checkPublicKey(publicKey: Uint8Array): string | undefined {
  const known = verdictsByArray.get(publicKey);
  if (known && sameBytes(known.bytes, publicKey)) return known.verdict ?? undefined;
  const verdict = checkPublicKeyByValue(publicKey);
  verdictsByArray.set(publicKey, { bytes: publicKey.slice(), verdict: verdict ?? null });
  return verdict;
}

function checkPublicKeyByValue(publicKey: Uint8Array): string | undefined {
  const k = hex(publicKey);
  const cached = keyVerdicts.get(k);
  if (cached !== undefined) return cached ?? undefined;
  let verdict: string | null = null;
  if (!isCanonicalPointEncoding(publicKey)) verdict = 'public key is not a canonical point encoding';
  else {
    try {
      const A = Point.fromBytes(publicKey, false);
      if (A.isSmallOrder()) verdict = 'public key is a point of small order';
      else rememberKey(k, A);
    } catch {
      verdict = 'public key is not a point on the curve';
    }
  }
  if (keyVerdicts.size >= KEY_CACHE_LIMIT) keyVerdicts.clear();
  keyVerdicts.set(k, verdict);
  return verdict ?? undefined;
}

function rememberKey(k: string, A: InstanceType<typeof Point>): void {
  if (decodedKeys.size >= KEY_CACHE_LIMIT) decodedKeys.clear();
  decodedKeys.set(k, A);
}

/**
 * The pure backend: rules 1–5 with noble's curve arithmetic, synchronously.
 * About 1k verifications/s; the engine uses WebCrypto when it exists.
 */
export function verifyStrictSync(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (precheckSignature(signature, publicKey) !== undefined) return false;
  const keyHex = hex(publicKey);
  let A = decodedKeys.get(keyHex);
  if (!A) {
    A = Point.fromBytes(publicKey, false);
    rememberKey(keyHex, A);
  }
  const r = signature.subarray(0, 32);
  const s = bytesToBigIntLE(signature.subarray(32));
  const h = sha512.create().update(r).update(publicKey).update(message).digest();
  const k = bytesToBigIntLE(h) % L;
  // [S]B - [k]A, compared to R as bytes: the cofactorless equation.
  const SB = s === 0n ? Point.ZERO : Point.BASE.multiply(s, false);
  const kA = k === 0n ? Point.ZERO : A.multiply(k, false);
  const expected = SB.subtract(kA).toBytes();
  for (let i = 0; i < 32; i++) if (expected[i] !== r[i]) return false;
  return true;
}

/** A verification backend: both must implement the same rule (see module comment). */
export interface Ed25519Verifier {
  readonly name: string;
  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): Promise<boolean>;
}

export const nobleVerifier: Ed25519Verifier = {
  name: '@noble/ed25519 (strict, cofactorless)',
  async verify(signature, message, publicKey) {
    return verifyStrictSync(signature, message, publicKey);
  },
};

import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';
import { afterAll, describe, expect, it } from 'vitest';
import {
  L,
  P,
  isCanonicalPointEncoding,
  isCanonicalScalar,
  keyPairFromSeed,
  nobleVerifier,
  precheckSignature,
  signSync,
  verifyStrictSync,
} from '../../src/core/ed25519.ts';
import { createNodeVerifier, selfTestedNodeVerifier } from '../../src/crypto/node-ed25519.ts';
import { createVerifyPool, serveVerifications } from '../../src/crypto/verify-pool.ts';
import { bestVerifier, createWebCryptoSigner, createWebCryptoVerifier } from '../../src/crypto/webcrypto-ed25519.ts';

const Point = ed.Point;
type Pt = InstanceType<typeof Point>;
const webcrypto = createWebCryptoVerifier();
/** Node's fast path (crypto/node-ed25519.ts): OpenSSL through node:crypto, the verifier servers use under Node. */
const nodeCrypto = createNodeVerifier()!;
/** The browser's off-thread path, over a MessageChannel: its helper runs the WebCrypto verifier. */
function channelPool() {
  const channel = new MessageChannel();
  serveVerifications(channel.port2, createWebCryptoVerifier());
  channel.port1.start();
  channel.port2.start();
  return { pool: createVerifyPool([channel.port1], nobleVerifier), channel };
}
const { pool } = channelPool();
afterAll(() => pool.close());

function le(n: bigint, len = 32): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
}
function fromLe(b: Uint8Array): bigint {
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]!);
  return n;
}
function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
const mod = (a: bigint, m: bigint) => ((a % m) + m) % m;
const challenge = (R: Uint8Array, A: Uint8Array, M: Uint8Array) => mod(fromLe(sha512(concat(R, A, M))), L);

const seed = new Uint8Array(32).map((_, i) => i + 7);
const { publicKey } = keyPairFromSeed(seed);
const secretScalar = ed.utils.getExtendedPublicKey(seed).scalar;
const message = new TextEncoder().encode('{"hello":"world"}');

/** A point of order 8 (the torsion generator), found from an arbitrary curve point. */
const T8: Pt = (() => {
  for (let y = 2n; ; y++) {
    try {
      const pt = Point.fromBytes(le(y));
      const t = pt.multiply(L / 2n, false).double().add(pt);
      if (!t.double().double().is0()) return t;
    } catch {}
  }
})();

interface Vector {
  name: string;
  sig: Uint8Array;
  key: Uint8Array;
  msg: Uint8Array;
  /** The verdict of Hearth's rule (both backends must give it). */
  valid: boolean;
}

function vectors(): Vector[] {
  const good = signSync(message, seed);
  const out: Vector[] = [{ name: 'honest signature', sig: good, key: publicKey, msg: message, valid: true }];
  out.push({ name: 'wrong message', sig: good, key: publicKey, msg: new Uint8Array([1]), valid: false });

  // Non-canonical S: S + L encodes the same scalar mod L; RFC 8032 requires S < L.
  const S = fromLe(good.subarray(32));
  out.push({ name: 'non-canonical S (S + L)', sig: concat(good.subarray(0, 32), le(S + L)), key: publicKey, msg: message, valid: false });

  // Small-order A (the identity): [S]B = R holds for every message when A = 0.
  const r = 12345n;
  const Rb = Point.BASE.multiply(r).toBytes();
  const identity = Point.ZERO.toBytes();
  out.push({ name: 'small-order A (identity) forges any message', sig: concat(Rb, le(r)), key: identity, msg: message, valid: false });
  // Non-canonical encoding of the identity: y = p + 1.
  out.push({ name: 'non-canonical A (y = p + 1)', sig: concat(Rb, le(r)), key: le(P + 1n), msg: message, valid: false });
  // Canonical small-order A of order 8.
  out.push({ name: 'small-order A (order 8)', sig: concat(Rb, le(r)), key: T8.toBytes(), msg: message, valid: false });

  // Small-order R (identity) with S = k·a: the cofactorless equation holds.
  {
    const R0 = identity;
    const k = challenge(R0, publicKey, message);
    const s = mod(k * secretScalar, L);
    out.push({ name: 'small-order R (identity) with S = k·a', sig: concat(R0, le(s)), key: publicKey, msg: message, valid: false });
  }
  // Non-canonical R: the identity encoded as y = p + 1.
  {
    const R0 = le(P + 1n);
    const k = challenge(R0, publicKey, message);
    const s = mod(k * secretScalar, L);
    out.push({ name: 'non-canonical R (y = p + 1)', sig: concat(R0, le(s)), key: publicKey, msg: message, valid: false });
  }
  // Mixed-order R = [r]B + T8 with S = r + k·a: passes the cofactored check
  // (noble's verify), fails the cofactorless one (OpenSSL, BoringSSL).
  {
    const Rm = Point.BASE.multiply(r).add(T8).toBytes();
    const k = challenge(Rm, publicKey, message);
    const s = mod(r + k * secretScalar, L);
    out.push({ name: 'mixed-order R (torsion component)', sig: concat(Rm, le(s)), key: publicKey, msg: message, valid: false });
  }
  // Mixed-order A = [a]B + T8: the cofactorless equation holds only when k ≡ 0 (mod 8).
  for (let i = 0; i < 16; i++) {
    const Am = Point.BASE.multiply(secretScalar).add(T8).toBytes();
    const msg = new TextEncoder().encode(`mixed A #${i}`);
    const Rr = Point.BASE.multiply(r + BigInt(i)).toBytes();
    const k = challenge(Rr, Am, msg);
    const s = mod(r + BigInt(i) + k * secretScalar, L);
    // [S]B - [k]A = R - [k]T8, which equals R exactly when k is a multiple of 8.
    out.push({ name: `mixed-order A #${i} (k mod 8 = ${k % 8n})`, sig: concat(Rr, le(s)), key: Am, msg, valid: k % 8n === 0n });
  }
  // Truncated inputs.
  out.push({ name: 'short signature', sig: good.subarray(0, 63), key: publicKey, msg: message, valid: false });
  out.push({ name: 'short key', sig: good, key: publicKey.subarray(0, 31), msg: message, valid: false });
  // A key that is not a curve point.
  {
    let bad = 2n;
    for (; ; bad++) {
      try {
        Point.fromBytes(le(bad));
      } catch {
        break;
      }
    }
    out.push({ name: 'A not on the curve', sig: good, key: le(bad), msg: message, valid: false });
  }
  return out;
}

describe('Ed25519 acceptance rule', () => {
  it('derives the spec appendix public key from its seed', () => {
    const specSeed = Uint8Array.from(atob('YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA0='), (c) => c.charCodeAt(0));
    expect(btoa(String.fromCharCode(...keyPairFromSeed(specSeed).publicKey)).replace(/=+$/, '')).toBe(
      'XGX0JRS2Af3be3knz2fBiRbApjm2Dh61gXDJA8kcJNI',
    );
  });

  it('checks S and point encodings at the byte level', () => {
    expect(isCanonicalScalar(le(L - 1n))).toBe(true);
    expect(isCanonicalScalar(le(L))).toBe(false);
    expect(isCanonicalPointEncoding(le(P - 1n))).toBe(true);
    expect(isCanonicalPointEncoding(le(P))).toBe(false);
    const negZero = le(1n);
    negZero[31]! |= 0x80; // x = 0 with the sign bit set
    expect(isCanonicalPointEncoding(negZero)).toBe(false);
    const negOrder2 = le(P - 1n);
    negOrder2[31]! |= 0x80; // y = p - 1 (x = 0) with the sign bit set
    expect(isCanonicalPointEncoding(negOrder2)).toBe(false);
    expect(isCanonicalPointEncoding(le(P - 1n))).toBe(true);
    // Byte-level rule against the BigInt definition, on edge and random encodings.
    const reference = (enc: Uint8Array) => {
      const y = fromLe(enc) & ((1n << 255n) - 1n);
      return y < P && !(enc[31]! >> 7 === 1 && (y === 1n || y === P - 1n));
    };
    const edges = [0n, 1n, 2n, P - 2n, P - 1n, P, P + 1n, (1n << 255n) - 1n].flatMap((y) => {
      const a = le(y);
      const b = le(y);
      b[31]! |= 0x80;
      return [a, b];
    });
    const random = Array.from({ length: 500 }, () => new Uint8Array(32).map(() => Math.floor(Math.random() * 256)));
    for (const enc of [...edges, ...random]) expect(isCanonicalPointEncoding(enc)).toBe(reference(enc));
  });

  for (const v of vectors()) {
    it(`${v.name}: every backend says ${v.valid ? 'valid' : 'invalid'}`, async () => {
      expect(verifyStrictSync(v.sig, v.msg, v.key)).toBe(v.valid);
      expect(await nobleVerifier.verify(v.sig, v.msg, v.key)).toBe(v.valid);
      expect(await webcrypto.verify(v.sig, v.msg, v.key)).toBe(v.valid);
      expect(await nodeCrypto.verify(v.sig, v.msg, v.key)).toBe(v.valid);
      expect(await pool.verify(v.sig, v.msg, v.key)).toBe(v.valid);
    });
  }

  it('the precheck refuses what backends disagree on, with a reason', () => {
    const byName = new Map(vectors().map((v) => [v.name, v]));
    const mixed = byName.get('mixed-order R (torsion component)')!;
    // Why the rule exists: noble's own strict verify is cofactored and accepts this...
    expect(ed.verify(mixed.sig, mixed.msg, mixed.key, { zip215: false })).toBe(true);
    // ...while the cofactorless equation (OpenSSL/BoringSSL, and our pure path) rejects it.
    expect(verifyStrictSync(mixed.sig, mixed.msg, mixed.key)).toBe(false);
    const identityKey = byName.get('small-order A (identity) forges any message')!;
    expect(precheckSignature(identityKey.sig, identityKey.key)).toMatch(/small order/);
    expect(precheckSignature(byName.get('non-canonical S (S + L)')!.sig, publicKey)).toMatch(/S >= L/);
  });

  it.each([
    ['WebCrypto', webcrypto],
    ['node:crypto', nodeCrypto],
  ])('%s: verdicts cached per key array follow the array’s bytes when it changes', async (_, verifier) => {
    const byName = new Map(vectors().map((v) => [v.name, v]));
    const identityKey = byName.get('small-order A (identity) forges any message')!;
    const key = publicKey.slice();
    const sig = signSync(message, seed);
    expect(precheckSignature(sig, key)).toBeUndefined();
    expect(await verifier.verify(sig, message, key)).toBe(true);
    expect(await verifier.verify(sig, message, key)).toBe(true);
    // The same array, now holding the identity point: refused, not answered from the cache.
    key.set(identityKey.key);
    expect(precheckSignature(identityKey.sig, key)).toMatch(/small order/);
    // ...and another honest key: the signature by the first key no longer verifies.
    key.set(keyPairFromSeed(new Uint8Array(32).fill(5)).publicKey);
    expect(precheckSignature(sig, key)).toBeUndefined();
    expect(await verifier.verify(sig, message, key)).toBe(false);
  });

  it('WebCrypto and node:crypto agree with the pure verifier on random honest and tampered signatures', async () => {
    for (let i = 0; i < 50; i++) {
      const s = new Uint8Array(32).map(() => Math.floor(Math.random() * 256));
      const { publicKey: pk } = keyPairFromSeed(s);
      const m = new Uint8Array(i + 1).map(() => Math.floor(Math.random() * 256));
      const sig = signSync(m, s);
      if (i % 2) sig[i % 64]! ^= 1 << (i % 8);
      const a = verifyStrictSync(sig, m, pk);
      expect(await webcrypto.verify(sig, m, pk)).toBe(a);
      expect(await nodeCrypto.verify(sig, m, pk)).toBe(a);
      expect(a).toBe(i % 2 === 0);
    }
  });

  it('under Node, the node:crypto verifier passes its self-test and is the one servers get', async () => {
    expect((await selfTestedNodeVerifier())?.name).toBe(nodeCrypto.name);
    expect((await bestVerifier()).name).toBe(nodeCrypto.name);
  });

  it('the verify pool answers a large concurrent batch in order, like the in-thread verifier', async () => {
    const jobs = Array.from({ length: 100 }, (_, i) => {
      const s = new Uint8Array(32).fill(i + 1);
      const { publicKey: pk } = keyPairFromSeed(s);
      const m = new Uint8Array(200 + i).fill(i);
      const sig = signSync(m, s);
      if (i % 3 === 0) sig[5]! ^= 4;
      return { sig, m, pk, valid: i % 3 !== 0 };
    });
    const got = await Promise.all(jobs.map((j) => pool.verify(j.sig, j.m, j.pk)));
    expect(got).toEqual(jobs.map((j) => j.valid));
    // Inputs of the wrong length never reach the packed buffers: refused by the rule itself.
    expect(await pool.verify(jobs[1]!.sig.subarray(0, 63), jobs[1]!.m, jobs[1]!.pk)).toBe(false);
  });

  it('a verify pool whose helper dies or answers garbage falls back to the in-thread verifier', async () => {
    const good = vectors().find((v) => v.valid)!;
    const bad = vectors().find((v) => !v.valid)!;
    // A helper that answers with the wrong number of verdicts.
    const liar = new MessageChannel();
    liar.port2.addEventListener('message', (ev: MessageEvent) => liar.port2.postMessage({ id: ev.data.id, verdicts: new Uint8Array([1, 1, 1, 1, 1]) }));
    liar.port1.start();
    liar.port2.start();
    const p1 = createVerifyPool([liar.port1], nobleVerifier);
    expect(await Promise.all([p1.verify(good.sig, good.msg, good.key), p1.verify(bad.sig, bad.msg, bad.key)])).toEqual([true, false]);
    // Once retired, it gets no more work: the fallback answers.
    expect(await p1.verify(bad.sig, bad.msg, bad.key)).toBe(false);
    // A helper that never answers, then reports an error.
    const dead = new MessageChannel();
    dead.port1.start();
    const listeners: ((ev: Event) => void)[] = [];
    const port = {
      postMessage: (m: unknown, t: Transferable[]) => dead.port1.postMessage(m, t),
      addEventListener: (type: string, l: (ev: never) => void) => {
        if (type === 'error') listeners.push(l as (ev: Event) => void);
      },
    };
    const p2 = createVerifyPool([port], nobleVerifier);
    const pending = p2.verify(good.sig, good.msg, good.key);
    await new Promise((r) => setTimeout(r, 10));
    for (const l of listeners) l(new Event('error'));
    expect(await pending).toBe(true);
    // A helper that never answers at all: retired after the answer timeout.
    const silent = new MessageChannel();
    silent.port1.start();
    const retired: string[] = [];
    const p3 = createVerifyPool([silent.port1], nobleVerifier, { answerTimeoutMs: 20, onRetire: (why) => retired.push(why) });
    expect(await Promise.all([p3.verify(good.sig, good.msg, good.key), p3.verify(bad.sig, bad.msg, bad.key)])).toEqual([true, false]);
    expect(retired).toEqual(['no answer']);
    p1.close();
    p2.close();
    p3.close();
  });

  it('with inThreadWhenQuiet, a lone verification while the pool is quiet stays in this thread; a stream of them goes to the helpers', async () => {
    const good = vectors().find((v) => v.valid)!;
    const bad = vectors().find((v) => !v.valid)!;
    const channel = new MessageChannel();
    serveVerifications(channel.port2, nobleVerifier);
    channel.port1.start();
    channel.port2.start();
    let sentToHelper = 0;
    const port = {
      postMessage: (m: unknown, t: Transferable[]) => {
        sentToHelper++;
        channel.port1.postMessage(m, t);
      },
      addEventListener: (type: string, l: (ev: never) => void) => {
        if (type === 'message') channel.port1.addEventListener('message', l as (ev: MessageEvent) => void);
      },
    };
    let t = 0;
    const p = createVerifyPool([port], nobleVerifier, { inThreadWhenQuiet: { batch: 2, max: 8, windowMs: 100, now: () => t } });
    // A lone message, then another a second later: no helper involved, same verdicts.
    expect(await p.verify(good.sig, good.msg, good.key)).toBe(true);
    t += 1000;
    expect(await p.verify(bad.sig, bad.msg, bad.key)).toBe(false);
    expect(sentToHelper).toBe(0);
    // Ten more within the same 100 ms: past the eighth, the helper takes them.
    t += 1000;
    const stream: boolean[] = [];
    for (let i = 0; i < 10; i++) stream.push(await p.verify(i % 2 ? bad.sig : good.sig, i % 2 ? bad.msg : good.msg, i % 2 ? bad.key : good.key));
    expect(stream).toEqual(Array.from({ length: 10 }, (_, i) => i % 2 === 0));
    expect(sentToHelper).toBe(2);
    // A batch larger than `batch` goes to the helper even when quiet.
    t += 1000;
    expect(await Promise.all([0, 1, 2].map(() => p.verify(good.sig, good.msg, good.key)))).toEqual([true, true, true]);
    expect(sentToHelper).toBe(3);
    p.close();
  });

  it('WebCrypto signatures are byte-identical to the pure signer (deterministic Ed25519)', async () => {
    const signer = await createWebCryptoSigner(seed, publicKey);
    for (const m of [new Uint8Array(0), message, new Uint8Array(1000).fill(7)]) {
      expect(await signer.sign(m)).toEqual(signSync(m, seed));
    }
  });
});

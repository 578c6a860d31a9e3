/**
 * Throughput of the per-event pipeline pieces, each beside its raw limit:
 * canonicalise + hash + sign, the verify pipeline (canonical JSON, content
 * hash check, strict precheck, WebCrypto verify; 64 in flight) against raw
 * WebCrypto and raw @noble/ed25519 verification, and event-ID derivation.
 */
import * as ed from '@noble/ed25519';
import nodeCrypto from 'node:crypto';
import { encodeBase64, encodeBase64Url } from '../src/core/base64.ts';
import { computeEventId, contentHashMatches, eventSigningBytes, signEvent } from '../src/core/hashing.ts';
import type { JsonObject } from '../src/core/json.ts';
import { roomVersion } from '../src/core/room-versions/registry.ts';
import { findSignature, keyPairFromSeed, withSignature } from '../src/core/signing.ts';
import { addContentHash } from '../src/core/hashing.ts';
import { redactEvent } from '../src/core/redaction.ts';
import { signingBytes } from '../src/core/signing.ts';
import { bestVerifier, createWebCryptoSigner, rawWebCryptoVerify } from '../src/crypto/webcrypto-ed25519.ts';

export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  detail?: string | undefined;
}

const rules = roomVersion('10');
const SERVER = 'bench.example';
const KEY_ID = 'ed25519:1';
const seed = new Uint8Array(32).map((_, i) => (i * 7 + 3) & 0xff);
const { publicKey } = keyPairFromSeed(seed);
const IN_FLIGHT = 64;

/** A ~1 KiB message event, varied by index. */
function makeEvent(i: number): JsonObject {
  return {
    room_id: '!bench:bench.example',
    sender: '@alice:bench.example',
    type: 'm.room.message',
    content: { msgtype: 'm.text', body: `message ${i} ${'lorem ipsum dolor sit amet '.repeat(30)}` },
    origin_server_ts: 1_700_000_000_000 + i,
    depth: i + 10,
    prev_events: [`$${encodeBase64(new Uint8Array(32).fill(i & 0xff)).replace(/\+/g, '-').replace(/\//g, '_')}`],
    auth_events: [],
    hashes: { sha256: '' },
    signatures: {},
  };
}

/** Runs `fn` over `n` items for at least `minMs`, returning ops/s. */
async function rate(n: number, fn: (i: number) => unknown | Promise<unknown>, minMs = 1000): Promise<number> {
  let done = 0;
  const start = performance.now();
  while (performance.now() - start < minMs) {
    for (let i = 0; i < n; i++) await fn(i);
    done += n;
  }
  return (done * 1000) / (performance.now() - start);
}

/** Like `rate`, with up to IN_FLIGHT promises outstanding (how verification is used during ingest). */
async function concurrentRate(n: number, fn: (i: number) => Promise<unknown>, minMs = 1500): Promise<number> {
  let done = 0;
  const start = performance.now();
  while (performance.now() - start < minMs) {
    let next = 0;
    const worker = async () => {
      while (next < n) await fn(next++);
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    done += n;
  }
  return (done * 1000) / (performance.now() - start);
}

/**
 * The raw verify rate alone — the limit ingest ratios are taken against — for
 * measuring it again right beside each ingest run: on a shared machine the
 * rate drifts by a third within minutes, and a ratio is only meaningful
 * against the rate of the same moment. Both native paths are measured
 * (WebCrypto, and under Node `node:crypto`, which servers there verify with:
 * crypto/node-ed25519.ts) and the limit is the faster: both run OpenSSL on
 * libuv's pool, so they differ only by the calling thread's overhead.
 */
export async function rawVerifyRates(minMs = 1500): Promise<{ webcrypto: number; node: number; limit: number }> {
  const N = 512;
  const signed = Array.from({ length: N }, (_, i) => signEvent(makeEvent(i), rules, SERVER, KEY_ID, seed));
  const messages = signed.map((e) => eventSigningBytes(e, rules));
  const sigs = signed.map((e) => findSignature(e, SERVER, KEY_ID)!);
  const key = await crypto.subtle.importKey('raw', publicKey.slice(), { name: 'Ed25519' }, false, ['verify']);
  const webcrypto = await concurrentRate(N, (i) => rawWebCryptoVerify(sigs[i]!, messages[i]!, key), minMs);
  const nodeKey = nodeCrypto.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: encodeBase64Url(publicKey) }, format: 'jwk' });
  const node = await concurrentRate(
    N,
    (i) => new Promise((resolve, reject) => nodeCrypto.verify(null, messages[i]!, nodeKey, sigs[i]!, (err, ok) => (err ? reject(err) : resolve(ok)))),
    minMs,
  );
  return { webcrypto, node, limit: Math.max(webcrypto, node) };
}

/** The raw verify limit: the faster of the native paths (`rawVerifyRates`). */
export async function rawVerifyRate(minMs = 1500): Promise<number> {
  return (await rawVerifyRates(minMs)).limit;
}

export async function benchCore(): Promise<BenchResult[]> {
  const N = 512;
  const events = Array.from({ length: N }, (_, i) => makeEvent(i));
  const signRate = await rate(N, (i) => signEvent(events[i]!, rules, SERVER, KEY_ID, seed));
  const signer = await createWebCryptoSigner(seed, publicKey);
  const signRateWebCrypto = await concurrentRate(N, async (i) => {
    const hashed = addContentHash(events[i]!);
    const sig = await signer.sign(signingBytes(redactEvent(hashed, rules)));
    return withSignature(hashed, SERVER, KEY_ID, encodeBase64(sig));
  });
  const signed = events.map((e) => signEvent(e, rules, SERVER, KEY_ID, seed));
  const messages = signed.map((e) => eventSigningBytes(e, rules));
  const sigs = signed.map((e) => findSignature(e, SERVER, KEY_ID)!);

  const raw = await rawVerifyRates();
  const rawNoble = await rate(64, (i) => ed.verify(sigs[i]!, messages[i]!, publicKey, { zip215: false }));

  // The verifier a server on this platform gets (under Node, node:crypto's).
  const verifier = await bestVerifier();
  const pipeline = await concurrentRate(N, async (i) => {
    const ev = signed[i]!;
    if (!contentHashMatches(ev)) throw new Error('hash mismatch');
    const sig = findSignature(ev, SERVER, KEY_ID)!;
    if (!(await verifier.verify(sig, eventSigningBytes(ev, rules), publicKey))) throw new Error('bad signature');
  });
  const eventIds = await rate(N, (i) => computeEventId(signed[i]!, rules));
  const pct = (pipeline / raw.limit) * 100;
  return [
    { name: 'canonicalise+hash+sign (noble)', value: signRate, unit: 'ops/s' },
    { name: 'canonicalise+hash+sign (WebCrypto, 64 in flight)', value: signRateWebCrypto, unit: 'ops/s' },
    {
      name: 'verify pipeline (hash+canonical+precheck+the server’s verifier)',
      value: pipeline,
      unit: 'ops/s',
      detail: `${pct.toFixed(0)}% of the raw limit (target ≥ 50%); ${verifier.name}`,
    },
    { name: 'raw WebCrypto Ed25519 verify (64 in flight)', value: raw.webcrypto, unit: 'ops/s' },
    { name: 'raw node:crypto Ed25519 verify (64 in flight)', value: raw.node, unit: 'ops/s', detail: 'the raw limit is the faster of the two' },
    { name: 'raw @noble/ed25519 verify', value: rawNoble, unit: 'ops/s' },
    { name: 'event ID (redact+canonical+sha256)', value: eventIds, unit: 'ops/s' },
  ];
}

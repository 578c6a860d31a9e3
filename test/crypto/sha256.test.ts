/**
 * Every SHA-256 path gives the same digest: Node's OpenSSL (sha256Sync and
 * sha256Async here), @noble/hashes, and hash-wasm's WebAssembly hasher that
 * browsers use for event IDs. Lengths around the 64-byte block and the
 * 55/56-byte padding boundary, and a reused hasher (init between digests).
 */
import { sha256 as noble } from '@noble/hashes/sha2.js';
import { createSHA256 } from 'hash-wasm';
import { describe, expect, it } from 'vitest';
import { hasherSha256, sha256Async, sha256Sync } from '../../src/crypto/sha256.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function inputs(): Uint8Array[] {
  const lengths = [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 600, 1300, 4096, 65_536];
  let x = 12345;
  return lengths.map((n) =>
    Uint8Array.from({ length: n }, () => {
      x = (x * 1103515245 + 12345) >>> 0;
      return x >>> 24;
    }),
  );
}

describe('SHA-256 implementations agree', () => {
  it('known answers (FIPS 180-2 "abc" and the empty string)', async () => {
    const wasm = hasherSha256(await createSHA256());
    const abc = new TextEncoder().encode('abc');
    for (const f of [wasm, sha256Sync, noble]) {
      expect(hex(f(abc))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
      expect(hex(f(new Uint8Array()))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    }
  });

  it('hash-wasm (browsers), OpenSSL (Node) and @noble/hashes give the same bytes, with one hasher reused', async () => {
    const wasm = hasherSha256(await createSHA256());
    for (const input of inputs()) {
      const want = hex(noble(input));
      expect(hex(wasm(input)), `hash-wasm, ${input.length} bytes`).toBe(want);
      expect(hex(sha256Sync(input)), `sha256Sync, ${input.length} bytes`).toBe(want);
      expect(hex(await sha256Async(input)), `sha256Async, ${input.length} bytes`).toBe(want);
    }
    // Interleaved lengths on the same hasher: no state carried from one digest to the next.
    for (const input of inputs().reverse()) expect(hex(wasm(input))).toBe(hex(noble(input)));
  });
});

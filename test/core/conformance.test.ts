/** The public vectors in ../shared/conformance (from the spec appendix). */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeBase64 } from '../../src/core/base64.ts';
import { canonicalJson } from '../../src/core/canonical-json.ts';
import { addContentHash, signEvent } from '../../src/core/hashing.ts';
import type { JsonObject } from '../../src/core/json.ts';
import { roomVersion } from '../../src/core/room-versions/registry.ts';
import { signJson, verifyJson, verifyJsonSync } from '../../src/core/signing.ts';
import { createNodeVerifier } from '../../src/crypto/node-ed25519.ts';
import { createWebCryptoVerifier } from '../../src/crypto/webcrypto-ed25519.ts';

const dir = new URL('../../../shared/conformance/', import.meta.url);
const load = (name: string) => JSON.parse(readFileSync(new URL(name, dir), 'utf8'));

const canonical = load('canonical_json.json') as { cases: { name: string; input_text: string; expected: string }[] };
const signing = load('signing.json') as {
  keys: Record<string, { seed: string; public_key: string }>;
  sign_json: { name: string; key: string; server_name: string; key_id: string; input: JsonObject; expected: JsonObject }[];
  verify_json: { name: string; server_name: string; key_id: string; public_key: string; input: JsonObject; expected: { valid: boolean } }[];
  hash_event: { name: string; input: JsonObject; expected: JsonObject }[];
  sign_event: { name: string; room_version: string; server_name: string; key_id: string; seed: string; input: JsonObject; expected: JsonObject }[];
};

describe('canonical JSON vectors', () => {
  for (const c of canonical.cases) {
    it(c.name, () => {
      expect(canonicalJson(JSON.parse(c.input_text))).toBe(c.expected);
    });
  }
});

describe('signing vectors', () => {
  for (const c of signing.sign_json) {
    it(`sign_json ${c.name}`, () => {
      const seed = decodeBase64(signing.keys[c.key]!.seed);
      expect(signJson(c.input, c.server_name, c.key_id, seed)).toEqual(c.expected);
    });
  }
  const webcrypto = createWebCryptoVerifier();
  const nodeCrypto = createNodeVerifier()!;
  for (const c of signing.verify_json) {
    it(`verify_json ${c.name} (noble, WebCrypto and node:crypto)`, async () => {
      const pk = decodeBase64(c.public_key);
      expect({ valid: verifyJsonSync(c.input, c.server_name, c.key_id, pk) }).toEqual(c.expected);
      expect({ valid: await verifyJson(c.input, c.server_name, c.key_id, pk, webcrypto) }).toEqual(c.expected);
      expect({ valid: await verifyJson(c.input, c.server_name, c.key_id, pk, nodeCrypto) }).toEqual(c.expected);
    });
    it(`verify_json ${c.name} fails once tampered`, () => {
      const pk = decodeBase64(c.public_key);
      expect(verifyJsonSync({ ...c.input, extra: 1 }, c.server_name, c.key_id, pk)).toBe(false);
    });
  }
  for (const c of signing.hash_event) {
    it(`hash_event ${c.name}`, () => {
      expect(addContentHash(c.input)).toEqual(c.expected);
    });
  }
  for (const c of signing.sign_event) {
    it(`sign_event ${c.name} (room version ${c.room_version})`, () => {
      const seed = decodeBase64(c.seed);
      expect(signEvent(c.input, roomVersion(c.room_version), c.server_name, c.key_id, seed)).toEqual(c.expected);
    });
  }
});

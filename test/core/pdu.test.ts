import { describe, expect, it } from 'vitest';
import { InvalidPduError } from '../../src/core/errors.ts';
import type { JsonObject } from '../../src/core/json.ts';
import { canonicalJson } from '../../src/core/canonical-json.ts';
import { MAX_PDU_BYTES, checkPduSize, pduSizeFromParts, validatePdu } from '../../src/core/pdu.ts';

const ID = (c: string) => `$${c.repeat(43)}`;
const good: JsonObject = {
  room_id: '!room:example.org',
  sender: '@alice:example.org',
  type: 'm.room.message',
  content: { body: 'hi' },
  origin_server_ts: 1_700_000_000_000,
  depth: 3,
  prev_events: [ID('a')],
  auth_events: [ID('b'), ID('c')],
  hashes: { sha256: 'abc' },
  signatures: { 'example.org': { 'ed25519:1': 'sig' } },
};

describe('PDU format validation', () => {
  it('accepts a well-formed PDU (and a tool-supplied event_id)', () => {
    expect(validatePdu(good)).toBe(good);
    expect(() => validatePdu({ ...good, event_id: ID('z'), state_key: '' })).not.toThrow();
  });

  const bad: [string, JsonObject | unknown, RegExp][] = [
    ['not an object', [1, 2], /must be a JSON object/],
    ['a float in content', { ...good, content: { n: 1.5 } }, /not canonical JSON.*non-integral/],
    ['a missing room_id', { ...good, room_id: undefined }, /room_id must be a string/],
    ['a malformed room_id', { ...good, room_id: 'room' }, /must start with '!'/],
    ['a 256-byte type', { ...good, type: 't'.repeat(256) }, /type is longer than 255 bytes/],
    ['a 256-byte state_key', { ...good, state_key: 's'.repeat(256) }, /state_key is longer than 255 bytes/],
    ['a 256-byte sender', { ...good, sender: `@${'a'.repeat(244)}:example.org` }, /sender is longer than 255 bytes/],
    ['a sender that is not a user ID', { ...good, sender: 'alice' }, /sender: .*must start with '@'/],
    ['a negative depth', { ...good, depth: -1 }, /depth -1 is outside/],
    ['a depth beyond 2^53-1', { ...good, depth: 2 ** 53 }, /not canonical JSON|outside/],
    ['a string origin_server_ts', { ...good, origin_server_ts: '1' }, /origin_server_ts must be an integer/],
    ['21 prev_events', { ...good, prev_events: Array.from({ length: 21 }, (_, i) => `$${String(i).padStart(43, 'x')}`) }, /prev_events has 21 entries; at most 20/],
    ['11 auth_events', { ...good, auth_events: Array.from({ length: 11 }, (_, i) => `$${String(i).padStart(43, 'y')}`) }, /auth_events has 11 entries; at most 10/],
    ['a malformed prev event ID', { ...good, prev_events: ['$nope'] }, /invalid event ID/],
    ['a duplicate auth event', { ...good, auth_events: [ID('b'), ID('b')] }, /lists .* twice/],
    ['content not an object', { ...good, content: 'x' }, /content must be an object/],
    ['no content hash', { ...good, hashes: {} }, /hashes.sha256/],
    ['a non-string signature', { ...good, signatures: { s: { k: 1 } } }, /signatures.s.k must be a string/],
    ['oversize', { ...good, content: { body: 'x'.repeat(MAX_PDU_BYTES) } }, /bytes as canonical JSON; the limit is 65536/],
    ['a 256-byte event_id', { ...good, event_id: `$${'e'.repeat(255)}` }, /event_id is longer than 255 bytes/],
  ];
  for (const [name, pdu, why] of bad) {
    it(`refuses ${name}`, () => {
      expect(() => validatePdu(pdu)).toThrow(InvalidPduError);
      expect(() => validatePdu(pdu)).toThrow(why);
    });
  }

  it('accepts exactly 20 prev_events and 10 auth_events', () => {
    const ids = (n: number, c: string) => Array.from({ length: n }, (_, i) => `$${String(i).padStart(43, c)}`);
    expect(() => validatePdu({ ...good, prev_events: ids(20, 'p'), auth_events: ids(10, 'q') })).not.toThrow();
  });

  it('measures the 65,536-byte limit on the canonical form', () => {
    const size = (pdu: JsonObject) => new TextEncoder().encode(JSON.stringify(pdu)).length; // already canonical-ish: no spaces
    const pad = (n: number) => ({ ...good, content: { body: 'x'.repeat(n) } });
    const base = size(pad(0));
    expect(() => validatePdu(pad(MAX_PDU_BYTES - base))).not.toThrow();
    expect(() => validatePdu(pad(MAX_PDU_BYTES - base + 1))).toThrow(/limit is 65536/);
  });
});

describe('PDU size from the content hash input', () => {
  const base = {
    room_id: '!r:hs.example',
    sender: '@a:hs.example',
    type: 'm.room.message',
    content: { body: 'héllo ✓', n: 1e3 },
    origin_server_ts: 1,
    depth: 2,
    prev_events: [],
    auth_events: [],
  };
  const cases: [string, Record<string, unknown>][] = [
    ['all three members', { ...base, hashes: { sha256: 'abc' }, signatures: { 'hs.example': { 'ed25519:1': 'sig' } }, unsigned: { age: 5 } }],
    ['no unsigned', { ...base, hashes: { sha256: 'abc', other: 'x' }, signatures: {} }],
    ['nothing but the three', { hashes: { sha256: 'abc' }, signatures: {}, unsigned: { 'ü': ['é', 2] } }],
    ['none of the three', { ...base }],
    ['empty event', {}],
  ];
  it.each(cases)('%s: equals the canonical length of the whole event', (_name, ev) => {
    const { hashes: _h, signatures: _s, unsigned: _u, ...rest } = ev;
    const contentInput = new TextEncoder().encode(canonicalJson(rest)).length;
    expect(pduSizeFromParts(contentInput, ev)).toBe(new TextEncoder().encode(canonicalJson(ev)).length);
  });

  it('checkPduSize refuses more than 64 KiB with the size in the message', () => {
    expect(() => checkPduSize(MAX_PDU_BYTES)).not.toThrow();
    expect(() => checkPduSize(MAX_PDU_BYTES + 1)).toThrow(/65537 bytes as canonical JSON; the limit is 65536/);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeBase64 } from '../../src/core/base64.ts';
import { addContentHash, computeEventId, contentHashMatches, signEvent } from '../../src/core/hashing.ts';
import type { JsonObject } from '../../src/core/json.ts';
import { redactEvent } from '../../src/core/redaction.ts';
import { roomVersion } from '../../src/core/room-versions/registry.ts';
import { keyPairFromSeed, verifyJsonSync } from '../../src/core/signing.ts';
import { redactEvent as redact } from '../../src/core/redaction.ts';

const v10 = roomVersion('10');
const v11 = roomVersion('11');
const i1 = roomVersion('I.1');

const base = {
  room_id: '!r:example.org',
  sender: '@a:example.org',
  origin: 'example.org',
  origin_server_ts: 1,
  depth: 5,
  prev_events: [],
  auth_events: [],
  hashes: { sha256: 'x' },
  signatures: { 'example.org': { 'ed25519:1': 'sig' } },
  unsigned: { age: 1 },
  membership: 'join',
  prev_state: [],
  extra_top: 'gone',
};

function ev(type: string, content: JsonObject, extra: JsonObject = {}): JsonObject {
  return { ...base, type, content, ...extra };
}

describe('redaction keep-lists', () => {
  const cases: [string, JsonObject, JsonObject, JsonObject][] = [
    // [type, content, v10 content kept, v11 content kept]
    ['m.room.member', { membership: 'join', displayname: 'A', join_authorised_via_users_server: '@x:y', third_party_invite: { signed: { mxid: '@a:b' }, display_name: 'z' } }, { membership: 'join', join_authorised_via_users_server: '@x:y' }, { membership: 'join', join_authorised_via_users_server: '@x:y', third_party_invite: { signed: { mxid: '@a:b' } } }],
    ['m.room.create', { creator: '@a:example.org', room_version: '10', 'm.federate': false }, { creator: '@a:example.org' }, { creator: '@a:example.org', room_version: '10', 'm.federate': false }],
    ['m.room.join_rules', { join_rule: 'restricted', allow: [], other: 1 }, { join_rule: 'restricted', allow: [] }, { join_rule: 'restricted', allow: [] }],
    ['m.room.power_levels', { ban: 50, events: {}, events_default: 0, invite: 0, kick: 50, redact: 50, state_default: 50, users: {}, users_default: 0, notifications: { room: 50 } }, { ban: 50, events: {}, events_default: 0, kick: 50, redact: 50, state_default: 50, users: {}, users_default: 0 }, { ban: 50, events: {}, events_default: 0, invite: 0, kick: 50, redact: 50, state_default: 50, users: {}, users_default: 0 }],
    ['m.room.history_visibility', { history_visibility: 'shared', x: 1 }, { history_visibility: 'shared' }, { history_visibility: 'shared' }],
    ['m.room.redaction', { redacts: '$abc', reason: 'spam' }, {}, { redacts: '$abc' }],
    ['m.room.message', { body: 'hi', msgtype: 'm.text' }, {}, {}],
    ['m.room.aliases', { aliases: ['#a:b'] }, {}, {}],
  ];
  for (const [type, content, keep10, keep11] of cases) {
    it(`${type}: v10 and I.1 keep ${JSON.stringify(Object.keys(keep10))}`, () => {
      const r = redactEvent(ev(type, content), v10);
      expect(r.content).toEqual(keep10);
      expect(redactEvent(ev(type, content), i1)).toEqual(r);
    });
    it(`${type}: v11 keeps ${JSON.stringify(Object.keys(keep11))}`, () => {
      expect(redactEvent(ev(type, content), v11).content).toEqual(keep11);
    });
  }
  it('top-level keys: v10 keeps origin, membership, prev_state; v11 drops them', () => {
    const r10 = redactEvent(ev('m.room.message', {}), v10);
    const r11 = redactEvent(ev('m.room.message', {}), v11);
    expect(Object.keys(r10).sort()).toEqual(
      ['auth_events', 'content', 'depth', 'hashes', 'membership', 'origin', 'origin_server_ts', 'prev_events', 'prev_state', 'room_id', 'sender', 'signatures', 'type'].sort(),
    );
    expect(Object.keys(r11).sort()).toEqual(
      ['auth_events', 'content', 'depth', 'hashes', 'origin_server_ts', 'prev_events', 'room_id', 'sender', 'signatures', 'type'].sort(),
    );
    expect(r10).not.toHaveProperty('unsigned');
  });
  it('keeps event_id and state_key where present', () => {
    const r = redactEvent(ev('m.room.topic', { topic: 't' }, { state_key: '', event_id: '$e' }), v11);
    expect(r.state_key).toBe('');
    expect(r.event_id).toBe('$e');
    expect(r.content).toEqual({});
  });
  it('survives hostile shapes: content not an object, prototype keys', () => {
    expect(redactEvent({ type: 'm.room.member', content: 'x' } as JsonObject, v10)).toEqual({ type: 'm.room.member', content: {} });
    expect(redactEvent({ type: 'constructor', content: { a: 1 } }, v10).content).toEqual({});
    expect(redactEvent({ type: '__proto__', content: { a: 1 } }, v11).content).toEqual({});
  });
  it('is idempotent (property)', () => {
    const types = fc.constantFrom('m.room.member', 'm.room.create', 'm.room.power_levels', 'm.room.join_rules', 'm.room.redaction', 'm.room.message', 'x');
    fc.assert(
      fc.property(types, fc.dictionary(fc.string(), fc.jsonValue()), fc.dictionary(fc.string(), fc.jsonValue()), (type, content, top) => {
        for (const rules of [v10, v11]) {
          const e = { ...(top as JsonObject), type, content: content as JsonObject };
          const once = redact(e, rules);
          expect(redact(once, rules)).toEqual(once);
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('hashes and event IDs', () => {
  const seed = decodeBase64('YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA0');
  const { publicKey } = keyPairFromSeed(seed);
  const msg = ev('m.room.message', { body: 'hello', msgtype: 'm.text' });

  it('content hash detects tampering', () => {
    const hashed = addContentHash(msg);
    expect(contentHashMatches(hashed)).toBe(true);
    expect(contentHashMatches({ ...hashed, content: { body: 'evil' } })).toBe(false);
    expect(contentHashMatches({ ...hashed, unsigned: { changed: true } })).toBe(true);
    expect(contentHashMatches({ ...hashed, hashes: { sha256: '!!' } })).toBe(false);
  });

  it('event ID = $ + URL-safe base64 of the reference hash; ignores a v4 event_id annotation', () => {
    const signed = signEvent(msg, v10, 'example.org', 'ed25519:1', seed);
    const id = computeEventId(signed, v10);
    expect(id).toMatch(/^\$[A-Za-z0-9_-]{43}$/);
    expect(computeEventId({ ...signed, event_id: id }, v10)).toBe(id);
    expect(computeEventId({ ...signed, event_id: '$anything' }, v10)).toBe(id);
    // Signatures and unsigned are not covered; content is (through the hash) and redacted keys are not.
    expect(computeEventId({ ...signed, unsigned: { x: 1 }, signatures: {} }, v10)).toBe(id);
    expect(computeEventId({ ...signed, content: { body: 'other' } }, v10)).toBe(id); // content hash unchanged -> same ID
    expect(computeEventId(addContentHash({ ...signed, content: { body: 'other' } }), v10)).not.toBe(id);
    // v10 keeps `origin` in the redacted form, v11 does not: the IDs differ.
    expect(computeEventId({ ...signed, origin: 'other.org' }, v10)).not.toBe(id);
    expect(computeEventId({ ...signed, origin: 'other.org' }, v11)).toBe(computeEventId(signed, v11));
  });

  it('event signatures cover the redacted event, so redacted copies still verify', () => {
    for (const rules of [v10, v11, i1]) {
      const signed = signEvent(msg, rules, 'example.org', 'ed25519:1', seed);
      const redacted = redactEvent(signed, rules);
      expect(verifyJsonSync(redacted, 'example.org', 'ed25519:1', publicKey)).toBe(true);
      expect(verifyJsonSync(redactEvent({ ...signed, depth: 6 }, rules), 'example.org', 'ed25519:1', publicKey)).toBe(false);
    }
  });
});

/** Auth events selection and the power level / membership helpers the engine uses. */
import { describe, expect, it } from 'vitest';
import {
  KNOWN_ROOM_VERSIONS,
  authTypesForEvent,
  creatorOf,
  joinRuleOf,
  membershipOf,
  namedLevel,
  powerLevelOf,
  requiredPowerForEvent,
  selectAuthEvents,
} from '../../src/core/auth/index.ts';
import type { JsonObject } from '../../src/core/json.ts';
import { type RoomEvent, stateKey } from '../../src/core/pdu.ts';
import { roomVersion } from '../../src/core/room-versions/registry.ts';

const V10 = roomVersion('10');
const V11 = roomVersion('11');

function ev(type: string, sender: string, content: JsonObject, state_key?: string, id = type): RoomEvent {
  const e: RoomEvent = {
    event_id: `$${id.replace(/[^A-Za-z0-9]/g, '_').padEnd(43, 'A').slice(0, 43)}`,
    room_id: '!r:a',
    sender,
    type,
    content,
    origin_server_ts: 1,
    depth: 1,
    prev_events: [],
    auth_events: [],
    hashes: { sha256: '' },
    signatures: {},
  };
  if (state_key !== undefined) e.state_key = state_key;
  return e;
}

describe('authTypesForEvent', () => {
  const C: [string, string] = ['m.room.create', ''];
  const PL: [string, string] = ['m.room.power_levels', ''];
  const JR: [string, string] = ['m.room.join_rules', ''];
  const mem = (u: string): [string, string] => ['m.room.member', u];

  it('an m.room.create event has no auth events', () => {
    expect(authTypesForEvent({ type: 'm.room.create', sender: '@a:a', state_key: '', content: {} }, V10)).toEqual([]);
  });

  it('a message: create, power levels, the sender’s membership', () => {
    expect(authTypesForEvent({ type: 'm.room.message', sender: '@a:a', content: {} }, V10)).toEqual([C, PL, mem('@a:a')]);
  });

  it('a join: target (= sender, once) and join rules', () => {
    const e = { type: 'm.room.member', sender: '@b:b', state_key: '@b:b', content: { membership: 'join' } };
    expect(authTypesForEvent(e, V10)).toEqual([C, PL, mem('@b:b'), JR]);
  });

  it('a restricted join adds the authorising user’s membership', () => {
    const e = {
      type: 'm.room.member',
      sender: '@b:b',
      state_key: '@b:b',
      content: { membership: 'join', join_authorised_via_users_server: '@c:c' },
    };
    expect(authTypesForEvent(e, V11)).toEqual([C, PL, mem('@b:b'), JR, mem('@c:c')]);
  });

  it('join_authorised_via_users_server is ignored for other memberships', () => {
    const e = {
      type: 'm.room.member',
      sender: '@b:b',
      state_key: '@b:b',
      content: { membership: 'leave', join_authorised_via_users_server: '@c:c' },
    };
    expect(authTypesForEvent(e, V10)).toEqual([C, PL, mem('@b:b')]);
  });

  it('an invite: target membership and join rules', () => {
    const e = { type: 'm.room.member', sender: '@a:a', state_key: '@b:b', content: { membership: 'invite' } };
    expect(authTypesForEvent(e, V10)).toEqual([C, PL, mem('@a:a'), mem('@b:b'), JR]);
  });

  it('a third-party invite adds the m.room.third_party_invite by token', () => {
    const e = {
      type: 'm.room.member',
      sender: '@a:a',
      state_key: '@b:b',
      content: { membership: 'invite', third_party_invite: { signed: { token: 'tok', mxid: '@b:b' } } },
    };
    expect(authTypesForEvent(e, V10)).toEqual([C, PL, mem('@a:a'), mem('@b:b'), JR, ['m.room.third_party_invite', 'tok']]);
  });

  it('a knock selects join rules; a leave or ban does not', () => {
    const knock = { type: 'm.room.member', sender: '@b:b', state_key: '@b:b', content: { membership: 'knock' } };
    const ban = { type: 'm.room.member', sender: '@a:a', state_key: '@b:b', content: { membership: 'ban' } };
    expect(authTypesForEvent(knock, V10)).toContainEqual(JR);
    expect(authTypesForEvent(ban, V10)).toEqual([C, PL, mem('@a:a'), mem('@b:b')]);
  });

  it('malformed member content selects what it can without throwing', () => {
    for (const content of [{}, { membership: 5 }, { membership: 'invite', third_party_invite: 'x' }, { membership: 'join', join_authorised_via_users_server: 1 }]) {
      expect(() => authTypesForEvent({ type: 'm.room.member', sender: '@a:a', content }, V10)).not.toThrow();
    }
    expect(authTypesForEvent({ type: 'm.room.member', sender: '@a:a', content: 'junk' as unknown as JsonObject }, V10)).toEqual([C, PL, mem('@a:a')]);
  });
});

describe('selectAuthEvents', () => {
  it('picks the existing state entries in selection order', () => {
    const create = ev('m.room.create', '@a:a', { creator: '@a:a' }, '');
    const a = ev('m.room.member', '@a:a', { membership: 'join' }, '@a:a', 'member a');
    const state = new Map([
      [stateKey('m.room.create', ''), create],
      [stateKey('m.room.member', '@a:a'), a],
      [stateKey('m.room.topic', ''), ev('m.room.topic', '@a:a', {}, '')],
    ]);
    const picked = selectAuthEvents({ type: 'm.room.member', sender: '@a:a', state_key: '@b:b', content: { membership: 'invite' } }, (t, k) => state.get(stateKey(t, k)), V10);
    expect(picked).toEqual([create, a]);
  });
});

describe('power level helpers', () => {
  const create10 = ev('m.room.create', '@a:a', { creator: '@c:c' }, '');

  it('without a power_levels event the creator has 100 and everyone else 0', () => {
    expect(powerLevelOf('@c:c', undefined, create10, V10)).toBe(100);
    expect(powerLevelOf('@a:a', undefined, create10, V10)).toBe(0);
    expect(powerLevelOf('@a:a', undefined, create10, V11)).toBe(100);
    expect(powerLevelOf('@c:c', undefined, create10, V11)).toBe(0);
    expect(powerLevelOf('@c:c', undefined, undefined, V10)).toBe(0);
  });

  it('with one: users, else users_default, else 0; non-integers count as absent', () => {
    const pl = ev('m.room.power_levels', '@a:a', { users: { '@x:x': 70, '@s:s': '80' }, users_default: 5 }, '');
    expect(powerLevelOf('@x:x', pl, create10, V10)).toBe(70);
    expect(powerLevelOf('@s:s', pl, create10, V10)).toBe(5);
    expect(powerLevelOf('@c:c', pl, create10, V10)).toBe(5); // the creator has no special level once a PL event exists
    expect(powerLevelOf('@x:x', ev('m.room.power_levels', '@a:a', { users: 'x' }, ''), create10, V10)).toBe(0);
  });

  it('required power: events[type], else state_default 50 / events_default 0', () => {
    const pl = ev('m.room.power_levels', '@a:a', { events: { 'm.room.name': 75, 'x.bad': '1' }, state_default: 40, events_default: 3 }, '');
    expect(requiredPowerForEvent('m.room.name', true, pl)).toBe(75);
    expect(requiredPowerForEvent('x.bad', true, pl)).toBe(40);
    expect(requiredPowerForEvent('m.room.topic', true, pl)).toBe(40);
    expect(requiredPowerForEvent('m.room.message', false, pl)).toBe(3);
    expect(requiredPowerForEvent('m.room.topic', true, undefined)).toBe(50);
    expect(requiredPowerForEvent('m.room.message', false, undefined)).toBe(0);
    expect(requiredPowerForEvent('constructor', false, pl)).toBe(3);
  });

  it('named levels default to invite 0 and kick/ban/redact 50', () => {
    expect(['invite', 'kick', 'ban', 'redact'].map((n) => namedLevel(n as 'invite', undefined))).toEqual([0, 50, 50, 50]);
    const pl = ev('m.room.power_levels', '@a:a', { invite: 20, kick: '10', ban: 60 }, '');
    expect([namedLevel('invite', pl), namedLevel('kick', pl), namedLevel('ban', pl), namedLevel('redact', pl)]).toEqual([20, 50, 60, 50]);
  });
});

describe('state helpers', () => {
  const state = new Map<string, RoomEvent>([
    [stateKey('m.room.member', '@j:j'), ev('m.room.member', '@j:j', { membership: 'join' }, '@j:j')],
    [stateKey('m.room.member', '@m:m'), ev('m.room.member', '@m:m', { membership: 7 }, '@m:m')],
  ]);
  const lookup = (t: string, k: string) => state.get(stateKey(t, k));

  it('membershipOf: the membership, or leave when there is none (or it is malformed)', () => {
    expect(membershipOf('@j:j', lookup)).toBe('join');
    expect(membershipOf('@m:m', lookup)).toBe('leave');
    expect(membershipOf('@n:n', lookup)).toBe('leave');
  });

  it('joinRuleOf: invite when unset', () => {
    expect(joinRuleOf(lookup)).toBe('invite');
    const jr = ev('m.room.join_rules', '@a:a', { join_rule: 'public' }, '');
    expect(joinRuleOf((t) => (t === 'm.room.join_rules' ? jr : undefined))).toBe('public');
  });

  it('creatorOf: content.creator in v10, sender in v11', () => {
    const create = ev('m.room.create', '@a:a', { creator: '@c:c' }, '');
    expect(creatorOf(create, V10)).toBe('@c:c');
    expect(creatorOf(create, V11)).toBe('@a:a');
  });

  it('KNOWN_ROOM_VERSIONS: 1 to 12 and I.1', () => {
    expect([...KNOWN_ROOM_VERSIONS].sort()).toEqual(['1', '10', '11', '12', '2', '3', '4', '5', '6', '7', '8', '9', 'I.1']);
  });
});

/**
 * The authorization rules, one allow and one deny case per numbered rule of
 * room version 10 (run for 10, 11 and I.1, which must agree on them), plus
 * the v11 differences (creator from the create event's sender).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AuthContext,
  type AuthResult,
  type StateLookup,
  checkAuth,
  checkAuthAgainstState,
  selectAuthEvents,
} from '../../src/core/auth/index.ts';
import { encodeBase64 } from '../../src/core/base64.ts';
import type { JsonObject } from '../../src/core/json.ts';
import { type RoomEvent, stateKey } from '../../src/core/pdu.ts';
import { roomVersion } from '../../src/core/room-versions/registry.ts';
import type { RoomVersionRules } from '../../src/core/room-versions/types.ts';
import { keyPairFromSeed, signJson } from '../../src/core/signing.ts';

// ---------------------------------------------------------------- fixtures

const ROOM = '!room:a';
const ALICE = '@alice:a'; // creator, power 100
const MOD = '@mod:b'; // power 50, joined
const BOB = '@bob:b'; // power 0, joined
const CAROL = '@carol:c'; // banned
const DAVE = '@dave:d'; // invited
const ERIN = '@erin:e'; // knocking
const FRANK = '@frank:f'; // left
const ZED = '@zed:z'; // never been in the room

let counter = 0;
/** A fresh v4-shaped event ID ('$' + 43 URL-safe characters); not a real hash, which auth does not need. */
function nextEventId(): string {
  counter += 1;
  return `$${String(counter).padStart(43, 'A')}`;
}

interface EventSpec {
  type: string;
  sender: string;
  state_key?: string;
  content: JsonObject;
  prev_events?: string[];
  room_id?: string;
  /** Servers the event carries a signature from, besides the sender's. */
  signedBy?: string[];
}

/** Test context: an event is "signed by" a server when its `signatures` has an entry for it. */
const CTX: AuthContext = {
  isSignedBy: (ev, server) => Object.hasOwn(ev.signatures, server),
};

class Room {
  readonly state = new Map<string, RoomEvent>();
  create!: RoomEvent;
  private last: string[] = [];

  constructor(readonly rules: RoomVersionRules) {}

  readonly lookup: StateLookup = (type, key) => this.state.get(stateKey(type, key));

  /** Builds an event with auth_events selected from the current state and prev_events = the last event. */
  make(spec: EventSpec): RoomEvent {
    const domain = spec.sender.slice(spec.sender.indexOf(':') + 1);
    const signatures: Record<string, Record<string, string>> = { [domain]: { 'ed25519:1': 'sig' } };
    for (const s of spec.signedBy ?? []) signatures[s] = { 'ed25519:1': 'sig' };
    const partial = { type: spec.type, sender: spec.sender, state_key: spec.state_key, content: spec.content };
    const ev: RoomEvent = {
      event_id: nextEventId(),
      room_id: spec.room_id ?? ROOM,
      sender: spec.sender,
      type: spec.type,
      content: spec.content,
      origin_server_ts: 1_700_000_000_000 + counter,
      depth: this.last.length + 1,
      prev_events: spec.prev_events ?? this.last,
      auth_events: selectAuthEvents(partial, this.lookup, this.rules).map((e) => e.event_id),
      hashes: { sha256: 'unused' },
      signatures,
    };
    if (spec.state_key !== undefined) ev.state_key = spec.state_key;
    return ev;
  }

  /** Puts an event into state without checking it (to set up a scenario directly). */
  put(spec: EventSpec): RoomEvent {
    const ev = this.make(spec);
    this.state.set(stateKey(ev.type, ev.state_key ?? ''), ev);
    this.last = [ev.event_id];
    return ev;
  }

  /** Appends an event that must pass auth. */
  add(spec: EventSpec): RoomEvent {
    const ev = this.make(spec);
    const verdict = this.check(ev);
    if (!verdict.allowed) throw new Error(`fixture event rejected: ${verdict.rule} ${verdict.reason}`);
    this.state.set(stateKey(ev.type, ev.state_key ?? ''), ev);
    this.last = [ev.event_id];
    return ev;
  }

  check(ev: RoomEvent, ctx: AuthContext = CTX): AuthResult {
    return checkAuthAgainstState(ev, this.lookup, this.rules, ctx);
  }

  setMember(target: string, membership: string, sender = target): RoomEvent {
    return this.put(member(sender, target, membership));
  }

  setPowerLevels(content: JsonObject): RoomEvent {
    return this.put({ type: 'm.room.power_levels', sender: ALICE, state_key: '', content });
  }

  setJoinRule(joinRule: string): RoomEvent {
    return this.put({ type: 'm.room.join_rules', sender: ALICE, state_key: '', content: { join_rule: joinRule } });
  }
}

function createContent(rules: RoomVersionRules): JsonObject {
  return rules.auth.creatorFromSender ? { room_version: rules.id } : { creator: ALICE, room_version: rules.id };
}

function member(sender: string, target: string, membership: unknown, extra: JsonObject = {}): EventSpec {
  return {
    type: 'm.room.member',
    sender,
    state_key: target,
    content: { membership: membership as string, ...extra },
  };
}

const DEFAULT_PL: JsonObject = {
  users: { [ALICE]: 100, [MOD]: 50 },
  users_default: 0,
  events_default: 0,
  state_default: 50,
  ban: 50,
  kick: 50,
  redact: 50,
  invite: 0,
  events: { 'm.room.name': 50, 'm.room.power_levels': 100, 'm.room.encryption': 100 },
};

/** A created room with only the create event in it. */
function bareRoom(rules: RoomVersionRules): Room {
  const r = new Room(rules);
  r.create = r.add({ type: 'm.room.create', sender: ALICE, state_key: '', content: createContent(rules) });
  return r;
}

/**
 * The standard room: Alice (creator, 100) and Mod (50) and Bob (0) joined,
 * Carol banned, Dave invited, Erin knocking, Frank left; Zed never there.
 */
function standardRoom(rules: RoomVersionRules, joinRule = 'invite'): Room {
  const r = bareRoom(rules);
  r.add(member(ALICE, ALICE, 'join'));
  r.add({ type: 'm.room.power_levels', sender: ALICE, state_key: '', content: DEFAULT_PL });
  r.add({ type: 'm.room.join_rules', sender: ALICE, state_key: '', content: { join_rule: joinRule } });
  r.setMember(MOD, 'join');
  r.setMember(BOB, 'join');
  r.setMember(CAROL, 'ban', ALICE);
  r.setMember(DAVE, 'invite', ALICE);
  r.setMember(ERIN, 'knock');
  r.setMember(FRANK, 'leave');
  return r;
}

// Third-party invites: an identity server key pair and a signed block for Zed.
const ID_SEED = new Uint8Array(32).fill(7);
const ID_KEY = encodeBase64(keyPairFromSeed(ID_SEED).publicKey);
const OTHER_SEED = new Uint8Array(32).fill(9);
const OTHER_KEY = encodeBase64(keyPairFromSeed(OTHER_SEED).publicKey);
const TOKEN = 'tok3n';

function signedFor(mxid: string, token = TOKEN, seed = ID_SEED): JsonObject {
  return signJson({ mxid, token }, 'id.example', 'ed25519:0', seed);
}

function addThirdPartyInvite(r: Room, content: JsonObject = { public_key: ID_KEY }, sender = ALICE): RoomEvent {
  return r.put({
    type: 'm.room.third_party_invite',
    sender,
    state_key: TOKEN,
    content: { display_name: 'z…@example.org', key_validity_url: 'https://id.example/valid', ...content },
  });
}

// ---------------------------------------------------------------- the table

type Expect = 'allow' | { deny: string };
interface Case {
  name: string;
  joinRule?: string;
  /** Versions the case applies to (default: all three). */
  versions?: string[];
  setup?: (r: Room) => void;
  /** Starts from a room holding only the create event instead of the standard room. */
  bare?: boolean;
  event: (r: Room) => RoomEvent;
  /** An explicit auth event list (rule 2); otherwise they are selected from the room state. */
  authEvents?: (r: Room, ev: RoomEvent) => RoomEvent[];
  ctx?: AuthContext;
  expect: Expect;
}

const allow: Expect = 'allow';
const denyBy = (rule: string): Expect => ({ deny: rule });

const msg = (sender: string, content: JsonObject = { msgtype: 'm.text', body: 'hi' }): EventSpec => ({
  type: 'm.room.message',
  sender,
  content,
});

const pl = (sender: string, content: JsonObject): EventSpec => ({
  type: 'm.room.power_levels',
  sender,
  state_key: '',
  content,
});

const cases: Case[] = [
  // 1. m.room.create
  {
    name: '1.1 allow: create event without prev_events',
    bare: true,
    event: (r) => r.make({ type: 'm.room.create', sender: ALICE, state_key: '', content: createContent(r.rules), prev_events: [] }),
    expect: allow,
  },
  {
    name: '1.1 deny: create event with prev_events',
    bare: true,
    event: (r) =>
      r.make({ type: 'm.room.create', sender: ALICE, state_key: '', content: createContent(r.rules), prev_events: [r.create.event_id] }),
    expect: denyBy('1.1'),
  },
  {
    name: '1.2 allow: room ID on the sender’s server',
    bare: true,
    event: (r) => r.make({ type: 'm.room.create', sender: ALICE, state_key: '', content: createContent(r.rules), prev_events: [] }),
    expect: allow,
  },
  {
    name: '1.2 deny: room ID on another server than the sender’s',
    bare: true,
    event: (r) =>
      r.make({ type: 'm.room.create', sender: BOB, state_key: '', content: { creator: BOB }, prev_events: [] }),
    expect: denyBy('1.2'),
  },
  {
    name: '1.3 allow: a recognised room version this server does not implement (9)',
    bare: true,
    event: (r) =>
      r.make({ type: 'm.room.create', sender: ALICE, state_key: '', content: { creator: ALICE, room_version: '9' }, prev_events: [] }),
    expect: allow,
  },
  {
    name: '1.3 allow: no room_version at all',
    bare: true,
    event: (r) => r.make({ type: 'm.room.create', sender: ALICE, state_key: '', content: { creator: ALICE }, prev_events: [] }),
    expect: allow,
  },
  {
    name: '1.3 deny: unrecognised room version',
    bare: true,
    event: (r) =>
      r.make({ type: 'm.room.create', sender: ALICE, state_key: '', content: { creator: ALICE, room_version: '99' }, prev_events: [] }),
    expect: denyBy('1.3'),
  },
  {
    name: '1.3 deny: room_version that is not a string',
    bare: true,
    event: (r) =>
      r.make({ type: 'm.room.create', sender: ALICE, state_key: '', content: { creator: ALICE, room_version: 10 }, prev_events: [] }),
    expect: denyBy('1.3'),
  },
  {
    name: '1.4 deny (v10): create content without creator',
    versions: ['10', 'I.1'],
    bare: true,
    event: (r) => r.make({ type: 'm.room.create', sender: ALICE, state_key: '', content: { room_version: '10' }, prev_events: [] }),
    expect: denyBy('1.4'),
  },
  {
    name: '1.4 allow (v11): create content without creator',
    versions: ['11'],
    bare: true,
    event: (r) => r.make({ type: 'm.room.create', sender: ALICE, state_key: '', content: { room_version: '11' }, prev_events: [] }),
    expect: allow,
  },
  {
    name: '1.5 allow (v10): create content with creator',
    versions: ['10', 'I.1'],
    bare: true,
    event: (r) => r.make({ type: 'm.room.create', sender: ALICE, state_key: '', content: { creator: ALICE }, prev_events: [] }),
    expect: allow,
  },

  // 2. the auth events list
  {
    name: '2.1 allow: distinct auth event entries',
    event: (r) => r.make(msg(BOB)),
    authEvents: (r) => [r.create, r.lookup('m.room.power_levels', '')!, r.lookup('m.room.member', BOB)!],
    expect: allow,
  },
  {
    name: '2.1 deny: two power_levels events among the auth events',
    event: (r) => r.make(msg(BOB)),
    authEvents: (r) => {
      const older = r.lookup('m.room.power_levels', '')!;
      const newer = r.setPowerLevels(DEFAULT_PL);
      return [r.create, older, newer, r.lookup('m.room.member', BOB)!];
    },
    expect: denyBy('2.1'),
  },
  {
    name: '2.2 allow: join_rules among the auth events of a join',
    joinRule: 'public',
    event: (r) => r.make(member(ZED, ZED, 'join')),
    authEvents: (r) => [r.create, r.lookup('m.room.power_levels', '')!, r.lookup('m.room.join_rules', '')!],
    expect: allow,
  },
  {
    name: '2.2 deny: join_rules among the auth events of a message',
    event: (r) => r.make(msg(BOB)),
    authEvents: (r) => [r.create, r.lookup('m.room.member', BOB)!, r.lookup('m.room.join_rules', '')!],
    expect: denyBy('2.2'),
  },
  {
    name: '2.2 deny: another user’s membership among the auth events of a message',
    event: (r) => r.make(msg(BOB)),
    authEvents: (r) => [r.create, r.lookup('m.room.member', BOB)!, r.lookup('m.room.member', MOD)!],
    expect: denyBy('2.2'),
  },
  {
    name: '2.2 deny: a non-state event among the auth events',
    event: (r) => r.make(msg(BOB)),
    authEvents: (r) => [r.create, r.lookup('m.room.member', BOB)!, r.make(msg(BOB))],
    expect: denyBy('2.2'),
  },
  {
    name: '2.3 allow: no auth event was rejected',
    event: (r) => r.make(msg(BOB)),
    ctx: { ...CTX, rejected: () => false },
    expect: allow,
  },
  {
    name: '2.3 deny: an auth event was itself rejected',
    event: (r) => r.make(msg(BOB)),
    ctx: { ...CTX, rejected: (id) => id === 'power-levels' },
    setup: (r) => {
      // Mark the power_levels event: the context rejects it by its ID.
      const ev = r.lookup('m.room.power_levels', '')!;
      r.state.set(stateKey(ev.type, ''), { ...ev, event_id: 'power-levels' });
    },
    expect: denyBy('2.3'),
  },
  {
    name: '2.4 allow: create event among the auth events',
    event: (r) => r.make(msg(BOB)),
    authEvents: (r) => [r.create, r.lookup('m.room.member', BOB)!],
    expect: allow,
  },
  {
    name: '2.4 deny: no m.room.create among the auth events',
    event: (r) => r.make(msg(BOB)),
    authEvents: (r) => [r.lookup('m.room.power_levels', '')!, r.lookup('m.room.member', BOB)!],
    expect: denyBy('2.4'),
  },
  {
    name: '2.5 allow: auth events of the same room',
    event: (r) => r.make(msg(BOB)),
    expect: allow,
  },
  {
    name: '2.5 deny: an auth event from another room',
    event: (r) => r.make(msg(BOB)),
    authEvents: (r) => [r.create, { ...r.lookup('m.room.member', BOB)!, room_id: '!other:a' }],
    expect: denyBy('2.5'),
  },

  // 3. m.federate
  {
    name: '3 allow: m.federate false, sender on the creator’s server',
    bare: true,
    setup: (r) => {
      r.create = r.put({ type: 'm.room.create', sender: ALICE, state_key: '', content: { ...createContent(r.rules), 'm.federate': false }, prev_events: [] });
    },
    event: (r) => r.make({ ...member(ALICE, ALICE, 'join'), prev_events: [r.create.event_id] }),
    expect: allow,
  },
  {
    name: '3 deny: m.federate false, sender on another server',
    joinRule: 'public',
    setup: (r) => {
      r.create = r.put({ type: 'm.room.create', sender: ALICE, state_key: '', content: { ...createContent(r.rules), 'm.federate': false }, prev_events: [] });
    },
    event: (r) => r.make(member(ZED, ZED, 'join')),
    expect: denyBy('3'),
  },
  {
    name: '3 allow: m.federate true lets other servers in',
    joinRule: 'public',
    setup: (r) => {
      r.create = r.put({ type: 'm.room.create', sender: ALICE, state_key: '', content: { ...createContent(r.rules), 'm.federate': true }, prev_events: [] });
    },
    event: (r) => r.make(member(ZED, ZED, 'join')),
    expect: allow,
  },

  // 4.1 member event shape
  {
    name: '4.1 allow: member event with state_key and membership',
    joinRule: 'public',
    event: (r) => r.make(member(ZED, ZED, 'join')),
    expect: allow,
  },
  {
    name: '4.1 deny: member event without state_key',
    event: (r) => r.make({ type: 'm.room.member', sender: BOB, content: { membership: 'leave' } }),
    expect: denyBy('4.1'),
  },
  {
    name: '4.1 deny: member event without membership',
    event: (r) => r.make({ type: 'm.room.member', sender: BOB, state_key: BOB, content: { displayname: 'Bob' } }),
    expect: denyBy('4.1'),
  },

  // 4.2.1 join_authorised_via_users_server signature
  {
    name: '4.2.1 allow: signed by the authorising user’s server',
    joinRule: 'restricted',
    event: (r) => r.make({ ...member(ZED, ZED, 'join', { join_authorised_via_users_server: BOB }), signedBy: ['b'] }),
    expect: allow,
  },
  {
    name: '4.2.1 deny: not signed by the authorising user’s server',
    joinRule: 'restricted',
    event: (r) => r.make(member(ZED, ZED, 'join', { join_authorised_via_users_server: BOB })),
    expect: denyBy('4.2.1'),
  },
  {
    name: '4.2.1 deny: join_authorised_via_users_server is not a user ID',
    joinRule: 'restricted',
    event: (r) => r.make(member(ZED, ZED, 'join', { join_authorised_via_users_server: 5 })),
    expect: denyBy('4.2.1'),
  },
  {
    name: '4.2.1 deny: applies to memberships other than join too',
    event: (r) => r.make(member(BOB, BOB, 'leave', { join_authorised_via_users_server: ALICE })),
    expect: denyBy('4.2.1'),
  },

  // 4.3 join
  {
    name: '4.3.1 allow: the creator’s first join right after the create event',
    bare: true,
    event: (r) => r.make({ ...member(ALICE, ALICE, 'join'), prev_events: [r.create.event_id] }),
    expect: allow,
  },
  {
    name: '4.3.1 deny: another user’s join right after the create event (falls to the join rule)',
    bare: true,
    event: (r) => r.make({ ...member(ZED, ZED, 'join'), prev_events: [r.create.event_id] }),
    expect: denyBy('4.3.7'),
  },
  {
    name: '4.3.1 deny: the creator’s join when the create event is not the only prev event',
    bare: true,
    event: (r) => r.make({ ...member(ALICE, ALICE, 'join'), prev_events: [r.create.event_id, nextEventId()] }),
    expect: denyBy('4.3.7'),
  },
  {
    name: '4.3.2 allow: joining as oneself',
    joinRule: 'public',
    event: (r) => r.make(member(ZED, ZED, 'join')),
    expect: allow,
  },
  {
    name: '4.3.2 deny: sender joins someone else',
    joinRule: 'public',
    event: (r) => r.make(member(BOB, ZED, 'join')),
    expect: denyBy('4.3.2'),
  },
  {
    name: '4.3.3 allow: user who left can rejoin a public room',
    joinRule: 'public',
    event: (r) => r.make(member(FRANK, FRANK, 'join')),
    expect: allow,
  },
  {
    name: '4.3.3 deny: banned user cannot join',
    joinRule: 'public',
    event: (r) => r.make(member(CAROL, CAROL, 'join')),
    expect: denyBy('4.3.3'),
  },
  {
    name: '4.3.4 allow: invited user joins an invite-only room',
    event: (r) => r.make(member(DAVE, DAVE, 'join')),
    expect: allow,
  },
  {
    name: '4.3.4 allow: joined user re-joins (e.g. profile change) an invite-only room',
    event: (r) => r.make(member(BOB, BOB, 'join', { displayname: 'Bobby' })),
    expect: allow,
  },
  {
    name: '4.3.4 allow: invited user joins a knock room',
    joinRule: 'knock',
    event: (r) => r.make(member(DAVE, DAVE, 'join')),
    expect: allow,
  },
  {
    name: '4.3.4 deny (via 4.3.7): uninvited user cannot join an invite-only room',
    event: (r) => r.make(member(ZED, ZED, 'join')),
    expect: denyBy('4.3.7'),
  },
  {
    name: '4.3.4 deny (via 4.3.7): knocking user cannot join a knock room before being invited',
    joinRule: 'knock',
    event: (r) => r.make(member(ERIN, ERIN, 'join')),
    expect: denyBy('4.3.7'),
  },
  {
    name: '4.3.4 deny (via 4.3.7): no join_rules event counts as invite-only',
    setup: (r) => r.state.delete(stateKey('m.room.join_rules', '')),
    event: (r) => r.make(member(ZED, ZED, 'join')),
    expect: denyBy('4.3.7'),
  },
  {
    name: '4.3.4 allow: no join_rules event counts as invite-only, so the invited may join',
    setup: (r) => r.state.delete(stateKey('m.room.join_rules', '')),
    event: (r) => r.make(member(DAVE, DAVE, 'join')),
    expect: allow,
  },
  {
    name: '4.3.5.1 allow: invited user joins a restricted room without an authoriser',
    joinRule: 'restricted',
    event: (r) => r.make(member(DAVE, DAVE, 'join')),
    expect: allow,
  },
  {
    name: '4.3.5.1 allow: invited user joins a knock_restricted room',
    joinRule: 'knock_restricted',
    event: (r) => r.make(member(DAVE, DAVE, 'join')),
    expect: allow,
  },
  {
    name: '4.3.5.2 deny: restricted join without join_authorised_via_users_server',
    joinRule: 'restricted',
    event: (r) => r.make(member(ZED, ZED, 'join')),
    expect: denyBy('4.3.5.2'),
  },
  {
    name: '4.3.5.2 deny: authorising user is not joined',
    joinRule: 'restricted',
    event: (r) => r.make({ ...member(ZED, ZED, 'join', { join_authorised_via_users_server: FRANK }), signedBy: ['f'] }),
    expect: denyBy('4.3.5.2'),
  },
  {
    name: '4.3.5.2 deny: authorising user lacks the invite level',
    joinRule: 'knock_restricted',
    setup: (r) => r.setPowerLevels({ ...DEFAULT_PL, invite: 10 }),
    event: (r) => r.make({ ...member(ZED, ZED, 'join', { join_authorised_via_users_server: BOB }), signedBy: ['b'] }),
    expect: denyBy('4.3.5.2'),
  },
  {
    name: '4.3.5.3 allow: knock_restricted join authorised by a joined member who can invite',
    joinRule: 'knock_restricted',
    setup: (r) => r.setPowerLevels({ ...DEFAULT_PL, invite: 50 }),
    event: (r) => r.make({ ...member(ZED, ZED, 'join', { join_authorised_via_users_server: MOD }), signedBy: ['b'] }),
    expect: allow,
  },
  {
    name: '4.3.6 allow: anyone may join a public room',
    joinRule: 'public',
    event: (r) => r.make(member(ZED, ZED, 'join')),
    expect: allow,
  },
  {
    name: '4.3.7 deny: the private join rule lets nobody join',
    joinRule: 'private',
    event: (r) => r.make(member(ZED, ZED, 'join')),
    expect: denyBy('4.3.7'),
  },
  {
    name: '4.3.7 deny: a join rule that is not a string',
    setup: (r) => r.put({ type: 'm.room.join_rules', sender: ALICE, state_key: '', content: { join_rule: 7 } }),
    event: (r) => r.make(member(DAVE, DAVE, 'join')),
    expect: denyBy('4.3.7'),
  },

  // 4.4.1 third-party invites
  {
    name: '4.4.1.1 allow: third-party invite of a user who is not banned',
    setup: (r) => addThirdPartyInvite(r),
    event: (r) => r.make(member(ALICE, ZED, 'invite', { third_party_invite: { display_name: 'z', signed: signedFor(ZED) } })),
    expect: allow,
  },
  {
    name: '4.4.1.1 deny: third-party invite of a banned user',
    setup: (r) => addThirdPartyInvite(r),
    event: (r) => r.make(member(ALICE, CAROL, 'invite', { third_party_invite: { display_name: 'c', signed: signedFor(CAROL) } })),
    expect: denyBy('4.4.1.1'),
  },
  {
    name: '4.4.1.2 deny: third_party_invite without signed',
    setup: (r) => addThirdPartyInvite(r),
    event: (r) => r.make(member(ALICE, ZED, 'invite', { third_party_invite: { display_name: 'z' } })),
    expect: denyBy('4.4.1.2'),
  },
  {
    name: '4.4.1.2 deny: third_party_invite that is not an object',
    event: (r) => r.make(member(ALICE, ZED, 'invite', { third_party_invite: 'yes' })),
    expect: denyBy('4.4.1.2'),
  },
  {
    name: '4.4.1.3 deny: signed without token',
    setup: (r) => addThirdPartyInvite(r),
    event: (r) => r.make(member(ALICE, ZED, 'invite', { third_party_invite: { signed: { mxid: ZED, signatures: {} } } })),
    expect: denyBy('4.4.1.3'),
  },
  {
    name: '4.4.1.3 deny: signed without mxid',
    setup: (r) => addThirdPartyInvite(r),
    event: (r) => r.make(member(ALICE, ZED, 'invite', { third_party_invite: { signed: { token: TOKEN, signatures: {} } } })),
    expect: denyBy('4.4.1.3'),
  },
  {
    name: '4.4.1.4 deny: signed.mxid is not the invitee',
    setup: (r) => addThirdPartyInvite(r),
    event: (r) => r.make(member(ALICE, ZED, 'invite', { third_party_invite: { signed: signedFor(FRANK) } })),
    expect: denyBy('4.4.1.4'),
  },
  {
    name: '4.4.1.5 deny: no m.room.third_party_invite with that token',
    setup: (r) => addThirdPartyInvite(r),
    event: (r) => r.make(member(ALICE, ZED, 'invite', { third_party_invite: { signed: signedFor(ZED, 'other-token') } })),
    expect: denyBy('4.4.1.5'),
  },
  {
    name: '4.4.1.6 deny: the invite is redeemed by someone other than who issued it',
    setup: (r) => addThirdPartyInvite(r, { public_key: ID_KEY }, MOD),
    event: (r) => r.make(member(ALICE, ZED, 'invite', { third_party_invite: { signed: signedFor(ZED) } })),
    expect: denyBy('4.4.1.6'),
  },
  {
    name: '4.4.1.7 allow: signature by the key in public_key',
    setup: (r) => addThirdPartyInvite(r, { public_key: ID_KEY }),
    event: (r) => r.make(member(ALICE, ZED, 'invite', { third_party_invite: { signed: signedFor(ZED) } })),
    expect: allow,
  },
  {
    name: '4.4.1.7 allow: signature by a key in public_keys',
    setup: (r) =>
      addThirdPartyInvite(r, { public_key: OTHER_KEY, public_keys: [{ public_key: 'not base64!' }, { public_key: ID_KEY }] }),
    event: (r) => r.make(member(ALICE, ZED, 'invite', { third_party_invite: { signed: signedFor(ZED) } })),
    expect: allow,
  },
  {
    name: '4.4.1.7 allow: an inviter who is not joined can still redeem their own third-party invite',
    setup: (r) => {
      addThirdPartyInvite(r);
      r.setMember(ALICE, 'leave');
    },
    event: (r) => r.make(member(ALICE, ZED, 'invite', { third_party_invite: { signed: signedFor(ZED) } })),
    expect: allow,
  },
  {
    name: '4.4.1.8 deny: signature by a key the invite does not list',
    setup: (r) => addThirdPartyInvite(r, { public_key: ID_KEY }),
    event: (r) => r.make(member(ALICE, ZED, 'invite', { third_party_invite: { signed: signedFor(ZED, TOKEN, OTHER_SEED) } })),
    expect: denyBy('4.4.1.8'),
  },
  {
    name: '4.4.1.8 deny: forged signed block (mxid changed after signing)',
    setup: (r) => addThirdPartyInvite(r),
    event: (r) => r.make(member(ALICE, FRANK, 'invite', { third_party_invite: { signed: { ...signedFor(ZED), mxid: FRANK } } })),
    expect: denyBy('4.4.1.8'),
  },
  {
    name: '4.4.1.8 deny: signatures that are not base64 or not objects',
    setup: (r) => addThirdPartyInvite(r),
    event: (r) =>
      r.make(
        member(ALICE, ZED, 'invite', {
          third_party_invite: { signed: { mxid: ZED, token: TOKEN, signatures: { 'id.example': { 'ed25519:0': '!!' }, x: 3 } } },
        }),
      ),
    expect: denyBy('4.4.1.8'),
  },

  // 4.4 invites
  {
    name: '4.4.2 allow: joined member invites',
    event: (r) => r.make(member(BOB, ZED, 'invite')),
    expect: allow,
  },
  {
    name: '4.4.2 deny: a sender who is not joined cannot invite',
    event: (r) => r.make(member(DAVE, ZED, 'invite')),
    expect: denyBy('4.4.2'),
  },
  {
    name: '4.4.3 allow: inviting a user who left',
    event: (r) => r.make(member(BOB, FRANK, 'invite')),
    expect: allow,
  },
  {
    name: '4.4.3 deny: inviting a joined user',
    event: (r) => r.make(member(BOB, MOD, 'invite')),
    expect: denyBy('4.4.3'),
  },
  {
    name: '4.4.3 deny: inviting a banned user',
    event: (r) => r.make(member(ALICE, CAROL, 'invite')),
    expect: denyBy('4.4.3'),
  },
  {
    name: '4.4.4 allow: sender at exactly the invite level',
    setup: (r) => r.setPowerLevels({ ...DEFAULT_PL, invite: 50 }),
    event: (r) => r.make(member(MOD, ZED, 'invite')),
    expect: allow,
  },
  {
    name: '4.4.5 deny: sender below the invite level',
    setup: (r) => r.setPowerLevels({ ...DEFAULT_PL, invite: 50 }),
    event: (r) => r.make(member(BOB, ZED, 'invite')),
    expect: denyBy('4.4.5'),
  },

  // 4.5 leave
  {
    name: '4.5.1 allow: joined user leaves',
    event: (r) => r.make(member(BOB, BOB, 'leave')),
    expect: allow,
  },
  {
    name: '4.5.1 allow: invited user rejects the invite',
    event: (r) => r.make(member(DAVE, DAVE, 'leave')),
    expect: allow,
  },
  {
    name: '4.5.1 allow: knocking user rescinds the knock',
    event: (r) => r.make(member(ERIN, ERIN, 'leave')),
    expect: allow,
  },
  {
    name: '4.5.1 deny: banned user cannot unban themself by leaving',
    event: (r) => r.make(member(CAROL, CAROL, 'leave')),
    expect: denyBy('4.5.1'),
  },
  {
    name: '4.5.1 deny: a user who already left cannot leave again',
    event: (r) => r.make(member(FRANK, FRANK, 'leave')),
    expect: denyBy('4.5.1'),
  },
  {
    name: '4.5.2 allow: joined moderator kicks',
    event: (r) => r.make(member(MOD, BOB, 'leave')),
    expect: allow,
  },
  {
    name: '4.5.2 deny: a kicker who is not joined',
    setup: (r) => r.setMember(MOD, 'leave'),
    event: (r) => r.make(member(MOD, BOB, 'leave')),
    expect: denyBy('4.5.2'),
  },
  {
    name: '4.5.3 allow: unban by a sender at the ban level',
    event: (r) => r.make(member(MOD, CAROL, 'leave')),
    expect: allow,
  },
  {
    name: '4.5.3 deny: unban by a sender who can kick but is below the ban level',
    setup: (r) => r.setPowerLevels({ ...DEFAULT_PL, kick: 0, ban: 75 }),
    event: (r) => r.make(member(MOD, CAROL, 'leave')),
    expect: denyBy('4.5.3'),
  },
  {
    name: '4.5.4 allow: kick of a lower-powered user at exactly the kick level',
    event: (r) => r.make(member(MOD, DAVE, 'leave')),
    expect: allow,
  },
  {
    name: '4.5.5 deny: kick below the kick level',
    event: (r) => r.make(member(BOB, DAVE, 'leave')),
    expect: denyBy('4.5.5'),
  },
  {
    name: '4.5.5 deny: kick of a user with equal power',
    setup: (r) => r.setPowerLevels({ ...DEFAULT_PL, users: { [ALICE]: 100, [MOD]: 50, [BOB]: 50 } }),
    event: (r) => r.make(member(MOD, BOB, 'leave')),
    expect: denyBy('4.5.5'),
  },

  // 4.6 ban
  {
    name: '4.6.1 allow: joined moderator bans',
    event: (r) => r.make(member(MOD, ZED, 'ban')),
    expect: allow,
  },
  {
    name: '4.6.1 deny: a banner who is not joined',
    setup: (r) => r.setMember(MOD, 'leave'),
    event: (r) => r.make(member(MOD, ZED, 'ban')),
    expect: denyBy('4.6.1'),
  },
  {
    name: '4.6.2 allow: ban of a lower-powered member',
    event: (r) => r.make(member(ALICE, MOD, 'ban')),
    expect: allow,
  },
  {
    name: '4.6.3 deny: ban below the ban level',
    event: (r) => r.make(member(BOB, ZED, 'ban')),
    expect: denyBy('4.6.3'),
  },
  {
    name: '4.6.3 deny: ban of a higher-powered member',
    event: (r) => r.make(member(MOD, ALICE, 'ban')),
    expect: denyBy('4.6.3'),
  },

  // 4.7 knock
  {
    name: '4.7.1 allow: knocking on a knock room',
    joinRule: 'knock',
    event: (r) => r.make(member(ZED, ZED, 'knock')),
    expect: allow,
  },
  {
    name: '4.7.1 allow: knocking on a knock_restricted room',
    joinRule: 'knock_restricted',
    event: (r) => r.make(member(ZED, ZED, 'knock')),
    expect: allow,
  },
  {
    name: '4.7.1 deny: knocking on an invite-only room',
    event: (r) => r.make(member(ZED, ZED, 'knock')),
    expect: denyBy('4.7.1'),
  },
  {
    name: '4.7.1 deny: knocking on a restricted room',
    joinRule: 'restricted',
    event: (r) => r.make(member(ZED, ZED, 'knock')),
    expect: denyBy('4.7.1'),
  },
  {
    name: '4.7.2 deny: knocking on behalf of someone else',
    joinRule: 'knock',
    event: (r) => r.make(member(BOB, ZED, 'knock')),
    expect: denyBy('4.7.2'),
  },
  {
    name: '4.7.3 allow: a user who left may knock',
    joinRule: 'knock',
    event: (r) => r.make(member(FRANK, FRANK, 'knock')),
    expect: allow,
  },
  {
    name: '4.7.4 deny: a banned user cannot knock',
    joinRule: 'knock',
    event: (r) => r.make(member(CAROL, CAROL, 'knock')),
    expect: denyBy('4.7.4'),
  },
  {
    name: '4.7.4 deny: an invited user cannot knock',
    joinRule: 'knock',
    event: (r) => r.make(member(DAVE, DAVE, 'knock')),
    expect: denyBy('4.7.4'),
  },
  {
    name: '4.8 deny: unknown membership',
    event: (r) => r.make(member(BOB, BOB, 'lurk')),
    expect: denyBy('4.8'),
  },
  {
    name: '4.8 deny: membership that is not a string',
    event: (r) => r.make(member(BOB, BOB, 5)),
    expect: denyBy('4.8'),
  },

  // 5. sender must be joined
  {
    name: '5 allow: joined member sends a message',
    event: (r) => r.make(msg(BOB)),
    expect: allow,
  },
  {
    name: '5 deny: invited user cannot send a message',
    event: (r) => r.make(msg(DAVE)),
    expect: denyBy('5'),
  },
  {
    name: '5 deny: a stranger cannot send a message',
    event: (r) => r.make(msg(ZED)),
    expect: denyBy('5'),
  },

  // 6. m.room.third_party_invite
  {
    name: '6.1 allow: third_party_invite at the invite level',
    event: (r) =>
      r.make({ type: 'm.room.third_party_invite', sender: BOB, state_key: TOKEN, content: { display_name: 'x', public_key: ID_KEY } }),
    expect: allow,
  },
  {
    name: '6.1 deny: third_party_invite below the invite level',
    setup: (r) => r.setPowerLevels({ ...DEFAULT_PL, invite: 50 }),
    event: (r) =>
      r.make({ type: 'm.room.third_party_invite', sender: BOB, state_key: TOKEN, content: { display_name: 'x', public_key: ID_KEY } }),
    expect: denyBy('6.1'),
  },

  // 7. required power level
  {
    name: '7 allow: state event at its required level',
    event: (r) => r.make({ type: 'm.room.name', sender: MOD, state_key: '', content: { name: 'x' } }),
    expect: allow,
  },
  {
    name: '7 deny: state event below state_default',
    event: (r) => r.make({ type: 'm.room.topic', sender: BOB, state_key: '', content: { topic: 'x' } }),
    expect: denyBy('7'),
  },
  {
    name: '7 deny: message event below events_default',
    setup: (r) => r.setPowerLevels({ ...DEFAULT_PL, events_default: 10 }),
    event: (r) => r.make(msg(BOB)),
    expect: denyBy('7'),
  },
  {
    name: '7 deny: redaction limited by events, not by the redact level',
    setup: (r) => r.setPowerLevels({ ...DEFAULT_PL, redact: 0, events: { 'm.room.redaction': 20 } }),
    event: (r) => r.make({ type: 'm.room.redaction', sender: BOB, content: { redacts: '$x' } }),
    expect: denyBy('7'),
  },
  {
    name: '7 allow: redaction by a user below the redact level',
    event: (r) => r.make({ type: 'm.room.redaction', sender: BOB, content: { redacts: '$x' } }),
    expect: allow,
  },

  // 8. state keys naming users
  {
    name: '8 allow: state keyed by the sender’s own user ID',
    setup: (r) => r.setPowerLevels({ ...DEFAULT_PL, events: { 'org.example.status': 0 } }),
    event: (r) => r.make({ type: 'org.example.status', sender: BOB, state_key: BOB, content: {} }),
    expect: allow,
  },
  {
    name: '8 deny: state keyed by another user’s ID',
    event: (r) => r.make({ type: 'org.example.status', sender: ALICE, state_key: BOB, content: {} }),
    expect: denyBy('8'),
  },

  // 9. m.room.power_levels
  {
    name: '9.1 allow: integer named levels',
    event: (r) => r.make(pl(ALICE, { ...DEFAULT_PL, ban: 60, kick: -1 })),
    expect: allow,
  },
  {
    name: '9.1 deny: a string power level ("50") in v10+',
    event: (r) => r.make(pl(ALICE, { ...DEFAULT_PL, ban: '50' })),
    expect: denyBy('9.1'),
  },
  {
    name: '9.1 deny: a fractional power level',
    event: (r) => r.make(pl(ALICE, { ...DEFAULT_PL, state_default: 50.5 })),
    expect: denyBy('9.1'),
  },
  {
    name: '9.1 deny: a boolean or null power level',
    event: (r) => r.make(pl(ALICE, { ...DEFAULT_PL, invite: null })),
    expect: denyBy('9.1'),
  },
  {
    name: '9.2 allow: events and notifications objects of integers',
    event: (r) => r.make(pl(ALICE, { ...DEFAULT_PL, notifications: { room: 50 } })),
    expect: allow,
  },
  {
    name: '9.2 deny: events that is not an object',
    event: (r) => r.make(pl(ALICE, { ...DEFAULT_PL, events: [1] })),
    expect: denyBy('9.2'),
  },
  {
    name: '9.2 deny: a string value in events',
    event: (r) => r.make(pl(ALICE, { ...DEFAULT_PL, events: { 'm.room.name': '50' } })),
    expect: denyBy('9.2'),
  },
  {
    name: '9.2 deny: a string value in notifications',
    event: (r) => r.make(pl(ALICE, { ...DEFAULT_PL, notifications: { room: '50' } })),
    expect: denyBy('9.2'),
  },
  {
    name: '9.3 allow: no users property at all',
    bare: true,
    setup: (r) => r.put(member(ALICE, ALICE, 'join')),
    event: (r) => r.make(pl(ALICE, { ban: 50 })),
    expect: allow,
  },
  {
    name: '9.3 deny: users that is not an object',
    event: (r) => r.make(pl(ALICE, { ...DEFAULT_PL, users: 'x' })),
    expect: denyBy('9.3'),
  },
  {
    name: '9.3 deny: a users key that is not a user ID',
    event: (r) => r.make(pl(ALICE, { ...DEFAULT_PL, users: { [ALICE]: 100, alice: 50 } })),
    expect: denyBy('9.3'),
  },
  {
    name: '9.3 deny: a string users value',
    event: (r) => r.make(pl(ALICE, { ...DEFAULT_PL, users: { [ALICE]: '100' } })),
    expect: denyBy('9.3'),
  },
  {
    name: '9.4 allow: the first power_levels event may set any levels',
    bare: true,
    setup: (r) => r.put(member(ALICE, ALICE, 'join')),
    event: (r) => r.make(pl(ALICE, { users: { [ALICE]: 1000, [BOB]: 1000 }, ban: 1000 })),
    expect: allow,
  },
  {
    name: '9.4 deny (via 7): before any power_levels event only the creator has power 100',
    bare: true,
    setup: (r) => {
      r.put(member(ALICE, ALICE, 'join'));
      r.put(member(BOB, BOB, 'join'));
    },
    event: (r) => r.make(pl(BOB, { users: { [BOB]: 100 } })),
    expect: denyBy('7'),
  },
  {
    name: '9.5.1 allow: changing a named level from at most one’s own level',
    setup: (r) => r.setPowerLevels({ ...DEFAULT_PL, events: { ...(DEFAULT_PL.events as JsonObject), 'm.room.power_levels': 50 } }),
    event: (r) =>
      r.make(pl(MOD, { ...DEFAULT_PL, kick: 40, events: { ...(DEFAULT_PL.events as JsonObject), 'm.room.power_levels': 50 } })),
    expect: allow,
  },
  {
    name: '9.5.1 deny: changing a named level that is above one’s own level',
    setup: (r) =>
      r.setPowerLevels({ ...DEFAULT_PL, ban: 75, events: { ...(DEFAULT_PL.events as JsonObject), 'm.room.power_levels': 50 } }),
    event: (r) =>
      r.make(pl(MOD, { ...DEFAULT_PL, ban: 40, events: { ...(DEFAULT_PL.events as JsonObject), 'm.room.power_levels': 50 } })),
    expect: denyBy('9.5.1'),
  },
  {
    name: '9.5.1 deny: removing a named level that is above one’s own level',
    setup: (r) =>
      r.setPowerLevels({ ...DEFAULT_PL, ban: 75, events: { ...(DEFAULT_PL.events as JsonObject), 'm.room.power_levels': 50 } }),
    event: (r) => {
      const { ban: _ban, ...rest } = DEFAULT_PL;
      return r.make(pl(MOD, { ...rest, events: { ...(DEFAULT_PL.events as JsonObject), 'm.room.power_levels': 50 } }));
    },
    expect: denyBy('9.5.1'),
  },
  {
    name: '9.5.2 deny: raising a named level above one’s own level',
    setup: (r) => r.setPowerLevels({ ...DEFAULT_PL, events: { ...(DEFAULT_PL.events as JsonObject), 'm.room.power_levels': 50 } }),
    event: (r) =>
      r.make(pl(MOD, { ...DEFAULT_PL, kick: 75, events: { ...(DEFAULT_PL.events as JsonObject), 'm.room.power_levels': 50 } })),
    expect: denyBy('9.5.2'),
  },
  {
    name: '9.5.2 allow: adding a named level up to one’s own level',
    setup: (r) => r.setPowerLevels({ ...DEFAULT_PL, events: { 'm.room.power_levels': 50 } }),
    event: (r) => r.make(pl(MOD, { ...DEFAULT_PL, events: { 'm.room.power_levels': 50 }, users: { [ALICE]: 100, [MOD]: 50 } })),
    expect: allow,
  },
  {
    name: '9.6.1 allow: changing an events entry from at most one’s own level',
    setup: (r) => r.setPowerLevels({ ...DEFAULT_PL, events: { 'm.room.power_levels': 50, 'm.room.topic': 50 } }),
    event: (r) => r.make(pl(MOD, { ...DEFAULT_PL, events: { 'm.room.power_levels': 50, 'm.room.topic': 10 } })),
    expect: allow,
  },
  {
    name: '9.6.1 deny: changing an events entry that is above one’s own level',
    setup: (r) => r.setPowerLevels({ ...DEFAULT_PL, events: { 'm.room.power_levels': 50, 'm.room.tombstone': 100 } }),
    event: (r) => r.make(pl(MOD, { ...DEFAULT_PL, events: { 'm.room.power_levels': 50, 'm.room.tombstone': 50 } })),
    expect: denyBy('9.6.1'),
  },
  {
    name: '9.6.1 deny: removing a notifications entry that is above one’s own level',
    setup: (r) => r.setPowerLevels({ ...DEFAULT_PL, events: { 'm.room.power_levels': 50 }, notifications: { room: 100 } }),
    event: (r) => r.make(pl(MOD, { ...DEFAULT_PL, events: { 'm.room.power_levels': 50 }, notifications: {} })),
    expect: denyBy('9.6.1'),
  },
  {
    name: '9.7.1 allow: adding an events entry up to one’s own level',
    setup: (r) => r.setPowerLevels({ ...DEFAULT_PL, events: { 'm.room.power_levels': 50 } }),
    event: (r) => r.make(pl(MOD, { ...DEFAULT_PL, events: { 'm.room.power_levels': 50, 'm.room.topic': 50 } })),
    expect: allow,
  },
  {
    name: '9.7.1 deny: adding an events entry above one’s own level',
    setup: (r) => r.setPowerLevels({ ...DEFAULT_PL, events: { 'm.room.power_levels': 50 } }),
    event: (r) => r.make(pl(MOD, { ...DEFAULT_PL, events: { 'm.room.power_levels': 50, 'm.room.topic': 60 } })),
    expect: denyBy('9.7.1'),
  },
  {
    name: '9.7.1 deny: adding a notifications entry above one’s own level',
    setup: (r) => r.setPowerLevels({ ...DEFAULT_PL, events: { 'm.room.power_levels': 50 } }),
    event: (r) => r.make(pl(MOD, { ...DEFAULT_PL, events: { 'm.room.power_levels': 50 }, notifications: { room: 51 } })),
    expect: denyBy('9.7.1'),
  },
  {
    name: '9.8.1 allow: lowering one’s own entry',
    setup: (r) => r.setPowerLevels({ ...DEFAULT_PL, events: { 'm.room.power_levels': 50 } }),
    event: (r) => r.make(pl(MOD, { ...DEFAULT_PL, events: { 'm.room.power_levels': 50 }, users: { [ALICE]: 100, [MOD]: 20 } })),
    expect: allow,
  },
  {
    name: '9.8.1 allow: demoting a lower-powered user',
    setup: (r) =>
      r.setPowerLevels({ ...DEFAULT_PL, events: { 'm.room.power_levels': 50 }, users: { [ALICE]: 100, [MOD]: 50, [BOB]: 40 } }),
    event: (r) => r.make(pl(MOD, { ...DEFAULT_PL, events: { 'm.room.power_levels': 50 }, users: { [ALICE]: 100, [MOD]: 50 } })),
    expect: allow,
  },
  {
    name: '9.8.1 deny: demoting a user of equal power',
    setup: (r) =>
      r.setPowerLevels({ ...DEFAULT_PL, events: { 'm.room.power_levels': 50 }, users: { [ALICE]: 100, [MOD]: 50, [BOB]: 50 } }),
    event: (r) =>
      r.make(pl(MOD, { ...DEFAULT_PL, events: { 'm.room.power_levels': 50 }, users: { [ALICE]: 100, [MOD]: 50, [BOB]: 0 } })),
    expect: denyBy('9.8.1'),
  },
  {
    name: '9.8.1 deny: removing the entry of a higher-powered user',
    setup: (r) => r.setPowerLevels({ ...DEFAULT_PL, events: { 'm.room.power_levels': 50 } }),
    event: (r) => r.make(pl(MOD, { ...DEFAULT_PL, events: { 'm.room.power_levels': 50 }, users: { [MOD]: 50 } })),
    expect: denyBy('9.8.1'),
  },
  {
    name: '9.9.1 allow: promoting a user to one’s own level',
    setup: (r) => r.setPowerLevels({ ...DEFAULT_PL, events: { 'm.room.power_levels': 50 } }),
    event: (r) =>
      r.make(pl(MOD, { ...DEFAULT_PL, events: { 'm.room.power_levels': 50 }, users: { [ALICE]: 100, [MOD]: 50, [BOB]: 50 } })),
    expect: allow,
  },
  {
    name: '9.9.1 deny: promoting a user above one’s own level',
    setup: (r) => r.setPowerLevels({ ...DEFAULT_PL, events: { 'm.room.power_levels': 50 } }),
    event: (r) =>
      r.make(pl(MOD, { ...DEFAULT_PL, events: { 'm.room.power_levels': 50 }, users: { [ALICE]: 100, [MOD]: 50, [BOB]: 51 } })),
    expect: denyBy('9.9.1'),
  },
  {
    name: '9.9.1 deny: raising one’s own level',
    setup: (r) => r.setPowerLevels({ ...DEFAULT_PL, events: { 'm.room.power_levels': 50 } }),
    event: (r) => r.make(pl(MOD, { ...DEFAULT_PL, events: { 'm.room.power_levels': 50 }, users: { [ALICE]: 100, [MOD]: 60 } })),
    expect: denyBy('9.9.1'),
  },
  {
    name: '9.10 allow: an unchanged power_levels event',
    event: (r) => r.make(pl(ALICE, DEFAULT_PL)),
    expect: allow,
  },
  {
    name: '10 allow: any other event that passed the rules',
    event: (r) => r.make({ type: 'm.room.topic', sender: MOD, state_key: '', content: { topic: 'x' } }),
    expect: allow,
  },
];

function runCase(c: Case, rules: RoomVersionRules): AuthResult {
  const r = c.bare ? bareRoom(rules) : standardRoom(rules, c.joinRule);
  if (c.bare && c.joinRule) r.setJoinRule(c.joinRule);
  c.setup?.(r);
  const ev = c.event(r);
  const ctx = c.ctx ?? CTX;
  if (c.authEvents) return checkAuth(ev, c.authEvents(r, ev), rules, ctx);
  return r.check(ev, ctx);
}

for (const version of ['10', '11', 'I.1'] as const) {
  describe(`authorization rules, room version ${version}`, () => {
    const rules = roomVersion(version);
    const applicable = cases.filter((c) => !c.versions || c.versions.includes(version));
    it.each(applicable.map((c) => [c.name, c] as const))('%s', (_name, c) => {
      const result = runCase(c, rules);
      if (c.expect === 'allow') {
        expect(result).toEqual({ allowed: true });
      } else {
        expect(result).toMatchObject({ allowed: false, rule: c.expect.deny });
        if (!result.allowed) expect(result.reason.length).toBeGreaterThan(0);
      }
    });
  });
}

// ---------------------------------------------------------------- version differences

describe('creator: content.creator in v10 and I.1, the create event’s sender in v11', () => {
  /** A room whose create event is sent by Alice but names Bob in content.creator. */
  function mismatchedCreatorRoom(version: string): Room {
    const r = new Room(roomVersion(version));
    r.create = r.add({ type: 'm.room.create', sender: ALICE, state_key: '', content: { creator: BOB, room_version: version } });
    return r;
  }

  for (const version of ['10', 'I.1']) {
    it(`4.3.1 (v${version}): content.creator gets the first join`, () => {
      const r = mismatchedCreatorRoom(version);
      const prev = [r.create.event_id];
      expect(r.check(r.make({ ...member(BOB, BOB, 'join'), prev_events: prev }))).toEqual({ allowed: true });
      expect(r.check(r.make({ ...member(ALICE, ALICE, 'join'), prev_events: prev }))).toMatchObject({ rule: '4.3.7' });
    });
    it(`power levels (v${version}): content.creator has 100 before any power_levels event`, () => {
      const r = mismatchedCreatorRoom(version);
      r.put(member(BOB, BOB, 'join'));
      r.put(member(ALICE, ALICE, 'join'));
      expect(r.check(r.make(pl(BOB, { users: { [BOB]: 100 } })))).toEqual({ allowed: true });
      expect(r.check(r.make(pl(ALICE, { users: { [ALICE]: 100 } })))).toMatchObject({ rule: '7' });
    });
  }

  it('4.3.1 (v11): the create event’s sender gets the first join; content.creator means nothing', () => {
    const r = mismatchedCreatorRoom('11');
    const prev = [r.create.event_id];
    expect(r.check(r.make({ ...member(ALICE, ALICE, 'join'), prev_events: prev }))).toEqual({ allowed: true });
    expect(r.check(r.make({ ...member(BOB, BOB, 'join'), prev_events: prev }))).toMatchObject({ rule: '4.3.7' });
  });

  it('power levels (v11): the create event’s sender has 100 before any power_levels event', () => {
    const r = mismatchedCreatorRoom('11');
    r.put(member(BOB, BOB, 'join'));
    r.put(member(ALICE, ALICE, 'join'));
    expect(r.check(r.make(pl(ALICE, { users: { [ALICE]: 100 } })))).toEqual({ allowed: true });
    expect(r.check(r.make(pl(BOB, { users: { [BOB]: 100 } })))).toMatchObject({ rule: '7' });
  });

  it('v11: a whole room life cycle works without content.creator', () => {
    const rules = roomVersion('11');
    const r = new Room(rules);
    r.create = r.add({ type: 'm.room.create', sender: ALICE, state_key: '', content: { room_version: '11' } });
    r.add({ ...member(ALICE, ALICE, 'join'), prev_events: [r.create.event_id] });
    r.add(pl(ALICE, DEFAULT_PL));
    r.add({ type: 'm.room.join_rules', sender: ALICE, state_key: '', content: { join_rule: 'public' } });
    r.add(member(BOB, BOB, 'join'));
    r.add(msg(BOB));
    expect(r.check(r.make(member(ALICE, BOB, 'ban')))).toEqual({ allowed: true });
  });

  it('v10: the same room fails at rule 1.4 without content.creator', () => {
    const r = new Room(roomVersion('10'));
    const create = r.make({ type: 'm.room.create', sender: ALICE, state_key: '', content: { room_version: '10' } });
    expect(r.check(create)).toMatchObject({ allowed: false, rule: '1.4' });
  });
});

// ---------------------------------------------------------------- malformed input never throws

describe('malformed content is denied (or defaulted), never thrown', () => {
  const rules = roomVersion('10');
  const weird: unknown[] = [null, 5, 'x', true, [], [1, '2'], {}, { a: 1 }, 1.5, -0, '__proto__'];
  const memberKeys = ['membership', 'third_party_invite', 'join_authorised_via_users_server'];
  const plKeys = ['users', 'users_default', 'events', 'events_default', 'state_default', 'ban', 'kick', 'invite', 'notifications'];

  it('m.room.member with odd field values', () => {
    for (const key of memberKeys) {
      for (const value of weird) {
        const r = standardRoom(rules, 'restricted');
        const ev = r.make(member(BOB, BOB, 'join', { [key]: value as JsonObject }));
        expect(() => r.check(ev)).not.toThrow();
      }
    }
  });

  it('m.room.power_levels with odd field values, in the new and in the current event', () => {
    for (const key of plKeys) {
      for (const value of weird) {
        const r = standardRoom(rules);
        const ev = r.make(pl(ALICE, { ...DEFAULT_PL, [key]: value as JsonObject }));
        const verdict = r.check(ev);
        if (key === 'users' && value !== null && typeof value === 'object' && !Array.isArray(value)) {
          // {} and {a: 1}: the first is fine, the second has a key that is not a user ID.
          expect(verdict.allowed).toBe(Object.keys(value).length === 0);
        }
        // The same values sitting in the current power_levels event: read as defaults.
        r.setPowerLevels({ ...DEFAULT_PL, [key]: value as JsonObject });
        expect(() => r.check(r.make(msg(BOB)))).not.toThrow();
        expect(() => r.check(r.make(member(MOD, BOB, 'ban')))).not.toThrow();
        expect(() => r.check(r.make(pl(ALICE, DEFAULT_PL)))).not.toThrow();
      }
    }
  });

  it('odd join rules, create contents and member contents in state', () => {
    for (const value of weird) {
      const r = standardRoom(rules);
      r.put({ type: 'm.room.join_rules', sender: ALICE, state_key: '', content: { join_rule: value as JsonObject } });
      r.put({ type: 'm.room.member', sender: BOB, state_key: BOB, content: { membership: value as JsonObject } });
      expect(() => r.check(r.make(member(ZED, ZED, 'join')))).not.toThrow();
      expect(() => r.check(r.make(member(BOB, BOB, 'knock')))).not.toThrow();
      const create = r.make({ type: 'm.room.create', sender: ALICE, state_key: '', content: { room_version: value as JsonObject }, prev_events: [] });
      expect(() => r.check(create)).not.toThrow();
    }
  });

  it('events with user-chosen keys that collide with Object.prototype', () => {
    const r = standardRoom(rules);
    r.setPowerLevels({ ...DEFAULT_PL, events: { 'm.room.power_levels': 100 } });
    // `constructor` must not be found on Object.prototype as a required level.
    expect(r.check(r.make({ type: 'constructor', sender: BOB, content: {} }))).toEqual({ allowed: true });
    expect(r.check(r.make({ type: 'toString', sender: MOD, state_key: '', content: {} }))).toEqual({ allowed: true });
  });
});

describe('property: arbitrary content never makes the rules throw', () => {
  const types = ['m.room.member', 'm.room.power_levels', 'm.room.join_rules', 'm.room.third_party_invite', 'm.room.create', 'x.other'];
  const users = [ALICE, MOD, BOB, CAROL, DAVE, ZED];
  const content = fc.dictionary(
    fc.constantFrom('membership', 'users', 'events', 'ban', 'join_rule', 'third_party_invite', 'join_authorised_via_users_server', 'creator', 'm.federate', 'public_keys'),
    fc.jsonValue(),
  );
  const arbEvent = fc.record({
    type: fc.constantFrom(...types),
    sender: fc.constantFrom(...users),
    state_key: fc.option(fc.constantFrom('', ...users), { nil: undefined }),
    content,
  });

  for (const version of ['10', '11']) {
    it(`room version ${version}`, () => {
      fc.assert(
        fc.property(fc.array(arbEvent, { maxLength: 4 }), arbEvent, (stateEvents, candidate) => {
          const r = standardRoom(roomVersion(version), 'restricted');
          for (const s of stateEvents) r.put({ ...s, state_key: s.state_key ?? '', content: s.content as JsonObject });
          const ev = r.make({ ...candidate, content: candidate.content as JsonObject });
          const verdict = r.check(ev);
          expect(typeof verdict.allowed).toBe('boolean');
        }),
        { numRuns: 300 },
      );
    });
  }
});

describe('third-party invite signatures', () => {
  const rules = roomVersion('11');

  it('verifies against the canonical JSON of signed without signatures and unsigned', () => {
    const r = standardRoom(rules);
    addThirdPartyInvite(r);
    const signed = { ...signedFor(ZED), unsigned: { note: 'ignored by the signature' } };
    expect(r.check(r.make(member(ALICE, ZED, 'invite', { third_party_invite: { signed } })))).toEqual({ allowed: true });
  });

  it('rejects a signature that has been tampered with', () => {
    const r = standardRoom(rules);
    addThirdPartyInvite(r);
    const signed = signedFor(ZED);
    const sigs = signed.signatures as Record<string, Record<string, string>>;
    const sig = sigs['id.example']!['ed25519:0']!;
    const flipped = (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1);
    const forged = { ...signed, signatures: { 'id.example': { 'ed25519:0': flipped } } };
    expect(r.check(r.make(member(ALICE, ZED, 'invite', { third_party_invite: { signed: forged } })))).toMatchObject({
      allowed: false,
      rule: '4.4.1.8',
    });
  });

  it('rejects when the invite has no usable public key', () => {
    const r = standardRoom(rules);
    addThirdPartyInvite(r, { public_key: 42, public_keys: 'nope' });
    expect(r.check(r.make(member(ALICE, ZED, 'invite', { third_party_invite: { signed: signedFor(ZED) } })))).toMatchObject({
      rule: '4.4.1.8',
    });
  });

  it('rejects a public key that is not a valid curve point without throwing', () => {
    const r = standardRoom(rules);
    addThirdPartyInvite(r, { public_key: encodeBase64(new Uint8Array(32).fill(0xff)) });
    expect(r.check(r.make(member(ALICE, ZED, 'invite', { third_party_invite: { signed: signedFor(ZED) } })))).toMatchObject({
      rule: '4.4.1.8',
    });
  });
});

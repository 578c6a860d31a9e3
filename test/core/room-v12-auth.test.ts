/**
 * Room version 12 beside version 11: one row per rule that differs (MSC4291
 * room IDs from the create event, MSC4289 privileged creators, and the
 * renumbering their new rules cause), each run under both versions with the
 * verdict — and the deciding rule — each version must give. Also auth events
 * selection, PDU validation, redaction and event IDs of v12 events.
 */
import { describe, expect, it } from 'vitest';
import {
  type AuthContext,
  type AuthResult,
  type StateLookup,
  checkAuth,
  checkAuthAgainstState,
  powerLevelOf,
  selectAuthEvents,
} from '../../src/core/auth/index.ts';
import { v12Rule } from '../../src/core/auth/rules.ts';
import { InvalidPduError } from '../../src/core/errors.ts';
import { computeEventId } from '../../src/core/hashing.ts';
import { roomIdFromCreateEventId } from '../../src/core/ids.ts';
import type { JsonObject } from '../../src/core/json.ts';
import { type RoomEvent, stateKey, validatePdu } from '../../src/core/pdu.ts';
import { redactEvent } from '../../src/core/redaction.ts';
import { roomVersion } from '../../src/core/room-versions/registry.ts';
import type { RoomVersionRules } from '../../src/core/room-versions/types.ts';

const V11 = roomVersion('11');
const V12 = roomVersion('12');

const ALICE = '@alice:a'; // creator
const CAROL = '@carol:c'; // additional creator in v12 rooms that list her
const MOD = '@mod:b'; // power 100 (v11: alice 100 too)
const BOB = '@bob:b'; // power 0
const ZED = '@zed:z'; // never joined

const CTX: AuthContext = { isSignedBy: () => true };
let counter = 0;
const fakeId = (): string => `$${String(++counter).padStart(43, 'E')}`;

interface Spec {
  type: string;
  sender: string;
  state_key?: string;
  content: JsonObject;
  prev_events?: string[];
}

/** A room of either version; v12 room IDs come from the create event's real reference hash. */
class Room {
  readonly state = new Map<string, RoomEvent>();
  readonly byId = new Map<string, RoomEvent>();
  readonly create: RoomEvent;
  readonly roomId: string;
  private last: string[] = [];
  readonly lookup: StateLookup = (type, key) => this.state.get(stateKey(type, key));

  constructor(
    readonly rules: RoomVersionRules,
    createContent: JsonObject = {},
  ) {
    const v12 = rules.auth.roomIdFromCreateEvent;
    const base = {
      type: 'm.room.create',
      sender: ALICE,
      state_key: '',
      content: { room_version: rules.id, ...createContent },
      origin_server_ts: 1,
      depth: 1,
      prev_events: [],
      auth_events: [],
      hashes: { sha256: 'x' },
      signatures: {},
      ...(v12 ? {} : { room_id: '!room:a' }),
    };
    const create = { ...base, event_id: computeEventId(base, rules) } as unknown as RoomEvent;
    this.create = create;
    this.roomId = v12 ? roomIdFromCreateEventId(create.event_id) : '!room:a';
    this.record(create);
  }

  get ctx(): AuthContext {
    return { ...CTX, createEvent: (roomId) => (roomId === this.roomId ? this.create : undefined) };
  }

  private record(ev: RoomEvent): void {
    this.byId.set(ev.event_id, ev);
    if (typeof ev.state_key === 'string') this.state.set(stateKey(ev.type, ev.state_key), ev);
    this.last = [ev.event_id];
  }

  make(spec: Spec, roomId = this.roomId): RoomEvent {
    const ev: RoomEvent = {
      event_id: fakeId(),
      room_id: roomId,
      sender: spec.sender,
      type: spec.type,
      content: spec.content,
      origin_server_ts: 1000 + counter,
      depth: 2,
      prev_events: spec.prev_events ?? this.last,
      auth_events: [],
      hashes: { sha256: 'x' },
      signatures: {},
    };
    if (spec.state_key !== undefined) ev.state_key = spec.state_key;
    ev.auth_events = selectAuthEvents(ev, this.lookup, this.rules).map((e) => e.event_id);
    return ev;
  }

  /** Appends an event that must pass auth. */
  add(spec: Spec): RoomEvent {
    const ev = this.make(spec);
    const verdict = this.check(ev);
    if (!verdict.allowed) throw new Error(`fixture event rejected: ${verdict.rule} ${verdict.reason}`);
    this.record(ev);
    return ev;
  }

  /** Puts an event into state unchecked. */
  put(spec: Spec): RoomEvent {
    const ev = this.make(spec);
    this.record(ev);
    return ev;
  }

  check(ev: RoomEvent, ctx = this.ctx): AuthResult {
    return checkAuthAgainstState(ev, this.lookup, this.rules, ctx);
  }

  authEventsOf(ev: RoomEvent): RoomEvent[] {
    return ev.auth_events.map((id) => this.byId.get(id)!);
  }
}

const member = (sender: string, target: string, membership: string): Spec => ({
  type: 'm.room.member',
  sender,
  state_key: target,
  content: { membership },
});
const pl = (sender: string, content: JsonObject): Spec => ({ type: 'm.room.power_levels', sender, state_key: '', content });
const msg = (sender: string): Spec => ({ type: 'm.room.message', sender, content: { body: 'hi' } });

/** Creator Alice joined, power levels (Mod 100; Alice 100 where she may be listed), public, Mod and Bob joined. */
function standardRoom(rules: RoomVersionRules, createContent: JsonObject = {}, extraUsers: JsonObject = {}): Room {
  const r = new Room(rules, createContent);
  r.add(member(ALICE, ALICE, 'join'));
  r.add(pl(ALICE, { users: usersWith(rules, extraUsers), state_default: 50, events: { 'm.room.name': 50 } }));
  r.add({ type: 'm.room.join_rules', sender: ALICE, state_key: '', content: { join_rule: 'public' } });
  r.add(member(MOD, MOD, 'join'));
  r.add(member(BOB, BOB, 'join'));
  return r;
}

type Expect = 'allow' | string;
interface Row {
  name: string;
  /** Verdict per version: 'allow' or the rule number that denies. */
  v11: Expect;
  v12: Expect;
  run: (rules: RoomVersionRules) => AuthResult;
}

function createEvent(rules: RoomVersionRules, fields: JsonObject): RoomEvent {
  const ev = {
    type: 'm.room.create',
    sender: ALICE,
    state_key: '',
    content: { room_version: rules.id },
    origin_server_ts: 1,
    depth: 1,
    prev_events: [],
    auth_events: [],
    hashes: { sha256: 'x' },
    signatures: {},
    ...fields,
  };
  return { ...ev, event_id: fakeId() } as unknown as RoomEvent;
}

/** Rule 1 on a create event with extra content; v11 ones carry a room_id on the sender's server. */
function checkCreateWith(rules: RoomVersionRules, content: JsonObject, fields: JsonObject = {}): AuthResult {
  const roomId: JsonObject = rules.auth.roomIdFromCreateEvent ? {} : { room_id: '!room:a' };
  return checkAuth(createEvent(rules, { content: { room_version: rules.id, ...content }, ...roomId, ...fields }), [], rules, CTX);
}

/** A power levels `users` map with Mod at 100 and, where she may be listed, Alice at 100. */
function usersWith(rules: RoomVersionRules, extra: JsonObject = {}): JsonObject {
  return { ...(rules.auth.privilegedCreators ? {} : { [ALICE]: 100 }), [MOD]: 100, ...extra };
}

const rows: Row[] = [
  // Rule 1: m.room.create.
  {
    name: '1.2: a create event with a room_id on the sender’s server',
    v11: 'allow',
    v12: '1.2',
    run: (rules) => checkAuth(createEvent(rules, { room_id: '!room:a' }), [], rules, CTX),
  },
  {
    name: '1.2: a create event without a room_id',
    v11: '1.2',
    v12: 'allow',
    run: (rules) => checkAuth(createEvent(rules, {}), [], rules, CTX),
  },
  {
    name: '1.2: a create event whose sender is on another server than the room ID (v12: no domain to compare)',
    v11: '1.2',
    v12: 'allow',
    run: (rules) => checkCreateWith(rules, {}, { sender: BOB }),
  },
  {
    name: '1.4: additional_creators that is not an array (v11: meaningless content)',
    v11: 'allow',
    v12: '1.4',
    run: (rules) => checkCreateWith(rules, { additional_creators: CAROL }),
  },
  {
    name: '1.4: additional_creators with an entry that is not a user ID',
    v11: 'allow',
    v12: '1.4',
    run: (rules) => checkCreateWith(rules, { additional_creators: [CAROL, 'carol'] }),
  },
  {
    name: '1.4: additional_creators listing valid user IDs',
    v11: 'allow',
    v12: 'allow',
    run: (rules) => checkCreateWith(rules, { additional_creators: [CAROL, MOD] }),
  },
  // Rule 2 (v12): the room ID names an accepted create event.
  {
    name: '2: a room ID with a domain (v11: the usual form)',
    v11: 'allow',
    v12: '2',
    run: (rules) => {
      const r = standardRoom(rules);
      const ev = r.make(msg(BOB), '!room:a');
      return checkAuth(ev, r.authEventsOf(ev), rules, r.ctx);
    },
  },
  {
    name: '2: the room ID names a create event nobody has',
    v11: '2.5',
    v12: '2',
    run: (rules) => {
      const r = standardRoom(rules);
      const ev = r.make(msg(BOB), rules.auth.roomIdFromCreateEvent ? `!${'Q'.repeat(43)}` : '!other:a');
      return checkAuth(ev, r.authEventsOf(ev), rules, r.ctx);
    },
  },
  {
    name: '2: the room’s create event was rejected (v11: rule 2.3 on the cited create)',
    v11: '2.3',
    v12: '2',
    run: (rules) => {
      const r = standardRoom(rules);
      const ev = r.make(msg(BOB));
      return checkAuth(ev, r.authEventsOf(ev), rules, { ...r.ctx, rejected: (id) => id === r.create.event_id });
    },
  },
  // Rule 3 (v11: 2): the auth events list.
  {
    name: '3.2: auth_events cites the create event (v11: required)',
    v11: 'allow',
    v12: '3.2',
    run: (rules) => {
      const r = standardRoom(rules);
      const ev = r.make(msg(BOB));
      const auth = [...new Set([r.create, ...r.authEventsOf(ev)])];
      return checkAuth(ev, auth, rules, r.ctx);
    },
  },
  {
    name: '3.4: auth_events without the create event (v11: 2.4; v12 has no such rule)',
    v11: '2.4',
    v12: 'allow',
    run: (rules) => {
      const r = standardRoom(rules);
      const ev = r.make(msg(BOB));
      return checkAuth(ev, r.authEventsOf(ev).filter((e) => e.type !== 'm.room.create'), rules, r.ctx);
    },
  },
  {
    name: '3.1: duplicate auth event entries',
    v11: '2.1',
    v12: '3.1',
    run: (rules) => {
      const r = standardRoom(rules);
      const ev = r.make(msg(BOB));
      const auth = r.authEventsOf(ev);
      const dup = { ...r.lookup('m.room.power_levels', '')!, event_id: fakeId() };
      return checkAuth(ev, [...auth, dup], rules, r.ctx);
    },
  },
  {
    name: '3.5: an auth event from another room',
    v11: '2.5',
    v12: '3.5',
    run: (rules) => {
      const r = standardRoom(rules);
      const ev = r.make(msg(BOB));
      const auth = r.authEventsOf(ev).map((e) => (e.type === 'm.room.member' ? { ...e, room_id: '!elsewhere:a' } : e));
      return checkAuth(ev, auth, rules, r.ctx);
    },
  },
  // Rules 4–9 (v11: 3–8): unchanged but renumbered.
  {
    name: '4: m.federate false and a sender from another server',
    v11: '3',
    v12: '4',
    run: (rules) => {
      const r = new Room(rules, { 'm.federate': false });
      r.add(member(ALICE, ALICE, 'join'));
      return r.check(r.make(member(BOB, BOB, 'join')));
    },
  },
  {
    name: '5.3.1: the creator’s first join',
    v11: 'allow',
    v12: 'allow',
    run: (rules) => {
      const r = new Room(rules);
      return r.check(r.make(member(ALICE, ALICE, 'join')));
    },
  },
  {
    name: '5.3.7: joining an invite-only room uninvited',
    v11: '4.3.7',
    v12: '5.3.7',
    run: (rules) => {
      const r = standardRoom(rules);
      r.add({ type: 'm.room.join_rules', sender: ALICE, state_key: '', content: { join_rule: 'invite' } });
      return r.check(r.make(member(ZED, ZED, 'join')));
    },
  },
  {
    name: '6: a message from a user who is not joined',
    v11: '5',
    v12: '6',
    run: (rules) => {
      const r = standardRoom(rules);
      return r.check(r.make(msg(ZED)));
    },
  },
  {
    name: '8: a state event above the sender’s power',
    v11: '7',
    v12: '8',
    run: (rules) => {
      const r = standardRoom(rules);
      return r.check(r.make({ type: 'm.room.name', sender: BOB, state_key: '', content: { name: 'x' } }));
    },
  },
  {
    name: '9: a state key naming another user',
    v11: '8',
    v12: '9',
    run: (rules) => {
      const r = standardRoom(rules);
      return r.check(r.make({ type: 'm.custom', sender: MOD, state_key: BOB, content: {} }));
    },
  },
  // Creators' power (MSC4289).
  {
    name: '8: the creator needs more than 100 (v12: creators are above any integer)',
    v11: '7',
    v12: 'allow',
    run: (rules) => {
      const r = standardRoom(rules);
      const users: JsonObject = rules.auth.privilegedCreators ? {} : { [ALICE]: 100 };
      r.put(pl(ALICE, { users, events: { 'm.room.name': Number.MAX_SAFE_INTEGER } }));
      return r.check(r.make({ type: 'm.room.name', sender: ALICE, state_key: '', content: { name: 'x' } }));
    },
  },
  {
    name: '5.6.2: a moderator at 100 bans the creator (v11: the creator listed at 50)',
    v11: 'allow',
    v12: '5.6.3',
    run: (rules) => {
      const r = standardRoom(rules);
      if (!rules.auth.privilegedCreators) r.put(pl(MOD, { users: { [MOD]: 100, [ALICE]: 50 } }));
      return r.check(r.make(member(MOD, ALICE, 'ban')));
    },
  },
  {
    name: '5.5.4: an additional creator kicks a user at 100 (v11: additional_creators means nothing)',
    v11: '4.5.5',
    v12: 'allow',
    run: (rules) => {
      const r = standardRoom(rules, { additional_creators: [CAROL] });
      r.add(member(CAROL, CAROL, 'join'));
      return r.check(r.make(member(CAROL, MOD, 'leave')));
    },
  },
  {
    name: '5.5.5: one creator cannot kick another (equal, infinite power)',
    v11: '4.5.5',
    v12: '5.5.5',
    run: (rules) => {
      const r = standardRoom(rules, { additional_creators: [CAROL] });
      r.add(member(CAROL, CAROL, 'join'));
      return r.check(r.make(member(CAROL, ALICE, 'leave')));
    },
  },
  // Rule 10 (v11: 9): power levels.
  {
    name: '10.4: power levels listing the create event’s sender',
    v11: 'allow',
    v12: '10.4',
    run: (rules) => {
      const r = standardRoom(rules);
      return r.check(r.make(pl(ALICE, { users: { [MOD]: 100, [ALICE]: 100 } })));
    },
  },
  {
    name: '10.4: power levels listing an additional creator',
    v11: 'allow',
    v12: '10.4',
    run: (rules) => {
      const r = standardRoom(rules, { additional_creators: [CAROL] });
      return r.check(r.make(pl(ALICE, { users: usersWith(rules, { [CAROL]: 50 }) })));
    },
  },
  {
    name: '10.4: the first power levels event listing a creator (before 10.5 allows it)',
    v11: 'allow',
    v12: '10.4',
    run: (rules) => {
      const r = new Room(rules);
      r.add(member(ALICE, ALICE, 'join'));
      return r.check(r.make(pl(ALICE, { users: { [ALICE]: 100 } })));
    },
  },
  {
    name: '10.3: users with a key that is not a user ID',
    v11: '9.3',
    v12: '10.3',
    run: (rules) => {
      const r = standardRoom(rules);
      return r.check(r.make(pl(MOD, { users: { [MOD]: 100, bob: 1 } })));
    },
  },
  {
    name: '10.6.2: raising a named level above the sender’s power',
    v11: '9.5.2',
    v12: '10.6.2',
    run: (rules) => {
      const r = standardRoom(rules);
      return r.check(r.make(pl(MOD, { users: usersWith(rules), ban: 101 })));
    },
  },
  {
    name: '10.6.2: the creator sets a named level above 100 (v11: above her own power)',
    v11: '9.5.2',
    v12: 'allow',
    run: (rules) => {
      const r = standardRoom(rules);
      return r.check(r.make(pl(ALICE, { users: usersWith(rules), ban: 1_000_000 })));
    },
  },
  {
    name: '10.9.1: demoting a user at the sender’s own level',
    v11: '9.8.1',
    v12: '10.9.1',
    run: (rules) => {
      const r = standardRoom(rules);
      r.add(member(ZED, ZED, 'join'));
      const users = usersWith(rules, { [ZED]: 100 });
      r.put(pl(ALICE, { users }));
      return r.check(r.make(pl(MOD, { users: { ...users, [ZED]: 0 } })));
    },
  },
  {
    name: '10.9: the creator demotes a user at 100 (v11: at her own level)',
    v11: '9.8.1',
    v12: 'allow',
    run: (rules) => {
      const r = standardRoom(rules);
      return r.check(r.make(pl(ALICE, { users: usersWith(rules, { [MOD]: 0 }) })));
    },
  },
];

describe('room version 12 beside 11: every changed rule, both sides', () => {
  for (const [version, rules] of [
    ['11', V11],
    ['12', V12],
  ] as const) {
    it.each(rows.map((row) => [row.name, row] as const))(`v${version}: %s`, (_name, row) => {
      const want = version === '11' ? row.v11 : row.v12;
      const got = row.run(rules);
      if (want === 'allow') expect(got).toEqual({ allowed: true });
      else expect(got.allowed ? 'allow' : got.rule, got.allowed ? '' : got.reason).toBe(want);
    });
  }
});

describe('room version 12: numbering, creators, selection', () => {
  it('renumbers v11 rules: 2.x→3.x, 3→4, 4.x→5.x, …, 9.1–9.3→10.1–10.3, 9.4+→10.5+', () => {
    const table: Array<[string, string]> = [
      ['1.1', '1.1'],
      ['2.1', '3.1'],
      ['2.5', '3.5'],
      ['3', '4'],
      ['4.3.5.2', '5.3.5.2'],
      ['4.4.1.8', '5.4.1.8'],
      ['5', '6'],
      ['6.1', '7.1'],
      ['7', '8'],
      ['8', '9'],
      ['9.3', '10.3'],
      ['9.4', '10.5'],
      ['9.8.1', '10.9.1'],
      ['9.9.1', '10.10.1'],
      ['10.4', '10.4'],
    ];
    for (const [v11, v12] of table) expect(v12Rule(v11), v11).toBe(v12);
  });

  it('auth events selection never picks the create event in v12', () => {
    const r11 = standardRoom(V11);
    const r12 = standardRoom(V12);
    const types = (r: Room, spec: Spec) => selectAuthEvents(r.make(spec), r.lookup, r.rules).map((e) => e.type);
    expect(types(r11, msg(BOB))).toContain('m.room.create');
    expect(types(r12, msg(BOB))).not.toContain('m.room.create');
    expect(types(r12, member(ZED, ZED, 'join'))).toEqual(['m.room.power_levels', 'm.room.join_rules']);
  });

  it('creators have infinite power with or without a power levels event; others as before', () => {
    const create = createEvent(V12, { content: { room_version: '12', additional_creators: [CAROL, 'not-a-user'] } });
    const plEvent = { ...createEvent(V12, {}), type: 'm.room.power_levels', content: { users: { [BOB]: 30 }, users_default: 5 } } as RoomEvent;
    for (const p of [undefined, plEvent]) {
      expect(powerLevelOf(ALICE, p, create, V12)).toBe(Number.POSITIVE_INFINITY);
      expect(powerLevelOf(CAROL, p, create, V12)).toBe(Number.POSITIVE_INFINITY);
    }
    expect(powerLevelOf(BOB, plEvent, create, V12)).toBe(30);
    expect(powerLevelOf(ZED, plEvent, create, V12)).toBe(5);
    expect(powerLevelOf(ZED, undefined, create, V12)).toBe(0);
    expect(powerLevelOf(ALICE, undefined, { ...create, room_id: '!r:a' }, V11)).toBe(100);
    expect(powerLevelOf(CAROL, undefined, create, V11)).toBe(0);
  });

  it('a v12 room runs through its life cycle with the room ID as the only link to the create event', () => {
    const r = standardRoom(V12, { additional_creators: [CAROL] });
    expect(r.roomId).toBe(`!${r.create.event_id.slice(1)}`);
    r.add(member(CAROL, CAROL, 'join'));
    r.add(pl(CAROL, { users: { [MOD]: 50 } }));
    r.add(member(ALICE, BOB, 'ban'));
    expect(r.check(r.make(msg(MOD))).allowed).toBe(true);
    // Checked against state, the state's create event serves when the context has none…
    expect(r.check(r.make(msg(MOD)), CTX)).toMatchObject({ allowed: true });
    // …but given only its auth events and no way to find the create event, rule 2 refuses.
    const ev = r.make(msg(MOD));
    expect(checkAuth(ev, r.authEventsOf(ev), V12, CTX)).toMatchObject({ allowed: false, rule: '2' });
  });
});

describe('room version 12: PDU format, redaction and event IDs', () => {
  const hashRoom = `!${'A'.repeat(43)}`;
  const pdu = (fields: JsonObject): JsonObject => ({
    sender: ALICE,
    type: 'm.room.message',
    content: {},
    origin_server_ts: 1,
    depth: 1,
    prev_events: [],
    auth_events: [],
    hashes: { sha256: 'x' },
    signatures: {},
    ...fields,
  });

  it.each([
    ['a create event without room_id', { type: 'm.room.create', content: {} }, 'ok', 'invalid', 'ok'],
    ['a create event with a room_id (left to auth rule 1.2)', { type: 'm.room.create', room_id: '!r:a' }, 'ok', 'ok', 'ok'],
    ['a message in a hash room ID', { room_id: hashRoom }, 'ok', 'invalid', 'ok'],
    ['a message in a room ID with a domain', { room_id: '!r:a' }, 'invalid', 'ok', 'ok'],
    ['a message without room_id', {}, 'invalid', 'invalid', 'invalid'],
    ['a message in a hash room ID one character short', { room_id: hashRoom.slice(0, 43) }, 'invalid', 'invalid', 'invalid'],
  ] as const)('validatePdu (v12, v11, version unknown): %s', (_n, fields, v12, v11, any) => {
    const outcome = (rules?: RoomVersionRules): string => {
      try {
        validatePdu(pdu(fields), rules ? { rules } : {});
        return 'ok';
      } catch (err) {
        expect(err).toBeInstanceOf(InvalidPduError);
        return 'invalid';
      }
    };
    expect([outcome(V12), outcome(V11), outcome()]).toEqual([v12, v11, any]);
  });

  it('redaction is v11’s: the create event keeps all content (additional_creators too) and has no room_id to keep', () => {
    const create = pdu({
      type: 'm.room.create',
      state_key: '',
      content: { room_version: '12', additional_creators: [CAROL], 'm.federate': true },
      unsigned: { age: 1 },
    });
    const redacted = redactEvent(create, V12);
    expect(redacted).toEqual(redactEvent(create, V11));
    expect(redacted.content).toEqual(create.content);
    expect('room_id' in redacted).toBe(false);
    const message = pdu({ room_id: hashRoom, content: { body: 'x' }, origin: 'a' });
    expect(redactEvent(message, V12)).toEqual(redactEvent(message, V11));
    const power = pdu({ room_id: hashRoom, type: 'm.room.power_levels', state_key: '', content: { invite: 3, users: {}, x: 1 } });
    expect(redactEvent(power, V12).content).toEqual({ invite: 3, users: {} });
  });

  it('the room ID is the create event’s reference hash with ! for $', () => {
    const create = pdu({ type: 'm.room.create', state_key: '', content: { room_version: '12' } });
    const id = computeEventId(create, V12);
    expect(id).toMatch(/^\$[A-Za-z0-9_-]{43}$/);
    expect(roomIdFromCreateEventId(id)).toBe(`!${id.slice(1)}`);
    // Adding a room_id changes the hash: the create event must not carry one.
    expect(computeEventId({ ...create, room_id: `!${id.slice(1)}` }, V12)).not.toBe(id);
  });
});

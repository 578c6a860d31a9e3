/**
 * `--room-version 12` in every command that takes a version: sign-event,
 * event-id, redact, auth-check (the create event from "create_event" or from
 * auth_events) and resolve-state (state resolution v2.1).
 */
import { describe, expect, it } from 'vitest';
import { computeEventId } from '../../src/core/hashing.ts';
import { roomVersion } from '../../src/core/room-versions/registry.ts';
import { hearth } from './helpers.ts';

const V12 = roomVersion('12');
const ALICE = '@alice:a.example';
const BOB = '@bob:b.example';
const SEED = 'YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1';
const SIGN = ['--server-name', 'a.example', '--key-id', 'ed25519:1', '--seed', SEED];

const base = { origin_server_ts: 1, hashes: { sha256: 'x' }, signatures: {} };
const create = {
  ...base,
  type: 'm.room.create',
  sender: ALICE,
  state_key: '',
  content: { room_version: '12', additional_creators: ['@carol:c.example'] },
  depth: 1,
  prev_events: [],
  auth_events: [],
};
const createId = computeEventId(create, V12);
const ROOM = `!${createId.slice(1)}`;
const withId = <T extends object>(ev: T) => ({ ...ev, event_id: computeEventId(ev as never, V12) });
const aliceJoin = withId({
  ...base,
  room_id: ROOM,
  type: 'm.room.member',
  sender: ALICE,
  state_key: ALICE,
  content: { membership: 'join' },
  depth: 2,
  prev_events: [createId],
  auth_events: [],
});
const powerLevels = withId({
  ...base,
  room_id: ROOM,
  type: 'm.room.power_levels',
  sender: ALICE,
  state_key: '',
  content: { users: { [BOB]: 100 } },
  depth: 3,
  prev_events: [aliceJoin.event_id],
  auth_events: [aliceJoin.event_id],
});
/** Alice's next state event: a topic, or new power levels with these users. */
const topic = (users?: Record<string, number>) => ({
  ...base,
  room_id: ROOM,
  type: users === undefined ? 'm.room.topic' : 'm.room.power_levels',
  sender: ALICE,
  state_key: '',
  content: users === undefined ? { topic: 't' } : { users },
  depth: 4,
  prev_events: [powerLevels.event_id],
  auth_events: [powerLevels.event_id, aliceJoin.event_id],
});

// The leave race (as in test/core/state-res-v21.test.ts): v2 keeps Alice's Q, v2.1 Bob's P.
const eid = (name: string) => `$${name.padEnd(43, '_')}`;
function leaveRace(version: '11' | '12') {
  const v12 = version === '12';
  const room = v12 ? `!${eid('CREATE').slice(1)}` : '!room:a.example';
  const mk = (name: string, type: string, sender: string, key: string | undefined, content: object, prev: string[], auth: string[], ts: number) => ({
    event_id: eid(name),
    ...(type === 'm.room.create' && v12 ? {} : { room_id: room }),
    type,
    sender,
    ...(key === undefined ? {} : { state_key: key }),
    content,
    prev_events: prev.map(eid),
    auth_events: [...(v12 || type === 'm.room.create' ? [] : ['CREATE']), ...auth].map(eid),
    depth: ts,
    origin_server_ts: ts,
    hashes: { sha256: 'x' },
    signatures: {},
  });
  const users = v12 ? { [BOB]: 100 } : { [ALICE]: 100, [BOB]: 100 };
  return [
    mk('CREATE', 'm.room.create', ALICE, '', { room_version: version }, [], [], 1),
    mk('AJ', 'm.room.member', ALICE, ALICE, { membership: 'join' }, ['CREATE'], [], 2),
    mk('PL1', 'm.room.power_levels', ALICE, '', { users }, ['AJ'], ['AJ'], 3),
    mk('JR', 'm.room.join_rules', ALICE, '', { join_rule: 'public' }, ['PL1'], ['PL1', 'AJ'], 4),
    mk('BJ', 'm.room.member', BOB, BOB, { membership: 'join' }, ['JR'], ['PL1', 'JR'], 5),
    mk('P', 'm.room.join_rules', BOB, '', { join_rule: 'invite' }, ['BJ'], ['PL1', 'BJ'], 500),
    mk('L', 'm.room.member', BOB, BOB, { membership: 'leave' }, ['P'], ['PL1', 'BJ'], 501),
    mk('Q', 'm.room.join_rules', ALICE, '', { join_rule: 'knock' }, ['L'], ['PL1', 'AJ'], 100),
    mk('MERGE', 'm.room.message', ALICE, undefined, {}, ['L', 'Q'], ['PL1', 'AJ'], 600),
  ];
}

type Verdict = { allowed: boolean; reason: string };

// Concurrent process spawns: under a loaded test run (servers spawned by other files) each takes seconds.
describe.concurrent('hearth CLI: room version 12', { timeout: 120_000 }, () => {
  it('event-id of a create event without room_id is the room ID with $; sign-event keeps it so', async () => {
    const id = await hearth(['event-id', '--room-version', '12'], create);
    expect(id.code).toBe(0);
    expect(id.json()).toEqual({ event_id: createId });
    const signed = await hearth(['sign-event', '--room-version', '12', ...SIGN], create);
    expect(signed.code).toBe(0);
    const out = signed.json() as Record<string, unknown>;
    expect('room_id' in out).toBe(false);
    expect(Object.keys(out.signatures as object)).toEqual(['a.example']);
    // Hashing and signing do not change the reference hash's input beyond hashes/signatures.
    expect((await hearth(['event-id', '--room-version', '12'], out)).json()).toEqual({ event_id: computeEventId(out as never, V12) });
  });

  it('redact keeps v11’s rules: all of the create content, additional_creators included', async () => {
    const r = await hearth(['redact', '--room-version', '12'], { ...create, unsigned: { age: 1 } });
    expect(r.code).toBe(0);
    expect(r.json()).toEqual({ ...create, hashes: { sha256: 'x' } });
  });

  it('auth-check takes the create event from "create_event" or from auth_events', async () => {
    const event = topic({ [BOB]: 50 });
    const viaField = await hearth(['auth-check', '--room-version', '12'], { event, auth_events: [powerLevels, aliceJoin], create_event: create });
    expect(viaField.json()).toEqual({ allowed: true, reason: 'allowed' });
    const viaList = await hearth(['auth-check', '--room-version', '12'], { event, auth_events: [create, powerLevels, aliceJoin] });
    expect(viaList.json()).toEqual({ allowed: true, reason: 'allowed' });
  });

  it('auth-check denies by the v12 rule numbers', async () => {
    const check = async (input: object) => (await hearth(['auth-check', '--room-version', '12'], input)).json() as Verdict;
    // No create event at all: rule 2.
    expect((await check({ event: topic(), auth_events: [powerLevels, aliceJoin] })).reason).toMatch(/^rule 2: /);
    // The event cites the create event: rule 3.2.
    const citing = { ...topic(), auth_events: [createId, powerLevels.event_id, aliceJoin.event_id] };
    expect((await check({ event: citing, auth_events: [create, powerLevels, aliceJoin] })).reason).toMatch(/^rule 3\.2: /);
    // Power levels listing a creator: rule 10.4.
    const listing = await check({ event: topic({ [ALICE]: 100 }), auth_events: [powerLevels, aliceJoin], create_event: create });
    expect(listing).toMatchObject({ allowed: false });
    expect(listing.reason).toMatch(/^rule 10\.4: /);
    // A create event with a room_id: rule 1.2.
    expect((await check({ event: { ...create, room_id: ROOM }, auth_events: [] })).reason).toMatch(/^rule 1\.2: /);
  });

  it('resolve-state resolves with v2.1 in version 12 and v2 in version 11', async () => {
    const v12 = await hearth(['resolve-state', '--room-version', '12'], { events: leaveRace('12'), at: [eid('MERGE')] });
    expect(v12.code).toBe(0);
    const v11 = await hearth(['resolve-state', '--room-version', '11'], { events: leaveRace('11'), at: [eid('MERGE')] });
    const joinRule = (r: typeof v12) => (r.json() as Record<string, Record<string, Record<string, string>>>)[eid('MERGE')]!['m.room.join_rules'];
    expect(joinRule(v12)).toEqual({ '': eid('P') });
    expect(joinRule(v11)).toEqual({ '': eid('Q') });
    const state12 = (v12.json() as Record<string, Record<string, Record<string, string>>>)[eid('MERGE')]!;
    expect(state12['m.room.create']).toEqual({ '': eid('CREATE') });
    expect(state12['m.room.member']).toEqual({ [ALICE]: eid('AJ'), [BOB]: eid('L') });
  });

  it('refuses a v12 message without room_id and names 12 among the versions', async () => {
    const noRoom = await hearth(['auth-check', '--room-version', '12'], { event: { ...topic(), room_id: undefined }, auth_events: [] });
    expect(noRoom.code).toBe(2);
    expect(noRoom.stderr).toMatch(/event\.room_id must be a string/);
    const unknown = await hearth(['event-id', '--room-version', '13'], create);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/supported: 10, 11, 12, I\.1/);
  });
});

import { describe, expect, it } from 'vitest';
import { hearth } from './helpers.ts';

const ALICE = '@alice:a.example';
const BOB = '@bob:b.example';
const ROOM = '!room:a.example';
const id = (name: string) => `$${name.padEnd(43, '_')}`;

interface Spec {
  name: string;
  type: string;
  sender: string;
  state_key?: string;
  content: Record<string, unknown>;
  prev: string[];
  auth: string[];
  depth: number;
  ts?: number;
}
function ev(s: Spec) {
  return {
    event_id: id(s.name),
    room_id: ROOM,
    type: s.type,
    sender: s.sender,
    ...(s.state_key !== undefined ? { state_key: s.state_key } : {}),
    content: s.content,
    prev_events: s.prev.map(id),
    auth_events: s.auth.map(id),
    depth: s.depth,
    origin_server_ts: s.ts ?? s.depth,
    hashes: { sha256: 'x' },
    signatures: {},
  };
}

// create -> alice joins -> power levels -> public join rules -> bob joins, then a fork:
// alice (100) sets the topic to "A" while bob (0) tries to set it to "B" (needs 50: rejected).
const base: Spec[] = [
  { name: 'create', type: 'm.room.create', sender: ALICE, state_key: '', content: { creator: ALICE, room_version: '10' }, prev: [], auth: [], depth: 1 },
  { name: 'ajoin', type: 'm.room.member', sender: ALICE, state_key: ALICE, content: { membership: 'join' }, prev: ['create'], auth: ['create'], depth: 2 },
  { name: 'pl', type: 'm.room.power_levels', sender: ALICE, state_key: '', content: { users: { [ALICE]: 100 }, state_default: 50, events_default: 0 }, prev: ['ajoin'], auth: ['create', 'ajoin'], depth: 3 },
  { name: 'jr', type: 'm.room.join_rules', sender: ALICE, state_key: '', content: { join_rule: 'public' }, prev: ['pl'], auth: ['create', 'ajoin', 'pl'], depth: 4 },
  { name: 'bjoin', type: 'm.room.member', sender: BOB, state_key: BOB, content: { membership: 'join' }, prev: ['jr'], auth: ['create', 'pl', 'jr'], depth: 5 },
  { name: 'topicA', type: 'm.room.topic', sender: ALICE, state_key: '', content: { topic: 'A' }, prev: ['bjoin'], auth: ['create', 'ajoin', 'pl'], depth: 6 },
  { name: 'topicB', type: 'm.room.topic', sender: BOB, state_key: '', content: { topic: 'B' }, prev: ['bjoin'], auth: ['create', 'bjoin', 'pl'], depth: 6 },
  { name: 'msg', type: 'm.room.message', sender: BOB, content: { body: 'hi' }, prev: ['topicA', 'topicB'], auth: ['create', 'bjoin', 'pl'], depth: 7 },
];
const events = base.map(ev);

// Concurrent process spawns: under a loaded test run (servers spawned by other files) each takes seconds.
describe.concurrent('hearth auth-check and resolve-state', { timeout: 120_000 }, () => {
  it('auth-check allows and denies with the rule that decided', async () => {
    const byName = new Map(base.map((s, i) => [s.name, events[i]!]));
    const allowed = await hearth(['auth-check', '--room-version', '10'], {
      event: byName.get('topicA'),
      auth_events: ['create', 'ajoin', 'pl'].map((n) => byName.get(n)),
    });
    expect(allowed.code).toBe(0);
    expect(allowed.json()).toEqual({ allowed: true, reason: 'allowed' });
    const denied = (await hearth(['auth-check', '--room-version', '10'], {
      event: byName.get('topicB'),
      auth_events: ['create', 'bjoin', 'pl'].map((n) => byName.get(n)),
    })).json() as { allowed: boolean; reason: string };
    expect(denied.allowed).toBe(false);
    expect(denied.reason).toMatch(/^rule 7/);
    const noCreate = (await hearth(['auth-check', '--room-version', '11'], {
      event: byName.get('topicA'),
      auth_events: [byName.get('ajoin')],
    })).json() as { allowed: boolean; reason: string };
    expect(noCreate).toMatchObject({ allowed: false });
    expect(noCreate.reason).toMatch(/^rule 2/);
  });

  it('resolve-state gives the state before each named event over the whole DAG', async () => {
    const r = await hearth(['resolve-state', '--room-version', '10'], { events, at: [id('topicA'), id('msg')] });
    expect(r.code).toBe(0);
    const out = r.json() as Record<string, Record<string, Record<string, string>>>;
    expect(out[id('topicA')]!['m.room.topic']).toBeUndefined();
    expect(out[id('topicA')]!['m.room.member']).toEqual({ [ALICE]: id('ajoin'), [BOB]: id('bjoin') });
    // bob's topic was rejected (rule 7): only alice's topic enters the state before msg.
    expect(out[id('msg')]!['m.room.topic']).toEqual({ '': id('topicA') });
    expect(out[id('msg')]!['m.room.create']).toEqual({ '': id('create') });
  });

  it('resolve-state does not depend on the order of the events given', async () => {
    const shuffled = [...events].reverse();
    const a = await hearth(['resolve-state', '--room-version', '11'], { events, at: [id('msg')] });
    const b = await hearth(['resolve-state', '--room-version', '11'], { events: shuffled, at: [id('msg')] });
    expect(a.json()).toEqual(b.json());
  });

  const refusals: [string, string[], unknown, RegExp][] = [
    ['auth-check without auth_events', ['auth-check', '--room-version', '10'], { event: events[1] }, /auth_events must be an array/],
    ['auth-check with a non-object event', ['auth-check', '--room-version', '10'], { event: 7, auth_events: [] }, /event must be a JSON object/],
    ['auth-check with a numeric sender', ['auth-check', '--room-version', '10'], { event: { ...events[1], sender: 5 }, auth_events: [] }, /event.sender must be a string/],
    ['resolve-state naming an unknown event', ['resolve-state', '--room-version', '10'], { events, at: ['$nope'] }, /not among the events/],
    ['resolve-state with an event lacking event_id', ['resolve-state', '--room-version', '10'], { events: [{ ...events[0], event_id: undefined }], at: [] }, /needs an explicit event_id/],
    ['resolve-state with duplicate events', ['resolve-state', '--room-version', '10'], { events: [events[0], events[0]], at: [] }, /given twice/],
    ['resolve-state with bad prev_events', ['resolve-state', '--room-version', '10'], { events: [{ ...events[0], prev_events: 'x' }], at: [] }, /prev_events must be an array/],
  ];
  for (const [name, args, input, why] of refusals) {
    it(`exits 2 on ${name}`, async () => {
      const r = await hearth(args, input);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(why);
    });
  }
});

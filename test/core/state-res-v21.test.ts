/**
 * State resolution v2.1 (room version 12, MSC4297) beside v2: the conflicted
 * state subgraph, the iterative auth checks starting from an empty state,
 * creators' infinite power in the power ordering, and a resolution whose
 * answer differs between v2 and v2.1.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AuthContext } from '../../src/core/auth/index.ts';
import type { JsonObject } from '../../src/core/json.ts';
import { type RoomEvent, type StateKey, stateKey } from '../../src/core/pdu.ts';
import { roomVersion } from '../../src/core/room-versions/registry.ts';
import type { RoomVersionRules } from '../../src/core/room-versions/types.ts';
import {
  type EventSource,
  computeDagStates,
  conflictedStateSubgraph,
  resolveState,
  senderPowerLevel,
} from '../../src/core/state-res/index.ts';

const V11 = roomVersion('11');
const V12 = roomVersion('12');
/** The same room versions with the other state resolution algorithm, to show where the two differ. */
const V12_WITH_V2: RoomVersionRules = { ...V12, stateResolution: 'v2' };
const V11_WITH_V21: RoomVersionRules = { ...V11, stateResolution: 'v2.1' };
const ctx: AuthContext = { isSignedBy: () => true };

const ALICE = '@alice:a';
const BOB = '@bob:b';
const eid = (name: string): string => `$${name.padEnd(43, '_').slice(0, 43)}`;

interface Spec {
  name: string;
  type: string;
  sender: string;
  key?: string;
  content: JsonObject;
  prev: string[];
  /** Auth events other than the create event (added for versions that cite it). */
  auth: string[];
  ts: number;
}

/** Builds a DAG for a room version: v12 events name the room by the create event and never cite it. */
function build(specs: readonly Spec[], rules: RoomVersionRules): { events: RoomEvent[]; byName: Map<string, RoomEvent> } {
  const v12 = rules.auth.roomIdFromCreateEvent;
  const roomId = v12 ? `!${eid('CREATE').slice(1)}` : '!room:a';
  const byName = new Map<string, RoomEvent>();
  const events = specs.map((s, i) => {
    const isCreate = s.type === 'm.room.create';
    const ev = {
      event_id: eid(s.name),
      ...(isCreate && v12 ? {} : { room_id: roomId }),
      type: s.type,
      sender: s.sender,
      ...(s.key !== undefined ? { state_key: s.key } : {}),
      content: isCreate ? { room_version: rules.id } : s.content,
      prev_events: s.prev.map(eid),
      auth_events: [...(isCreate || v12 ? [] : ['CREATE']), ...s.auth].map(eid),
      depth: i + 1,
      origin_server_ts: s.ts,
      hashes: { sha256: 'x' },
      signatures: {},
    } as unknown as RoomEvent;
    byName.set(s.name, ev);
    return ev;
  });
  return { events, byName };
}

const sourceOf = (events: readonly RoomEvent[]): EventSource => {
  const m = new Map(events.map((e) => [e.event_id, e]));
  return { get: (id) => m.get(id) };
};

/** The users map of power levels: v12 creators may not be listed. */
const users = (rules: RoomVersionRules, extra: JsonObject): JsonObject =>
  rules.auth.privilegedCreators ? extra : { [ALICE]: 100, ...extra };

/** Alice creates a public room, with Bob at 100 (events CREATE, AJ, PL1, JR, BJ). */
function prelude(rules: RoomVersionRules): Spec[] {
  return [
    { name: 'CREATE', type: 'm.room.create', sender: ALICE, key: '', content: {}, prev: [], auth: [], ts: 1 },
    { name: 'AJ', type: 'm.room.member', sender: ALICE, key: ALICE, content: { membership: 'join' }, prev: ['CREATE'], auth: [], ts: 2 },
    { name: 'PL1', type: 'm.room.power_levels', sender: ALICE, key: '', content: { users: users(rules, { [BOB]: 100 }) }, prev: ['AJ'], auth: ['AJ'], ts: 3 },
    { name: 'JR', type: 'm.room.join_rules', sender: ALICE, key: '', content: { join_rule: 'public' }, prev: ['PL1'], auth: ['PL1', 'AJ'], ts: 4 },
    { name: 'BJ', type: 'm.room.member', sender: BOB, key: BOB, content: { membership: 'join' }, prev: ['JR'], auth: ['PL1', 'JR'], ts: 5 },
  ];
}

/**
 * Bob (100) switches the join rule to invite (P) and then leaves; after his
 * leave, Alice switches it to knock (Q, timestamped earlier). Both states
 * hold Bob's leave, so it is unconflicted. v2 re-checks P against the
 * unconflicted state, where Bob has left: P fails and Q stays. v2.1 starts
 * from an empty state, so P is checked against its own auth events, where
 * Bob is joined: Q is applied, then P on top of it.
 */
function leaveRace(rules: RoomVersionRules) {
  return build(
    [
      ...prelude(rules),
      { name: 'P', type: 'm.room.join_rules', sender: BOB, key: '', content: { join_rule: 'invite' }, prev: ['BJ'], auth: ['PL1', 'BJ'], ts: 500 },
      { name: 'L', type: 'm.room.member', sender: BOB, key: BOB, content: { membership: 'leave' }, prev: ['P'], auth: ['PL1', 'BJ'], ts: 501 },
      { name: 'Q', type: 'm.room.join_rules', sender: ALICE, key: '', content: { join_rule: 'knock' }, prev: ['L'], auth: ['PL1', 'AJ'], ts: 100 },
      { name: 'MERGE', type: 'm.room.message', sender: ALICE, content: {}, prev: ['L', 'Q'], auth: ['PL1', 'AJ'], ts: 600 },
    ],
    rules,
  );
}

/**
 * Bob (100) raises the power levels (PL2, citing his join BJ) and then
 * updates his member event (BN, citing PL2 and BJ): PL2 lies on the auth path
 * BN → PL2 → BJ between two conflicted events, so it is in the conflicted
 * state subgraph though both states hold it. Topics TA (under PL1) and TB
 * (under PL2) conflict; on the mainline of PL2, TA sorts first, so TB wins.
 */
function subgraphRoom(rules: RoomVersionRules) {
  return build(
    [
      ...prelude(rules),
      { name: 'TA', type: 'm.room.topic', sender: BOB, key: '', content: { topic: 'A' }, prev: ['BJ'], auth: ['PL1', 'BJ'], ts: 360 },
      { name: 'PL2', type: 'm.room.power_levels', sender: BOB, key: '', content: { users: users(rules, { [BOB]: 100 }), state_default: 40 }, prev: ['TA'], auth: ['PL1', 'BJ'], ts: 300 },
      { name: 'TB', type: 'm.room.topic', sender: BOB, key: '', content: { topic: 'B' }, prev: ['PL2'], auth: ['PL2', 'BJ'], ts: 350 },
      { name: 'BN', type: 'm.room.member', sender: BOB, key: BOB, content: { membership: 'join', displayname: 'Bob' }, prev: ['TB'], auth: ['PL2', 'BJ', 'JR'], ts: 400 },
    ],
    rules,
  );
}

/** State A: PL2 and TA with Bob's first join; state B: PL2, TB and Bob's second member event. */
function subgraphStates(rules: RoomVersionRules): { a: Map<StateKey, string>; b: Map<StateKey, string>; source: EventSource } {
  const { events } = subgraphRoom(rules);
  const common: Array<[string, string, string]> = [
    ['m.room.create', '', 'CREATE'],
    [`m.room.member`, ALICE, 'AJ'],
    ['m.room.power_levels', '', 'PL2'],
    ['m.room.join_rules', '', 'JR'],
  ];
  const map = (entries: Array<[string, string, string]>) => new Map(entries.map(([t, k, n]) => [stateKey(t, k), eid(n)]));
  return {
    a: map([...common, ['m.room.member', BOB, 'BJ'], ['m.room.topic', '', 'TA']]),
    b: map([...common, ['m.room.member', BOB, 'BN'], ['m.room.topic', '', 'TB']]),
    source: sourceOf(events),
  };
}

const joinRuleAt = (rules: RoomVersionRules, events: RoomEvent[], at: string): string | undefined =>
  computeDagStates(events, rules, ctx).stateBefore(eid(at)).get(stateKey('m.room.join_rules', ''));

describe('state resolution v2.1 against v2: a state event each resolves differently', () => {
  it.each([
    ['v11 room, v2 (room version 11)', V11, 'Q'],
    ['v11 room, v2.1', V11_WITH_V21, 'P'],
    ['v12 room, v2', V12_WITH_V2, 'Q'],
    ['v12 room, v2.1 (room version 12)', V12, 'P'],
  ] as const)('leave race, %s: the join rule at the merge is %s', (_name, rules, want) => {
    const { events } = leaveRace(rules);
    expect(joinRuleAt(rules, events, 'MERGE')).toBe(eid(want));
  });

  it('the leave race through resolveState directly, both orders of the state sets', () => {
    for (const [rules, want] of [
      [V12, 'P'],
      [V12_WITH_V2, 'Q'],
    ] as const) {
      const { events } = leaveRace(rules);
      const dag = computeDagStates(events, rules, ctx);
      const a = dag.stateAfter(eid('L'));
      const b = dag.stateAfter(eid('Q'));
      for (const sets of [
        [a, b],
        [b, a],
      ]) {
        const out = resolveState(sets, sourceOf(events), rules, ctx);
        expect(out.get(stateKey('m.room.join_rules', ''))).toBe(eid(want));
        expect(out.get(stateKey('m.room.member', BOB))).toBe(eid('L'));
      }
    }
  });
});

describe('conflicted state subgraph', () => {
  // A small auth DAG: a chain A ← B ← C ← D, a side branch X ← Y, with auth
  // edges pointing at older events (D cites C, etc.).
  const dag = (edges: Record<string, string[]>): EventSource => {
    const events = Object.entries(edges).map(
      ([name, auth], i) => ({ event_id: eid(name), auth_events: auth.map(eid), depth: i, prev_events: [] }) as unknown as RoomEvent,
    );
    return sourceOf(events);
  };
  const chain = { A: [], B: ['A'], C: ['B'], D: ['C'], X: ['A'], Y: ['X', 'C'] };
  const names = (s: Set<string>) => [...s].map((id) => id.slice(1).replace(/_+$/, '')).sort();

  it.each([
    ['two ends of a chain: everything between', ['D', 'A'], ['A', 'B', 'C', 'D']],
    ['adjacent events', ['C', 'B'], ['B', 'C']],
    ['one event alone: itself', ['C'], ['C']],
    ['unrelated events: only themselves', ['D', 'X'], ['D', 'X']],
    ['two paths from Y to A', ['Y', 'A'], ['A', 'B', 'C', 'X', 'Y']],
    ['a path that ends above the bottom', ['Y', 'B'], ['B', 'C', 'Y']],
    ['three events on one chain', ['D', 'B', 'A'], ['A', 'B', 'C', 'D']],
    ['an unknown conflicted event is left out', ['D', 'Z'], ['D']],
  ])('%s', (_name, conflicted, want) => {
    expect(names(conflictedStateSubgraph(new Set(conflicted.map(eid)), dag(chain)))).toEqual(want);
  });

  it('a cycle in hand-made input terminates', () => {
    const cyclic = dag({ A: ['C'], B: ['A'], C: ['B'] });
    expect(names(conflictedStateSubgraph(new Set([eid('A'), eid('B')]), cyclic))).toEqual(['A', 'B', 'C']);
  });

  it('is independent of the order the conflicted events come in (property)', () => {
    const source = dag(chain);
    fc.assert(
      fc.property(fc.shuffledSubarray(Object.keys(chain), { minLength: 1 }), (picked) => {
        const forward = names(conflictedStateSubgraph(new Set(picked.map(eid)), source));
        const backward = names(conflictedStateSubgraph(new Set([...picked].reverse().map(eid)), source));
        expect(backward).toEqual(forward);
      }),
      { seed: 12, numRuns: 100 },
    );
  });

  it('puts an unconflicted power levels event between conflicted ones back into play (v12 room; without the subgraph TA would win)', () => {
    const { a, b, source } = subgraphStates(V12);
    const sub = conflictedStateSubgraph(new Set([eid('BJ'), eid('BN'), eid('TA'), eid('TB')]), source);
    expect(names(sub)).toEqual(['BJ', 'BN', 'PL2', 'TA', 'TB']);
    for (const sets of [
      [a, b],
      [b, a],
    ]) {
      const out = resolveState(sets, source, V12, ctx);
      expect(out.get(stateKey('m.room.topic', ''))).toBe(eid('TB'));
      expect(out.get(stateKey('m.room.power_levels', ''))).toBe(eid('PL2'));
      expect(out.get(stateKey('m.room.member', BOB))).toBe(eid('BN'));
    }
  });
});

describe('state resolution v2.1: creators in the power ordering', () => {
  it('a creator’s events have infinite power from the room ID’s create event; a v11 creator has 100', () => {
    const v12 = leaveRace(V12);
    const source12 = sourceOf(v12.events);
    expect(senderPowerLevel(v12.byName.get('Q')!, source12, V12)).toBe(Number.POSITIVE_INFINITY);
    expect(senderPowerLevel(v12.byName.get('P')!, source12, V12)).toBe(100);
    const v11 = leaveRace(V11);
    expect(senderPowerLevel(v11.byName.get('Q')!, sourceOf(v11.events), V11)).toBe(100);
  });
});

describe('state resolution v2.1: properties on v12 DAGs', () => {
  it('the state at every event does not depend on the order the events are given in', () => {
    for (const build of [leaveRace, subgraphRoom]) {
      const { events } = build(V12);
      const reference = computeDagStates(events, V12, ctx);
      fc.assert(
        fc.property(fc.shuffledSubarray(events, { minLength: events.length, maxLength: events.length }), (shuffled) => {
          const dag = computeDagStates(shuffled, V12, ctx);
          for (const ev of events) expect(dag.stateBefore(ev.event_id)).toEqual(reference.stateBefore(ev.event_id));
          expect([...dag.rejected].sort()).toEqual([...reference.rejected].sort());
        }),
        { seed: 121, numRuns: 30 },
      );
    }
  });

  it('every event of the v12 DAGs is accepted: the create event is found by the room ID alone', () => {
    for (const build of [leaveRace, subgraphRoom]) {
      const { events } = build(V12);
      expect(computeDagStates(events, V12, ctx).rejected).toEqual(new Set());
    }
  });
});

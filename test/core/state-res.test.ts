import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkAuth, selectAuthEvents } from '../../src/core/auth/index.ts';
import type { AuthContext } from '../../src/core/auth/index.ts';
import type { JsonObject } from '../../src/core/json.ts';
import { type RoomEvent, type StateKey, stateKey } from '../../src/core/pdu.ts';
import { roomVersion } from '../../src/core/room-versions/registry.ts';
import type { RoomVersionRules } from '../../src/core/room-versions/types.ts';
import {
  type EventSource,
  authChainOf,
  authDifference,
  computeDagStates,
  isPowerEvent,
  iterativeAuthChecks,
  mainlineOf,
  mainlineSort,
  resolveStateV2,
  reverseTopologicalPowerSort,
  separateState,
} from '../../src/core/state-res/index.ts';

const V10 = roomVersion('10');
const V11 = roomVersion('11');
const ctx: AuthContext = { isSignedBy: () => true };

const ALICE = '@alice:example.com';
const BOB = '@bob:example.com';
const CHARLIE = '@charlie:example.com';
const EVELYN = '@evelyn:example.com';
const ZARA = '@zara:example.com';
const ROOM = '!test:example.com';

/** A synthetic but well-formed event ID: `$` + 43 URL-safe characters derived from a readable name. */
const eid = (name: string): string => `$${name.padEnd(43, '_').slice(0, 43)}`;

// ---------------------------------------------------------------------------
// Fixture builder: named events wired by prev edges, auth events chosen by
// auth events selection from the state before each event (as a server would).
// ---------------------------------------------------------------------------

interface Spec {
  id: string;
  sender: string;
  type: string;
  stateKey?: string;
  content: JsonObject;
}

const join = { membership: 'join' };
const INITIAL: Spec[] = [
  { id: 'CREATE', sender: ALICE, type: 'm.room.create', stateKey: '', content: { creator: ALICE } },
  { id: 'IMA', sender: ALICE, type: 'm.room.member', stateKey: ALICE, content: join },
  { id: 'IPOWER', sender: ALICE, type: 'm.room.power_levels', stateKey: '', content: { users: { [ALICE]: 100 } } },
  { id: 'IJR', sender: ALICE, type: 'm.room.join_rules', stateKey: '', content: { join_rule: 'public' } },
  { id: 'IMB', sender: BOB, type: 'm.room.member', stateKey: BOB, content: join },
  { id: 'IMC', sender: CHARLIE, type: 'm.room.member', stateKey: CHARLIE, content: join },
  { id: 'IMZ', sender: ZARA, type: 'm.room.member', stateKey: ZARA, content: join },
  { id: 'START', sender: ZARA, type: 'm.room.message', content: {} },
  { id: 'END', sender: ZARA, type: 'm.room.message', content: {} },
];
const INITIAL_EDGES = ['START', 'IMZ', 'IMC', 'IMB', 'IJR', 'IPOWER', 'IMA', 'CREATE'];

function makeEvent(spec: Spec, prev: string[], auth: string[], ts: number, depth: number): RoomEvent {
  const ev: RoomEvent = {
    event_id: eid(spec.id),
    room_id: ROOM,
    sender: spec.sender,
    type: spec.type,
    content: spec.content,
    origin_server_ts: ts,
    depth,
    prev_events: prev,
    auth_events: auth,
    hashes: { sha256: 'x' },
    signatures: {},
  };
  if (spec.stateKey !== undefined) ev.state_key = spec.stateKey;
  return ev;
}

interface Built {
  events: RoomEvent[];
  byName: Map<string, RoomEvent>;
  source: EventSource;
  /** State after each named event, computed with resolveStateV2 at merges (no rejection, like Synapse's harness). */
  after: Map<string, Map<StateKey, string>>;
}

/**
 * Builds the graph: `edges` are chains [A, B, C] meaning A's prev is B, B's prev is C.
 * Nodes are processed in topological order choosing the smallest name first,
 * and origin_server_ts increases by one per event in that order.
 */
function buildGraph(extra: Spec[], edges: string[][], rules: RoomVersionRules = V10): Built {
  const specs = new Map<string, Spec>();
  for (const s of [...INITIAL, ...extra]) specs.set(s.id, s);
  const prevs = new Map<string, Set<string>>([...specs.keys()].map((k) => [k, new Set<string>()]));
  for (const chain of [INITIAL_EDGES, ...edges]) {
    for (let i = 0; i + 1 < chain.length; i++) prevs.get(chain[i]!)!.add(chain[i + 1]!);
  }
  const byName = new Map<string, RoomEvent>();
  const byId = new Map<string, RoomEvent>();
  const source: EventSource = { get: (id) => byId.get(id) };
  const after = new Map<string, Map<StateKey, string>>();
  const done = new Set<string>();
  let ts = 0;
  while (done.size < specs.size) {
    const ready = [...specs.keys()].filter((k) => !done.has(k) && [...prevs.get(k)!].every((p) => done.has(p))).sort();
    const name = ready[0];
    if (name === undefined) throw new Error('cycle in test graph');
    const spec = specs.get(name)!;
    const prevNames = [...prevs.get(name)!].sort();
    const prevStates = prevNames.map((p) => after.get(p)!);
    const before =
      prevStates.length === 0
        ? new Map<StateKey, string>()
        : prevStates.length === 1
          ? new Map(prevStates[0])
          : resolveStateV2(prevStates, source, rules, ctx);
    const lookup = (type: string, key: string) => {
      const id = before.get(stateKey(type, key));
      return id === undefined ? undefined : byId.get(id);
    };
    const auth = selectAuthEvents({ ...spec, state_key: spec.stateKey }, lookup, rules).map((e) => e.event_id);
    const depth = Math.max(0, ...prevNames.map((p) => byName.get(p)!.depth)) + 1;
    const ev = makeEvent(spec, prevNames.map(eid), auth, ts++, depth);
    byName.set(name, ev);
    byId.set(ev.event_id, ev);
    const stateAfter = new Map(before);
    if (spec.stateKey !== undefined) stateAfter.set(stateKey(spec.type, spec.stateKey), ev.event_id);
    after.set(name, stateAfter);
    done.add(name);
  }
  return { events: [...byName.values()], byName, source, after };
}

/** The END state restricted to keys that changed since START plus the expected keys, as names. */
function endState(built: Built, expected: string[], state = built.after.get('END')!): Map<StateKey, string> {
  const start = built.after.get('START')!;
  const keys = new Set(expected.map((n) => keyOf(built.byName.get(n)!)));
  const out = new Map<StateKey, string>();
  for (const [k, v] of state) if (keys.has(k) || start.get(k) !== v) out.set(k, nameOf(v));
  return out;
}
const keyOf = (ev: RoomEvent): StateKey => stateKey(ev.type, ev.state_key!);
const nameOf = (id: string): string => id.slice(1).replace(/_+$/, '');

function expectEnd(extra: Spec[], edges: string[][], expected: string[]): Built {
  const built = buildGraph(extra, edges);
  const want = new Map(expected.map((n) => [keyOf(built.byName.get(n)!), n]));
  expect(endState(built, expected)).toEqual(want);
  // The DAG engine (with real rejection) agrees wherever the harness did not need to reject.
  const dag = computeDagStates(built.events, V10, ctx);
  expect(endState(built, expected, dag.stateBefore(eid('END')))).toEqual(want);
  return built;
}

// ---------------------------------------------------------------------------
// Scenarios (after the classic state resolution v2 cases)
// ---------------------------------------------------------------------------

describe('state resolution v2 — scenarios', () => {
  it('ban vs power levels: a ban by the admin beats a PL change racing it', () => {
    expectEnd(
      [
        { id: 'PA', sender: ALICE, type: 'm.room.power_levels', stateKey: '', content: { users: { [ALICE]: 100, [BOB]: 50 } } },
        { id: 'MA', sender: ALICE, type: 'm.room.member', stateKey: ALICE, content: join },
        { id: 'MB', sender: ALICE, type: 'm.room.member', stateKey: BOB, content: { membership: 'ban' } },
        { id: 'PB', sender: BOB, type: 'm.room.power_levels', stateKey: '', content: { users: { [ALICE]: 100, [BOB]: 50 } } },
      ],
      [
        ['END', 'MB', 'MA', 'PA', 'START'],
        ['END', 'PB', 'PA'],
      ],
      ['PA', 'MA', 'MB'],
    );
  });

  it('join rule evasion: a join racing a switch to invite-only loses', () => {
    expectEnd(
      [
        { id: 'JR', sender: ALICE, type: 'm.room.join_rules', stateKey: '', content: { join_rule: 'invite' } },
        { id: 'ME', sender: EVELYN, type: 'm.room.member', stateKey: EVELYN, content: join },
      ],
      [
        ['END', 'JR', 'START'],
        ['END', 'ME', 'START'],
      ],
      ['JR'],
    );
  });

  it('offtopic power levels: a chain of PL changes wins over its own ancestor', () => {
    expectEnd(
      [
        { id: 'PA', sender: ALICE, type: 'm.room.power_levels', stateKey: '', content: { users: { [ALICE]: 100, [BOB]: 50 } } },
        {
          id: 'PB',
          sender: BOB,
          type: 'm.room.power_levels',
          stateKey: '',
          content: { users: { [ALICE]: 100, [BOB]: 50, [CHARLIE]: 50 } },
        },
        {
          id: 'PC',
          sender: CHARLIE,
          type: 'm.room.power_levels',
          stateKey: '',
          content: { users: { [ALICE]: 100, [BOB]: 50, [CHARLIE]: 0 } },
        },
      ],
      [
        ['END', 'PC', 'PB', 'PA', 'START'],
        ['END', 'PA'],
      ],
      ['PC'],
    );
  });

  const topicEvents: Spec[] = [
    { id: 'T1', sender: ALICE, type: 'm.room.topic', stateKey: '', content: {} },
    { id: 'PA1', sender: ALICE, type: 'm.room.power_levels', stateKey: '', content: { users: { [ALICE]: 100, [BOB]: 50 } } },
    { id: 'T2', sender: ALICE, type: 'm.room.topic', stateKey: '', content: {} },
    { id: 'PA2', sender: ALICE, type: 'm.room.power_levels', stateKey: '', content: { users: { [ALICE]: 100, [BOB]: 0 } } },
    { id: 'PB', sender: BOB, type: 'm.room.power_levels', stateKey: '', content: { users: { [ALICE]: 100, [BOB]: 50 } } },
    { id: 'T3', sender: BOB, type: 'm.room.topic', stateKey: '', content: {} },
  ];

  it('topic basic: a topic set under a PL that lost is dropped for the mainline one', () => {
    expectEnd(
      topicEvents,
      [
        ['END', 'PA2', 'T2', 'PA1', 'T1', 'START'],
        ['END', 'T3', 'PB', 'PA1'],
      ],
      ['PA2', 'T2'],
    );
  });

  it('topic reset: a banned user’s topic is undone, the earlier topic comes back', () => {
    expectEnd(
      [
        { id: 'T1', sender: ALICE, type: 'm.room.topic', stateKey: '', content: {} },
        { id: 'PA', sender: ALICE, type: 'm.room.power_levels', stateKey: '', content: { users: { [ALICE]: 100, [BOB]: 50 } } },
        { id: 'T2', sender: BOB, type: 'm.room.topic', stateKey: '', content: {} },
        { id: 'MB', sender: ALICE, type: 'm.room.member', stateKey: BOB, content: { membership: 'ban' } },
      ],
      [
        ['END', 'MB', 'T2', 'PA', 'T1', 'START'],
        ['END', 'T1'],
      ],
      ['T1', 'MB', 'PA'],
    );
  });

  it('topic: the latest topic on the mainline wins across a merge of merges', () => {
    expectEnd(
      [
        ...topicEvents,
        { id: 'MZ1', sender: ZARA, type: 'm.room.message', content: {} },
        { id: 'T4', sender: ALICE, type: 'm.room.topic', stateKey: '', content: {} },
      ],
      [
        ['END', 'T4', 'MZ1', 'PA2', 'T2', 'PA1', 'T1', 'START'],
        ['END', 'MZ1', 'T3', 'PB', 'PA1'],
      ],
      ['T4', 'PA2'],
    );
  });

  it('topic race under one power level: origin_server_ts decides, then event_id', () => {
    // Both topics are based on the same PL (same mainline position): the later ts wins.
    const built = buildGraph(
      [
        { id: 'PA', sender: ALICE, type: 'm.room.power_levels', stateKey: '', content: { users: { [ALICE]: 100, [BOB]: 50 } } },
        { id: 'TA', sender: ALICE, type: 'm.room.topic', stateKey: '', content: { topic: 'a' } },
        { id: 'TB', sender: BOB, type: 'm.room.topic', stateKey: '', content: { topic: 'b' } },
      ],
      [
        ['END', 'TA', 'PA', 'START'],
        ['END', 'TB', 'PA'],
      ],
    );
    const ta = built.byName.get('TA')!;
    const tb = built.byName.get('TB')!;
    expect(ta.origin_server_ts).toBeLessThan(tb.origin_server_ts);
    const sets = [built.after.get('TA')!, built.after.get('TB')!];
    const topic = stateKey('m.room.topic', '');
    expect(resolveStateV2(sets, built.source, V10, ctx).get(topic)).toBe(tb.event_id);

    // Swap the timestamps: now TA is applied last.
    const swapped = new Map(
      [...built.byName.values()].map((e) => [
        e.event_id,
        e === ta ? { ...ta, origin_server_ts: tb.origin_server_ts } : e === tb ? { ...tb, origin_server_ts: ta.origin_server_ts } : e,
      ]),
    );
    expect(resolveStateV2(sets, { get: (id) => swapped.get(id) }, V10, ctx).get(topic)).toBe(ta.event_id);

    // Equal timestamps: the larger event_id is applied last and wins ($TB… > $TA…).
    const tied = new Map(
      [...built.byName.values()].map((e) => [e.event_id, e === ta ? { ...ta, origin_server_ts: tb.origin_server_ts } : e]),
    );
    expect(resolveStateV2([...sets].reverse(), { get: (id) => tied.get(id) }, V10, ctx).get(topic)).toBe(tb.event_id);
  });

  it('a topic based on an older PL on the mainline sorts before one on the newer PL, whatever the timestamps', () => {
    // T_old cites PA1 (mainline position 1), T_new cites PA2 (position 0): T_new is applied last
    // even though T_old has the later origin_server_ts.
    const built = buildGraph(
      [
        { id: 'PA1', sender: ALICE, type: 'm.room.power_levels', stateKey: '', content: { users: { [ALICE]: 100, [BOB]: 50 } } },
        { id: 'PA2', sender: ALICE, type: 'm.room.power_levels', stateKey: '', content: { users: { [ALICE]: 100, [BOB]: 60 } } },
        { id: 'TNEW', sender: ALICE, type: 'm.room.topic', stateKey: '', content: { topic: 'new' } },
        { id: 'TOLD', sender: BOB, type: 'm.room.topic', stateKey: '', content: { topic: 'old' } },
      ],
      [
        ['END', 'TNEW', 'PA2', 'PA1', 'START'],
        ['END', 'TOLD', 'PA1'],
      ],
    );
    const tnew = built.byName.get('TNEW')!;
    const told = built.byName.get('TOLD')!;
    const late = new Map([...built.byName.values()].map((e) => [e.event_id, e === told ? { ...told, origin_server_ts: 10_000 } : e]));
    const src: EventSource = { get: (id) => late.get(id) };
    const pa2 = built.byName.get('PA2')!;
    expect(mainlineOf(pa2, src)).toEqual([pa2.event_id, eid('PA1'), eid('IPOWER')]);
    expect(mainlineSort([tnew, late.get(told.event_id)!], pa2, src).map((e) => nameOf(e.event_id))).toEqual(['TOLD', 'TNEW']);
    const sets = [built.after.get('TNEW')!, built.after.get('TOLD')!];
    expect(resolveStateV2(sets, src, V10, ctx).get(stateKey('m.room.topic', ''))).toBe(tnew.event_id);
  });

  it('an event is rejected during the iterative auth checks (a banned user’s PL change and topic)', () => {
    // Fork A: alice bans bob. Fork B: bob (PL 50) changes the topic and raises charlie.
    const built = buildGraph(
      [
        { id: 'PA', sender: ALICE, type: 'm.room.power_levels', stateKey: '', content: { users: { [ALICE]: 100, [BOB]: 50 } } },
        { id: 'BAN', sender: ALICE, type: 'm.room.member', stateKey: BOB, content: { membership: 'ban' } },
        { id: 'TB', sender: BOB, type: 'm.room.topic', stateKey: '', content: { topic: 'bob' } },
        {
          id: 'PB',
          sender: BOB,
          type: 'm.room.power_levels',
          stateKey: '',
          content: { users: { [ALICE]: 100, [BOB]: 50, [CHARLIE]: 50 } },
        },
      ],
      [
        ['END', 'BAN', 'PA', 'START'],
        ['END', 'PB', 'TB', 'PA'],
      ],
    );
    const sets = [built.after.get('BAN')!, built.after.get('PB')!];
    const resolved = resolveStateV2(sets, built.source, V10, ctx);
    expect(resolved.get(stateKey('m.room.member', BOB))).toBe(eid('BAN'));
    // BAN (alice, PL 100) sorts before PB (bob, PL 50); PB then fails: bob is banned.
    expect(resolved.get(stateKey('m.room.power_levels', ''))).toBe(eid('PA'));
    expect(resolved.has(stateKey('m.room.topic', ''))).toBe(false);

    // The same step in isolation: iterativeAuthChecks ignores PB once BAN is in.
    const { unconflicted } = separateState(sets);
    const out = iterativeAuthChecks(new Map(unconflicted), [built.byName.get('BAN')!, built.byName.get('PB')!], built.source, V10, ctx);
    expect(out.get(stateKey('m.room.member', BOB))).toBe(eid('BAN'));
    expect(out.get(stateKey('m.room.power_levels', ''))).toBeUndefined(); // PA is conflicted, PB rejected
  });

  it('iterative auth checks fall back to the event’s auth events, but not to rejected ones', () => {
    const built = buildGraph([{ id: 'TA', sender: ALICE, type: 'm.room.topic', stateKey: '', content: { topic: 'a' } }], [['END', 'TA', 'START']]);
    const tz = built.byName.get('TA')!;
    // Empty starting state: everything must come from TA's own auth events.
    expect(iterativeAuthChecks(new Map(), [tz], built.source, V10, ctx).get(stateKey('m.room.topic', ''))).toBe(tz.event_id);
    // With alice's join rejected, the fallback skips it: alice is not joined, the topic is refused.
    const rejectedMember: AuthContext = { ...ctx, rejected: (id) => id === eid('IMA') };
    expect(iterativeAuthChecks(new Map(), [tz], built.source, V10, rejectedMember).size).toBe(0);
  });

  it('room version 11 takes the creator from the create event’s sender for power ordering', () => {
    const built = buildGraph(
      [{ id: 'JR', sender: ALICE, type: 'm.room.join_rules', stateKey: '', content: { join_rule: 'invite' } }],
      [['END', 'JR', 'START']],
      V11,
    );
    expect(isPowerEvent(built.byName.get('JR')!)).toBe(true);
    expect(isPowerEvent(built.byName.get('IMB')!)).toBe(false);
  });
});

describe('state resolution v2 — building blocks', () => {
  it('Kahn’s algorithm picks the smallest ready event: higher power first, then ts, then event_id', () => {
    const built = buildGraph([], []);
    const mk = (name: string, sender: string, ts: number, auth: string[]) =>
      makeEvent({ id: name, sender, type: 'm.room.topic', stateKey: '', content: {} }, [], auth, ts, 99);
    const baseAuth = [eid('CREATE'), eid('IPOWER')];
    const a = mk('A', ALICE, 50, [...baseAuth, eid('IMA')]); // power 100
    const b = mk('B', BOB, 10, [...baseAuth, eid('IMB')]); // power 0
    const c = mk('C', CHARLIE, 10, [...baseAuth, eid('IMC')]); // power 0, same ts as B
    const d = mk('D', BOB, 1, [...baseAuth, eid('IMB'), a.event_id]); // after A in the DAG
    const all = new Map([...built.byName.values(), a, b, c, d].map((e) => [e.event_id, e]));
    const src: EventSource = { get: (id) => all.get(id) };
    const parents = new Map([
      [a.event_id, []],
      [b.event_id, []],
      [c.event_id, []],
      [d.event_id, [a.event_id]],
    ]);
    expect(reverseTopologicalPowerSort(parents, src, V10).map((e) => nameOf(e.event_id))).toEqual(['A', 'D', 'B', 'C']);
  });

  it('the auth difference is ∪Cᵢ − ∩Cᵢ, agreeing with materialised auth chains', () => {
    const built = buildGraph(
      [
        { id: 'PA1', sender: ALICE, type: 'm.room.power_levels', stateKey: '', content: { users: { [ALICE]: 100, [BOB]: 50 } } },
        { id: 'PA2', sender: ALICE, type: 'm.room.power_levels', stateKey: '', content: { users: { [ALICE]: 100, [BOB]: 0 } } },
        { id: 'PB', sender: BOB, type: 'm.room.power_levels', stateKey: '', content: { users: { [ALICE]: 100, [BOB]: 50 } } },
        { id: 'T3', sender: BOB, type: 'm.room.topic', stateKey: '', content: {} },
      ],
      [
        ['END', 'PA2', 'PA1', 'START'],
        ['END', 'T3', 'PB', 'PA1'],
      ],
    );
    const sets = [built.after.get('PA2')!, built.after.get('T3')!];
    const { membership } = separateState(sets);
    const got = authDifference(membership, sets.length, built.source).difference;
    const chains = sets.map((s) => {
      const c = new Set<string>();
      for (const id of s.values()) {
        c.add(id); // a state set's full auth chain includes its own events (as Synapse)
        for (const x of authChainOf(id, built.source)) c.add(x);
      }
      return c;
    });
    const union = new Set(chains.flatMap((c) => [...c]));
    const want = [...union].filter((x) => !chains.every((c) => c.has(x)));
    expect([...got].sort()).toEqual(want.sort());
    const cached: EventSource = { get: built.source.get, authChain: (id) => authChainOf(id, built.source) };
    expect([...authDifference(membership, sets.length, cached).difference].sort()).toEqual(want.sort());
    // PA1 is cited on both sides, so it is common. IMB (bob's join) is cited only by fork B's
    // events, but it is in both state sets, so both full chains hold it: not in the difference.
    // The conflicted events themselves (PA2, T3) are each in one chain only.
    expect([...got].map(nameOf).sort()).toEqual(['PA2', 'PB', 'T3']);
  });

  it('unknown events are treated as absent rather than crashing', () => {
    const built = buildGraph(
      [{ id: 'TA', sender: ALICE, type: 'm.room.topic', stateKey: '', content: {} }],
      [['END', 'TA', 'START']],
    );
    const topic = stateKey('m.room.topic', '');
    const a = new Map(built.after.get('TA')!);
    const b = new Map(built.after.get('START')!);
    b.set(topic, eid('GHOST'));
    b.set(stateKey('m.room.name', ''), eid('PHANTOM'));
    const res = resolveStateV2([a, b], built.source, V10, ctx);
    expect(res.get(topic)).toBe(eid('TA'));
    expect(res.has(stateKey('m.room.name', ''))).toBe(false);
    // An event whose auth events are missing: its auth events are simply absent.
    const orphan = makeEvent({ id: 'ORPHAN', sender: ALICE, type: 'm.room.topic', stateKey: '', content: {} }, [], [eid('NOPE')], 5, 5);
    const src: EventSource = { get: (id) => (id === orphan.event_id ? orphan : built.source.get(id)) };
    expect(() => resolveStateV2([a, new Map([[topic, orphan.event_id]])], src, V10, ctx)).not.toThrow();
  });
});

describe('state at every event of a DAG', () => {
  it('rejects an event that fails against the state before it and keeps it as a DAG node', () => {
    const built = buildGraph(
      [
        { id: 'JR', sender: ALICE, type: 'm.room.join_rules', stateKey: '', content: { join_rule: 'invite' } },
        { id: 'ME', sender: EVELYN, type: 'm.room.member', stateKey: EVELYN, content: join },
      ],
      [
        ['END', 'ME', 'JR', 'START'],
      ],
    );
    const dag = computeDagStates(built.events, V10, ctx);
    expect([...dag.rejected]).toEqual([eid('ME')]);
    expect(dag.stateAfter(eid('ME'))).toEqual(dag.stateBefore(eid('ME')));
    expect(dag.stateBefore(eid('END')).has(stateKey('m.room.member', EVELYN))).toBe(false);
  });

  it('rejects an event whose auth event is missing or rejected', () => {
    const built = buildGraph([{ id: 'TZ', sender: ZARA, type: 'm.room.topic', stateKey: '', content: {} }], [['END', 'TZ', 'START']]);
    const tz = built.byName.get('TZ')!;
    const broken = { ...tz, auth_events: [...tz.auth_events.filter((a) => a !== eid('IMZ')), eid('MISSING')] };
    const events = built.events.map((e) => (e === tz ? broken : e));
    const dag = computeDagStates(events, V10, ctx);
    expect(dag.rejected.has(tz.event_id)).toBe(true);
    const viaRejected = computeDagStates(built.events, V10, { ...ctx, rejected: (id) => id === eid('IMZ') });
    expect(viaRejected.rejected.has(tz.event_id)).toBe(true);
  });

  it('is independent of the order the events are given in', () => {
    const built = buildGraph(
      [
        { id: 'PA', sender: ALICE, type: 'm.room.power_levels', stateKey: '', content: { users: { [ALICE]: 100, [BOB]: 50 } } },
        { id: 'TB', sender: BOB, type: 'm.room.topic', stateKey: '', content: {} },
        { id: 'MB', sender: ALICE, type: 'm.room.member', stateKey: BOB, content: { membership: 'ban' } },
      ],
      [
        ['END', 'MB', 'PA', 'START'],
        ['END', 'TB', 'PA'],
      ],
    );
    const a = computeDagStates(built.events, V10, ctx);
    const b = computeDagStates([...built.events].reverse(), V10, ctx);
    expect(b.order).toEqual(a.order);
    for (const id of a.order) expect(b.stateAfter(id)).toEqual(a.stateAfter(id));
    expect(a.stateBefore(eid('END')).get(stateKey('m.room.topic', ''))).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------
// Properties: the result depends on neither the order of the state sets nor
// the insertion order of the maps.
// ---------------------------------------------------------------------------

type Action = { who: number; kind: 'topic' | 'promote' | 'demote' | 'ban' | 'kick' | 'name' | 'joinrule' };
const USERS = [ALICE, BOB, CHARLIE, ZARA, EVELYN];
const actionArb: fc.Arbitrary<Action> = fc.record({
  who: fc.integer({ min: 0, max: 3 }),
  kind: fc.constantFrom('topic', 'promote', 'demote', 'ban', 'kick', 'name', 'joinrule'),
});

/** A base room then up to three forks of random actions; each fork keeps only events its own state authorises. */
function randomForks(forks: Action[][], seed: number): { states: Map<StateKey, string>[]; source: EventSource } {
  const built = buildGraph([{ id: 'PX', sender: ALICE, type: 'm.room.power_levels', stateKey: '', content: { users: { [ALICE]: 100, [BOB]: 50, [CHARLIE]: 50 } } }], [['END', 'PX', 'START']]);
  const byId = new Map(built.events.map((e) => [e.event_id, e]));
  const source: EventSource = { get: (id) => byId.get(id) };
  const base = built.after.get('PX')!;
  let n = 0;
  const states = forks.map((actions, f) => {
    const state = new Map(base);
    let depth = 20;
    let prev = eid('PX');
    for (const act of actions) {
      const sender = USERS[act.who]!;
      const target = USERS[(act.who + 1 + (seed % 3)) % USERS.length]!;
      const plId = state.get(stateKey('m.room.power_levels', ''))!;
      const users = { ...((byId.get(plId)!.content.users as JsonObject) ?? {}) };
      const spec = ((): Spec => {
        const id = `F${f}N${n++}`;
        switch (act.kind) {
          case 'topic':
            return { id, sender, type: 'm.room.topic', stateKey: '', content: { topic: id } };
          case 'name':
            return { id, sender, type: 'm.room.name', stateKey: '', content: { name: id } };
          case 'promote':
            return { id, sender, type: 'm.room.power_levels', stateKey: '', content: { users: { ...users, [target]: 50 } } };
          case 'demote':
            return { id, sender, type: 'm.room.power_levels', stateKey: '', content: { users: { ...users, [target]: 0 } } };
          case 'ban':
            return { id, sender, type: 'm.room.member', stateKey: target, content: { membership: 'ban' } };
          case 'kick':
            return { id, sender, type: 'm.room.member', stateKey: target, content: { membership: 'leave' } };
          case 'joinrule':
            return { id, sender, type: 'm.room.join_rules', stateKey: '', content: { join_rule: seed % 2 ? 'invite' : 'public' } };
        }
      })();
      const lookup = (type: string, key: string) => {
        const id = state.get(stateKey(type, key));
        return id === undefined ? undefined : byId.get(id);
      };
      const auth = selectAuthEvents({ ...spec, state_key: spec.stateKey }, lookup, V10);
      const ev = makeEvent(spec, [prev], auth.map((e) => e.event_id), 1000 + ((n * 7919 + seed) % 50), depth++);
      if (!checkAuth(ev, auth, V10, ctx).allowed) continue;
      byId.set(ev.event_id, ev);
      state.set(stateKey(ev.type, ev.state_key!), ev.event_id);
      prev = ev.event_id;
    }
    return state;
  });
  return { states, source };
}

const shuffled = <T>(xs: readonly T[], perm: readonly number[]): T[] =>
  xs.map((x, i) => [x, perm[i % perm.length]! + i / 1000] as const).sort((a, b) => a[1] - b[1]).map((p) => p[0]);

describe('state resolution v2 — properties', () => {
  it('does not depend on the order of the state sets nor on map insertion order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(actionArb, { maxLength: 6 }), { minLength: 2, maxLength: 3 }),
        fc.nat(1000),
        fc.array(fc.nat(100), { minLength: 1, maxLength: 8 }),
        (forks, seed, perm) => {
          const { states, source } = randomForks(forks, seed);
          const canonical = (m: Map<StateKey, string>) => [...m].sort((a, b) => (a[0] < b[0] ? -1 : 1));
          const expected = canonical(resolveStateV2(states, source, V10, ctx));
          const reordered = shuffled(states, perm).map((s) => new Map(shuffled([...s], [...perm].reverse())));
          expect(canonical(resolveStateV2(reordered, source, V10, ctx))).toEqual(expected);
          expect(canonical(resolveStateV2([...states].reverse(), source, V10, ctx))).toEqual(expected);
          // The authChain cache is a shortcut only: same answer as the plain walk.
          const cached: EventSource = { get: source.get, authChain: (id) => authChainOf(id, source) };
          expect(canonical(resolveStateV2(states, cached, V10, ctx))).toEqual(expected);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('resolving a state with itself, or adding a duplicate set, changes nothing', () => {
    fc.assert(
      fc.property(fc.array(fc.array(actionArb, { maxLength: 6 }), { minLength: 2, maxLength: 2 }), fc.nat(1000), (forks, seed) => {
        const { states, source } = randomForks(forks, seed);
        const [a, b] = states as [Map<StateKey, string>, Map<StateKey, string>];
        expect(resolveStateV2([a, a], source, V10, ctx)).toEqual(a);
        const once = resolveStateV2([a, b], source, V10, ctx);
        expect(resolveStateV2([a, b, b], source, V10, ctx)).toEqual(once);
      }),
      { numRuns: 80 },
    );
  });
});

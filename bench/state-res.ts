/**
 * State resolution v2 cost on synthetic rooms: a long common history (users
 * joining, changing their display names, power level and topic changes),
 * then two forks that touch the same state keys, resolved at the merge. The
 * history-size pair shows that the cost follows the conflicted set and the
 * auth difference, not the room's history. Also times the state at every
 * event of a 10,000-event DAG with periodic forks and merges.
 */
import { selectAuthEvents } from '../src/core/auth/index.ts';
import type { AuthContext } from '../src/core/auth/index.ts';
import type { JsonObject } from '../src/core/json.ts';
import { type RoomEvent, type StateKey, stateKey } from '../src/core/pdu.ts';
import { roomVersion } from '../src/core/room-versions/registry.ts';
import { computeDagStates, resolveStateV2 } from '../src/core/state-res/index.ts';
import type { EventSource } from '../src/core/state-res/index.ts';

const rules = roomVersion('10');
const ctx: AuthContext = { isSignedBy: () => true };
const ROOM = '!bench:bench.example';
const ALICE = '@alice:bench.example';
const MOD = '@mod:bench.example';
const URL_SAFE = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Deterministic, realistic-looking event IDs: `$` + 43 URL-safe characters. */
function eventId(n: number): string {
  let x = (n + 1) * 0x9e3779b1;
  let out = '$';
  for (let i = 0; i < 43; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out += URL_SAFE[(x >>> 0) % 64];
  }
  return out;
}

const user = (i: number) => `@u${i}:bench.example`;

/**
 * Auth chains of every generated event, built as events are sent — what a
 * homeserver keeps when it persists events, and what `EventSource.authChain`
 * exposes. Event IDs never repeat across rooms here, so one map serves all.
 */
const chains = new Map<string, ReadonlySet<string>>();
const NO_CHAIN: ReadonlySet<string> = new Set();
function recordChain(ev: RoomEvent): void {
  const chain = new Set<string>();
  for (const a of ev.auth_events) {
    chain.add(a);
    for (const x of chains.get(a) ?? NO_CHAIN) chain.add(x);
  }
  chains.set(ev.event_id, chain);
}
const withChains = (get: (id: string) => RoomEvent | undefined): EventSource => ({
  get,
  authChain: (id) => chains.get(id) ?? NO_CHAIN,
});

/** A linear room builder: each event's prev is the previous event, its auth events selected from the state. */
class Room {
  readonly events = new Map<string, RoomEvent>();
  constructor(
    public state: Map<StateKey, string> = new Map(),
    public head: RoomEvent | undefined = undefined,
    private readonly shared?: Map<string, RoomEvent>,
    /** Counter the event IDs are derived from; forks start far apart so IDs never collide. */
    private n = 0,
  ) {}

  get source(): EventSource {
    return { get: (id) => this.events.get(id) ?? this.shared?.get(id) };
  }

  fork(idBase: number): Room {
    return new Room(new Map(this.state), this.head, this.allEvents(), idBase);
  }

  private allEvents(): Map<string, RoomEvent> {
    if (this.shared === undefined) return this.events;
    return new Map([...this.shared, ...this.events]);
  }

  send(sender: string, type: string, content: JsonObject, key?: string): RoomEvent {
    const src = this.source;
    const lookup = (t: string, k: string) => {
      const id = this.state.get(stateKey(t, k));
      return id === undefined ? undefined : src.get(id);
    };
    const n = this.n++;
    const ev: RoomEvent = {
      event_id: eventId(n),
      room_id: ROOM,
      sender,
      type,
      content,
      origin_server_ts: 1_700_000_000_000 + n * 10,
      depth: (this.head?.depth ?? 0) + 1,
      prev_events: this.head === undefined ? [] : [this.head.event_id],
      auth_events: [],
      hashes: { sha256: 'x' },
      signatures: {},
    };
    if (key !== undefined) ev.state_key = key;
    ev.auth_events = selectAuthEvents(ev, lookup, rules).map((e) => e.event_id);
    recordChain(ev);
    this.events.set(ev.event_id, ev);
    if (key !== undefined) this.state.set(stateKey(type, key), ev.event_id);
    this.head = ev;
    return ev;
  }
}

function powerLevels(round: number): JsonObject {
  return { users: { [ALICE]: 100, [MOD]: 50 }, events: { 'm.room.topic': round % 2 === 0 ? 50 : 0 }, users_default: 0 };
}

/** Common history of about `size` events over `users` members. */
function history(size: number, users: number): Room {
  const room = new Room();
  room.send(ALICE, 'm.room.create', { creator: ALICE, room_version: '10' }, '');
  room.send(ALICE, 'm.room.member', { membership: 'join' }, ALICE);
  room.send(ALICE, 'm.room.power_levels', powerLevels(0), '');
  room.send(ALICE, 'm.room.join_rules', { join_rule: 'public' }, '');
  room.send(MOD, 'm.room.member', { membership: 'join' }, MOD);
  let joined = 0;
  for (let i = 0; room.events.size < size; i++) {
    if (i % 100 === 99) room.send(ALICE, 'm.room.power_levels', powerLevels(i), '');
    else if (i % 37 === 0) room.send(ALICE, 'm.room.topic', { topic: `topic ${i}` }, '');
    else if (joined < users && (i % 3 !== 0 || joined < 10)) {
      const u = user(joined++);
      room.send(u, 'm.room.member', { membership: 'join' }, u);
    } else {
      const u = user(i % Math.max(joined, 1));
      room.send(u, 'm.room.member', { membership: 'join', displayname: `u ${i}` }, u);
    }
  }
  return room;
}

/**
 * Two forks from `base` that each send `perFork` state events, mostly display
 * name changes of the same users (so both forks' events are conflicted), with
 * a power levels change every 50 events (alice on one side, the moderator on
 * the other) and some topics.
 */
function forks(base: Room, perFork: number, users: number): { sets: Map<StateKey, string>[]; source: EventSource; conflicted: number } {
  const sides = [base.fork(1_000_000), base.fork(2_000_000)];
  sides.forEach((side, s) => {
    for (let i = 0; i < perFork; i++) {
      if (i % 50 === 25) side.send(s === 0 ? ALICE : MOD, 'm.room.power_levels', powerLevels(i + s), '');
      else if (i % 40 === 7) side.send(s === 0 ? ALICE : MOD, 'm.room.topic', { topic: `fork ${s} ${i}` }, '');
      else {
        const u = user((i * 7) % users);
        side.send(u, 'm.room.member', { membership: 'join', displayname: `fork ${s} ${i}` }, u);
      }
    }
  });
  const all = new Map<string, RoomEvent>(base.events);
  for (const side of sides) for (const [id, ev] of side.events) all.set(id, ev);
  const sets = sides.map((s) => s.state);
  const [a, b] = sets as [Map<StateKey, string>, Map<StateKey, string>];
  const conflictedIds = new Set<string>();
  for (const k of new Set([...a.keys(), ...b.keys()])) {
    if (a.get(k) !== b.get(k)) {
      const x = a.get(k);
      const y = b.get(k);
      if (x !== undefined) conflictedIds.add(x);
      if (y !== undefined) conflictedIds.add(y);
    }
  }
  return { sets, source: { get: (id) => all.get(id) }, conflicted: conflictedIds.size };
}

function time(fn: () => void, runs: number): number {
  fn(); // warm-up (JIT)
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    samples.push(performance.now() - t0);
  }
  samples.sort((x, y) => x - y);
  return samples[Math.floor(samples.length / 2)]!;
}

/** A DAG of about `size` events: a linear timeline that forks in two every 200 events and merges 20 events later. */
function forkingDag(size: number, users: number): RoomEvent[] {
  const main = history(Math.min(size, 1000), users);
  const all = new Map(main.events);
  let room = main;
  let idBase = 10_000_000;
  while (all.size < size) {
    const a = room.fork(idBase);
    const b = room.fork(idBase + 100);
    idBase += 1000;
    for (let i = 0; i < 10; i++) {
      a.send(user((idBase + i) % users), 'm.room.member', { membership: 'join', displayname: `a${i}` }, user((idBase + i) % users));
      b.send(user((idBase + i * 3) % users), 'm.room.member', { membership: 'join', displayname: `b${i}` }, user((idBase + i * 3) % users));
    }
    for (const side of [a, b]) for (const [id, ev] of side.events) all.set(id, ev);
    // Merge: resolve the two sides and continue linearly from a merge event.
    const merged = resolveStateV2([a.state, b.state], { get: (id) => all.get(id) }, rules, ctx);
    room = new Room(merged, a.head, all, idBase + 200);
    const m = room.send(ALICE, 'm.room.message', { body: 'merge' });
    m.prev_events = [a.head!.event_id, b.head!.event_id];
    m.depth = Math.max(a.head!.depth, b.head!.depth) + 1;
    for (let i = 0; i < 180 && all.size + room.events.size < size; i++) {
      const u = user((idBase + i * 11) % users);
      room.send(u, 'm.room.member', { membership: 'join', displayname: `m${i}` }, u);
    }
    for (const [id, ev] of room.events) all.set(id, ev);
    room = new Room(room.state, room.head, all, idBase + 500);
  }
  return [...all.values()];
}

export async function benchStateRes(): Promise<Array<{ name: string; ms: number; detail?: string }>> {
  const out: Array<{ name: string; ms: number; detail?: string }> = [];
  const big = history(10_000, 2_000);
  const small = history(2_000, 2_000);

  for (const [label, base, perFork] of [
    ['state-res v2: 100 conflicted, 10k history', big, 50],
    ['state-res v2: 1,000 conflicted, 10k history', big, 500],
    ['state-res v2: 1,000 conflicted, 2k history', small, 500],
  ] as const) {
    const { sets, source, conflicted } = forks(base, perFork, 2_000);
    for (const cached of [true, false]) {
      const src = cached ? withChains(source.get) : source;
      const ms = time(() => resolveStateV2(sets, src, rules, ctx), 7);
      // How much of the room one resolution reads: it should follow the conflict, not the history.
      const touched = new Set<string>();
      const counting: EventSource = {
        ...src,
        get: (id) => {
          touched.add(id);
          return src.get(id);
        },
      };
      resolveStateV2(sets, counting, rules, ctx);
      out.push({
        name: `${label}${cached ? '' : ' (no authChain cache)'}`,
        ms,
        detail: `${conflicted} conflicted, ${sets[0]!.size} state entries, ${base.events.size} history events, ${touched.size} events read`,
      });
    }
  }

  const dag = forkingDag(10_000, 500);
  const dagMs = time(() => computeDagStates(dag, rules, ctx), 1);
  out.push({ name: 'state at every event: 10k-event DAG', ms: dagMs, detail: `${dag.length} events, a fork/merge every ~200` });
  return out;
}

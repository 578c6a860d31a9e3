/**
 * The state before and after every event of a room DAG (state resolution v2,
 * opening definitions): S(E), the state before E, is the resolution of the
 * states after E's prev_events (none: empty; one: that state as is); S′(E),
 * the state after E, is S(E) with E's (type, state_key) entry set to E when E
 * is a state event. Following the checks performed on receipt of a PDU, an
 * event is rejected when it fails the authorization rules against its own
 * auth_events or against the state before it; a rejected event stays a node
 * of the DAG but does not change the state.
 */
import type { AuthContext } from '../auth/index.ts';
import { checkAuth, selectAuthEvents } from '../auth/index.ts';
import { type RoomEvent, type StateKey, stateKey } from '../pdu.ts';
import type { RoomVersionRules } from '../room-versions/types.ts';
import { compareIds } from './events.ts';
import { BinaryHeap } from './heap.ts';
import { createEventOf } from './iterative-auth.ts';
import { LayeredState } from './layered-state.ts';
import { resolveState } from './resolve.ts';
import type { EventSource } from './types.ts';

export interface DagStates {
  /** State before the event (a fresh copy); empty for an event not in the DAG. */
  stateBefore(id: string): Map<StateKey, string>;
  /** State after the event (a fresh copy); empty for an event not in the DAG. */
  stateAfter(id: string): Map<StateKey, string>;
  /** Events rejected by the authorization rules. */
  readonly rejected: Set<string>;
  /** The events in the order they were processed (topological by prev_events). */
  readonly order: readonly string[];
}

/**
 * Topological order by prev_events (every event after its known prev events);
 * among ready events the smallest depth, then the smallest event_id. Prev
 * events outside `events` are ignored; events caught in a prev cycle (which
 * hashed IDs rule out) come last in (depth, event_id) order.
 */
export function topologicalOrder(events: readonly RoomEvent[]): RoomEvent[] {
  const byId = new Map<string, RoomEvent>();
  for (const ev of events) byId.set(ev.event_id, ev);
  const less = (a: RoomEvent, b: RoomEvent): boolean =>
    a.depth !== b.depth ? a.depth < b.depth : compareIds(a.event_id, b.event_id) < 0;
  const pending = new Map<string, number>();
  const children = new Map<string, string[]>();
  for (const ev of byId.values()) {
    const prevs = new Set(ev.prev_events.filter((p) => p !== ev.event_id && byId.has(p)));
    pending.set(ev.event_id, prevs.size);
    for (const p of prevs) {
      const list = children.get(p);
      if (list === undefined) children.set(p, [ev.event_id]);
      else list.push(ev.event_id);
    }
  }
  const ready = new BinaryHeap<RoomEvent>(less);
  for (const [id, n] of pending) if (n === 0) ready.push(byId.get(id)!);
  const out: RoomEvent[] = [];
  for (let ev = ready.pop(); ev !== undefined; ev = ready.pop()) {
    out.push(ev);
    for (const c of children.get(ev.event_id) ?? []) {
      const left = pending.get(c)! - 1;
      pending.set(c, left);
      if (left === 0) ready.push(byId.get(c)!);
    }
  }
  if (out.length < byId.size) {
    const emitted = new Set(out.map((e) => e.event_id));
    const rest = [...byId.values()].filter((e) => !emitted.has(e.event_id));
    rest.sort((a, b) => (less(a, b) ? -1 : less(b, a) ? 1 : 0));
    out.push(...rest);
  }
  return out;
}

export function computeDagStates(events: readonly RoomEvent[], rules: RoomVersionRules, ctx: AuthContext): DagStates {
  const byId = new Map<string, RoomEvent>();
  for (const ev of events) byId.set(ev.event_id, ev);
  const source: EventSource = { get: (id) => byId.get(id) };
  const rejected = new Set<string>();
  // Rule 2.3 and the iterative auth checks must see our own rejections too.
  const dagCtx: AuthContext = {
    isSignedBy: (ev, server) => ctx.isSignedBy(ev, server),
    rejected: (id) => rejected.has(id) || (ctx.rejected?.(id) ?? false),
    createEvent: (roomId) => createEventOf(roomId, source, ctx),
  };

  const before = new Map<string, LayeredState>();
  const after = new Map<string, LayeredState>();
  const order = topologicalOrder(events);

  for (const ev of order) {
    const prevStates: LayeredState[] = [];
    for (const p of new Set(ev.prev_events)) {
      const s = after.get(p);
      // Several prevs often share one state object (e.g. after message events): resolve it once.
      if (s !== undefined && !prevStates.includes(s)) prevStates.push(s);
    }
    let stateBefore: LayeredState;
    if (prevStates.length === 0) stateBefore = LayeredState.empty;
    else if (prevStates.length === 1) stateBefore = prevStates[0]!;
    else {
      const sets = prevStates.map((s) => s.asMap());
      stateBefore = LayeredState.adopt(resolveState(sets, source, rules, dagCtx));
    }
    before.set(ev.event_id, stateBefore);

    const ok = passesAuth(ev, stateBefore, byId, rules, dagCtx);
    if (!ok) rejected.add(ev.event_id);
    const isState = typeof ev.state_key === 'string';
    after.set(
      ev.event_id,
      ok && isState ? stateBefore.with(stateKey(ev.type, ev.state_key!), ev.event_id) : stateBefore,
    );
  }

  return {
    stateBefore: (id) => before.get(id)?.toMap() ?? new Map(),
    stateAfter: (id) => after.get(id)?.toMap() ?? new Map(),
    rejected,
    order: order.map((e) => e.event_id),
  };
}

/** The auth checks on receipt of a PDU: against its own auth_events, then against the state before it. */
function passesAuth(
  ev: RoomEvent,
  stateBefore: LayeredState,
  byId: ReadonlyMap<string, RoomEvent>,
  rules: RoomVersionRules,
  ctx: AuthContext,
): boolean {
  const own: RoomEvent[] = [];
  for (const id of ev.auth_events) {
    const a = byId.get(id);
    // An auth event we do not have, or one that was rejected, rejects the event.
    if (a === undefined || ctx.rejected?.(id)) return false;
    own.push(a);
  }
  if (!checkAuth(ev, own, rules, ctx).allowed) return false;
  const lookup = (type: string, key: string): RoomEvent | undefined => {
    const id = stateBefore.get(stateKey(type, key));
    return id === undefined ? undefined : byId.get(id);
  };
  return checkAuth(ev, selectAuthEvents(ev, lookup, rules), rules, ctx).allowed;
}

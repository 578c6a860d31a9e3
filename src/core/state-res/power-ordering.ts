/**
 * State resolution v2, algorithm step 1: select the set X of power events in
 * the full conflicted set, enlarged by the events of their auth chains that
 * are also in the full conflicted set, and sort X by the *reverse topological
 * power ordering*: Kahn's algorithm over the auth DAG restricted to X,
 * choosing at each step the smallest candidate by (sender's power level
 * descending, origin_server_ts ascending, event_id ascending).
 */
import type { RoomEvent } from '../pdu.ts';
import type { RoomVersionRules } from '../room-versions/types.ts';
import { compareIds, isPowerEvent, senderPowerLevel } from './events.ts';
import { BinaryHeap } from './heap.ts';
import type { EventSource } from './types.ts';

export interface PowerSelection {
  /** X sorted by the reverse topological power ordering, earliest first. */
  readonly sorted: RoomEvent[];
  readonly ids: ReadonlySet<string>;
}

/**
 * `fullConflicted` holds known events only. `inEveryChain(id)` says whether a
 * conflicted event lies in every state set's full auth chain.
 *
 * Why the detour through events outside the full conflicted set: an event B
 * outside it that is reachable from X lies in every full auth chain, so all
 * of B's ancestors do too, and the only full-conflicted events beneath B are
 * conflicted state events that are in every chain (set K). When K is empty —
 * the usual case — walking only through the full conflicted set is exact and
 * costs no more than that set. When it is not, we also walk through common
 * history, but only where K is still reachable (by the `authChain` cache if
 * the source has one, else by depth, which auth events never exceed in a
 * well-formed DAG), so that X and its ordering edges match the spec.
 */
export function selectAndSortPowerEvents(
  fullConflicted: ReadonlySet<string>,
  inEveryChain: (id: string) => boolean,
  source: EventSource,
  rules: RoomVersionRules,
): PowerSelection {
  const common: string[] = [];
  let minCommonDepth = Number.POSITIVE_INFINITY;
  for (const id of fullConflicted) {
    if (!inEveryChain(id)) continue;
    common.push(id);
    minCommonDepth = Math.min(minCommonDepth, source.get(id)?.depth ?? Number.POSITIVE_INFINITY);
  }
  const mayReachCommon = (ev: RoomEvent): boolean => {
    if (common.length === 0) return false;
    const chain = source.authChain?.(ev.event_id);
    if (chain !== undefined) return common.some((k) => chain.has(k));
    return ev.depth >= minCommonDepth;
  };

  // Nearest full-conflicted ancestors of an event outside the set, memoised
  // (computed iteratively: common history can be deep).
  const via = new Map<string, readonly string[]>();
  const viaOf = (root: string): readonly string[] => {
    const stack: Array<[string, boolean]> = [[root, false]];
    for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
      const [id, ready] = item;
      if (via.has(id)) continue;
      const ev = source.get(id);
      if (ev === undefined || !mayReachCommon(ev)) {
        via.set(id, []);
        continue;
      }
      if (!ready) {
        stack.push([id, true]);
        for (const a of ev.auth_events) if (!fullConflicted.has(a) && !via.has(a)) stack.push([a, false]);
        continue;
      }
      const found = new Set<string>();
      for (const a of ev.auth_events) {
        if (fullConflicted.has(a)) found.add(a);
        else for (const x of via.get(a) ?? []) found.add(x);
      }
      via.set(id, [...found]);
    }
    return via.get(root) ?? [];
  };

  // parents(y): the X events y must come after. Walking them from the power
  // events enlarges X by exactly the full-conflicted part of their auth chains.
  const parents = new Map<string, string[]>();
  const queue: string[] = [];
  for (const id of fullConflicted) {
    const ev = source.get(id);
    if (ev !== undefined && isPowerEvent(ev)) {
      parents.set(id, []);
      queue.push(id);
    }
  }
  for (let id = queue.pop(); id !== undefined; id = queue.pop()) {
    const ev = source.get(id);
    if (ev === undefined) continue;
    const found = new Set<string>();
    for (const a of ev.auth_events) {
      if (a === id) continue;
      if (fullConflicted.has(a)) found.add(a);
      else if (common.length > 0) for (const x of viaOf(a)) found.add(x);
    }
    const list = [...found];
    parents.set(id, list);
    for (const p of list) {
      if (!parents.has(p)) {
        parents.set(p, []);
        queue.push(p);
      }
    }
  }

  return { sorted: reverseTopologicalPowerSort(parents, source, rules), ids: new Set(parents.keys()) };
}

interface SortKey {
  readonly ev: RoomEvent;
  readonly power: number;
}

/**
 * Kahn's algorithm, emitting at each step the smallest ready event:
 * x < y iff x's sender has the greater power level (from x's own auth events),
 * then the smaller origin_server_ts, then the smaller event_id.
 * `parents` maps every event to sort to the events that must precede it.
 */
export function reverseTopologicalPowerSort(
  parents: ReadonlyMap<string, readonly string[]>,
  source: EventSource,
  rules: RoomVersionRules,
): RoomEvent[] {
  const less = (a: SortKey, b: SortKey): boolean => {
    if (a.power !== b.power) return a.power > b.power;
    if (a.ev.origin_server_ts !== b.ev.origin_server_ts) return a.ev.origin_server_ts < b.ev.origin_server_ts;
    return compareIds(a.ev.event_id, b.ev.event_id) < 0;
  };
  const keys = new Map<string, SortKey>();
  const pending = new Map<string, number>();
  const children = new Map<string, string[]>();
  for (const id of parents.keys()) {
    const ev = source.get(id);
    if (ev !== undefined) keys.set(id, { ev, power: senderPowerLevel(ev, source, rules) });
  }
  for (const [id, ps] of parents) {
    if (!keys.has(id)) continue;
    let count = 0;
    for (const p of ps) {
      if (!keys.has(p)) continue;
      count++;
      const list = children.get(p);
      if (list === undefined) children.set(p, [id]);
      else list.push(id);
    }
    pending.set(id, count);
  }

  const ready = new BinaryHeap<SortKey>(less);
  for (const [id, count] of pending) if (count === 0) ready.push(keys.get(id)!);
  const out: RoomEvent[] = [];
  for (let next = ready.pop(); next !== undefined; next = ready.pop()) {
    out.push(next.ev);
    for (const c of children.get(next.ev.event_id) ?? []) {
      const left = (pending.get(c) ?? 0) - 1;
      pending.set(c, left);
      if (left === 0) {
        const key = keys.get(c);
        if (key !== undefined) ready.push(key);
      }
    }
  }
  return out;
}

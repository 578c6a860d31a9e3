/**
 * State resolution v2, definition "Mainline ordering" (used by algorithm
 * step 3): the mainline of the resolved power levels event P₀ is P₀, the
 * power levels event among its auth events P₁, and so on. An event e's
 * mainline position is the index i of the first event eⱼ (j ≥ 1) of its own
 * power-levels chain e₁, e₂, … that lies on the mainline, or ∞ if none does.
 * Events sort by position descending, then origin_server_ts, then event_id.
 */
import type { RoomEvent } from '../pdu.ts';
import { compareIds, powerLevelsAuthEvent } from './events.ts';
import type { EventSource } from './types.ts';

const INFINITE = Number.POSITIVE_INFINITY;

/** The mainline of `p0` as event IDs, P₀ first. A repeated event ends the walk (it cannot occur with hashed IDs). */
export function mainlineOf(p0: RoomEvent | undefined, source: EventSource): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (let p = p0; p !== undefined && !seen.has(p.event_id); p = powerLevelsAuthEvent(p, source)) {
    seen.add(p.event_id);
    out.push(p.event_id);
  }
  return out;
}

/**
 * Sorts `events` by the mainline ordering based on `p0` (undefined when the
 * partially resolved state has no power levels: every position is then ∞).
 * Positions are memoised per power levels event, so events sharing a power
 * levels ancestor only walk the shared part of their chains once.
 */
export function mainlineSort(events: readonly RoomEvent[], p0: RoomEvent | undefined, source: EventSource): RoomEvent[] {
  const index = new Map<string, number>();
  for (const [i, id] of mainlineOf(p0, source).entries()) index.set(id, i);

  // positionFrom(pl): the mainline position of any event whose e₁ is `pl`.
  const memo = new Map<string, number>();
  const positionFrom = (start: RoomEvent | undefined): number => {
    const path = new Set<string>();
    let result = INFINITE;
    for (let p = start; p !== undefined; p = powerLevelsAuthEvent(p, source)) {
      const known = memo.get(p.event_id) ?? index.get(p.event_id);
      if (known !== undefined) {
        result = known;
        break;
      }
      if (path.has(p.event_id)) break; // a cycle: never on the mainline
      path.add(p.event_id);
    }
    for (const id of path) memo.set(id, result);
    return result;
  };

  const keyed = events.map((ev) => ({ ev, position: positionFrom(powerLevelsAuthEvent(ev, source)) }));
  keyed.sort((a, b) => {
    if (a.position !== b.position) return a.position > b.position ? -1 : 1;
    if (a.ev.origin_server_ts !== b.ev.origin_server_ts) return a.ev.origin_server_ts - b.ev.origin_server_ts;
    return compareIds(a.ev.event_id, b.ev.event_id);
  });
  return keyed.map((k) => k.ev);
}

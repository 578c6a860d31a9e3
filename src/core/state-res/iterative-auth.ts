/**
 * State resolution v2, definition "Iterative auth checks" (algorithm steps 2
 * and 4): starting from a room state, apply each event of a sorted list if the
 * authorization rules allow it against that state, else ignore it. A key the
 * rules need that the state lacks is taken from the event's own auth_events,
 * unless that auth event was rejected.
 */
import type { AuthContext } from '../auth/index.ts';
import { checkAuth, selectAuthEvents } from '../auth/index.ts';
import { type RoomEvent, type StateKey, stateKey } from '../pdu.ts';
import type { RoomVersionRules } from '../room-versions/types.ts';
import { createEventIdOfRoom } from '../ids.ts';
import type { EventSource } from './types.ts';

/** Applies `events` in order to `state` (mutated in place and returned). */
export function iterativeAuthChecks(
  state: Map<StateKey, string>,
  events: readonly RoomEvent[],
  source: EventSource,
  rules: RoomVersionRules,
  ctx: AuthContext,
): Map<StateKey, string> {
  // Events rejected because of the state at them are "handled as usual":
  // when one sits in the state being built it must count as a normal auth
  // event, so rule 2.3 is not applied to state-derived auth events. Rejected
  // events among an event's own auth_events are filtered out below instead,
  // as the spec's fallback rule says.
  // Room version 12: rule 2 finds the room's create event by the room ID.
  const stateCtx: AuthContext = {
    isSignedBy: (ev, server) => ctx.isSignedBy(ev, server),
    createEvent: (roomId) => createEventOf(roomId, source, ctx),
  };
  const isRejected = ctx.rejected ?? (() => false);

  for (const ev of events) {
    if (typeof ev.state_key !== 'string') continue;
    let own: Map<StateKey, RoomEvent> | undefined;
    const ownAuthEvent = (key: StateKey): RoomEvent | undefined => {
      if (own === undefined) {
        own = new Map();
        for (const id of ev.auth_events) {
          const a = source.get(id);
          if (a === undefined || typeof a.state_key !== 'string' || isRejected(id)) continue;
          const k = stateKey(a.type, a.state_key);
          if (!own.has(k)) own.set(k, a);
        }
      }
      return own.get(key);
    };
    const lookup = (type: string, key: string): RoomEvent | undefined => {
      const k = stateKey(type, key);
      const id = state.get(k);
      // An entry whose event we do not have counts as absent.
      const fromState = id === undefined ? undefined : source.get(id);
      return fromState ?? ownAuthEvent(k);
    };
    const verdict = checkAuth(ev, selectAuthEvents(ev, lookup, rules), rules, stateCtx);
    if (verdict.allowed) state.set(stateKey(ev.type, ev.state_key), ev.event_id);
  }
  return state;
}

/** A v12 room's create event: from the source by the room ID, else from the caller's context. */
export function createEventOf(roomId: string, source: EventSource, ctx: AuthContext): RoomEvent | undefined {
  const id = createEventIdOfRoom(roomId);
  return (id === undefined ? undefined : source.get(id)) ?? ctx.createEvent?.(roomId);
}

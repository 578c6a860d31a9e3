/**
 * Rule 2 of the authorization rules: checks on the list of auth events
 * itself, before any of them is believed.
 *
 * 2.1 duplicate (type, state_key) → reject; 2.2 an entry the auth events
 * selection would not pick → reject; 2.3 an entry that was itself rejected →
 * reject; 2.4 no m.room.create → reject; 2.5 an entry from another room →
 * reject. (Room version 12 numbers these 3.x and has no 3.4: its auth events
 * never hold the create event, which 2.2 therefore refuses.)
 */
import { type RoomEvent, stateKey } from '../pdu.ts';
import type { RoomVersionRules } from '../room-versions/types.ts';
import { authTypesForEvent } from './selection.ts';
import { CREATE } from './state.ts';
import { type AuthContext, type AuthDenied, deny } from './types.ts';

/** The auth events keyed by `stateKey(type, state_key)`, or the rule that rejects the list. */
export function checkAuthEventList(
  event: RoomEvent,
  authEvents: readonly RoomEvent[],
  rules: RoomVersionRules,
  ctx: AuthContext,
): Map<string, RoomEvent> | AuthDenied {
  const byKey = new Map<string, RoomEvent>();
  for (const ae of authEvents) {
    // A message event has no state_key and so can never match a selected pair (2.2); key it
    // apart from every state entry so that 2.1 does not misreport it as a duplicate.
    if (typeof ae.state_key !== 'string') continue;
    const key = stateKey(ae.type, ae.state_key);
    if (byKey.has(key)) {
      return deny('2.1', `auth_events has two ${entryName(ae.type, ae.state_key)} events`);
    }
    byKey.set(key, ae);
  }

  const allowed = new Set(authTypesForEvent(event, rules).map(([t, k]) => stateKey(t, k)));
  for (const ae of authEvents) {
    if (typeof ae.state_key !== 'string') {
      return deny('2.2', `auth_events contains ${ae.event_id}, a ${ae.type} event that is not a state event`);
    }
    if (!allowed.has(stateKey(ae.type, ae.state_key))) {
      return deny('2.2', `auth_events contains ${entryName(ae.type, ae.state_key)}, which auth events selection does not pick for this event`);
    }
  }

  if (ctx.rejected) {
    for (const ae of authEvents) {
      if (ctx.rejected(ae.event_id)) return deny('2.3', `auth event ${ae.event_id} was itself rejected`);
    }
  }

  if (!rules.auth.roomIdFromCreateEvent && !byKey.has(stateKey(CREATE, ''))) return deny('2.4', 'auth_events has no m.room.create event');

  for (const ae of authEvents) {
    if (ae.room_id !== event.room_id) {
      return deny('2.5', `auth event ${ae.event_id} belongs to room ${ae.room_id}, not ${event.room_id}`);
    }
  }
  return byKey;
}

function entryName(type: string, key: string): string {
  return key === '' ? type : `${type} (state_key ${JSON.stringify(key)})`;
}

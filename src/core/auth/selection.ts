/**
 * Auth events selection (server-server API, "Auth events selection"): which
 * state entries an event's `auth_events` may reference. The m.room.create
 * event has none; every other event gets, where they exist:
 *
 * - the m.room.create event in room versions 10 and 11 (never in 12, whose
 *   room ID implies it);
 * - the current m.room.power_levels event;
 * - the sender's m.room.member event;
 * - for m.room.member events: the target's member event; the join rules for
 *   `join`, `invite` and `knock`; for an `invite` with `third_party_invite`,
 *   the m.room.third_party_invite whose state_key is `signed.token`; for a
 *   `join` with `join_authorised_via_users_server` (in versions with
 *   restricted rooms), that user's member event.
 */
import { isJsonObject } from '../json.ts';
import type { RoomEvent } from '../pdu.ts';
import type { RoomVersionRules } from '../room-versions/types.ts';
import { CREATE, JOIN_RULES, MEMBER, POWER_LEVELS, THIRD_PARTY_INVITE, contentOf } from './state.ts';
import type { StateLookup } from './types.ts';

/** The parts of an event that auth events selection looks at. */
export interface SelectableEvent {
  type: string;
  sender: string;
  state_key?: string;
  content: unknown;
}

/** The (type, state_key) pairs an event's auth events may have, without duplicates. */
export function authTypesForEvent(event: SelectableEvent, rules: RoomVersionRules): Array<[type: string, stateKey: string]> {
  if (event.type === CREATE) return [];
  const out: Array<[string, string]> = [];
  const seen = new Set<string>();
  const add = (type: string, key: string): void => {
    const id = `${type}\u0000${key}`;
    if (seen.has(id)) return;
    seen.add(id);
    out.push([type, key]);
  };

  if (!rules.auth.roomIdFromCreateEvent) add(CREATE, '');
  add(POWER_LEVELS, '');
  add(MEMBER, event.sender);

  if (event.type === MEMBER) {
    const content = contentOf(event);
    const membership = content.membership;
    // A member event without a state_key is rejected by rule 4.1; it has no target to select.
    if (typeof event.state_key === 'string') add(MEMBER, event.state_key);
    if (membership === 'join' || membership === 'invite' || membership === 'knock') add(JOIN_RULES, '');
    if (membership === 'invite' && Object.hasOwn(content, 'third_party_invite')) {
      const tpi = content.third_party_invite;
      const signed = isJsonObject(tpi) ? tpi.signed : undefined;
      const token = isJsonObject(signed) ? signed.token : undefined;
      if (typeof token === 'string') add(THIRD_PARTY_INVITE, token);
    }
    if (membership === 'join' && rules.auth.restrictedJoins) {
      const via = content.join_authorised_via_users_server;
      if (typeof via === 'string') add(MEMBER, via);
    }
  }
  return out;
}

/** The current state events an event's `auth_events` should reference, in selection order. */
export function selectAuthEvents(event: SelectableEvent, state: StateLookup, rules: RoomVersionRules): RoomEvent[] {
  const out: RoomEvent[] = [];
  for (const [type, key] of authTypesForEvent(event, rules)) {
    const ev = state(type, key);
    if (ev) out.push(ev);
  }
  return out;
}

/**
 * Rule 1 of the authorization rules (room versions 10 and 11): the
 * m.room.create event.
 *
 * 1.1 any `prev_events` → reject; 1.2 room_id domain ≠ sender domain →
 * reject; 1.3 unrecognised `content.room_version` → reject; v10 only: 1.4 no
 * `content.creator` → reject; then allow (1.5 in v10, 1.4 in v11).
 */
import type { RoomEvent } from '../pdu.ts';
import type { RoomVersionRules } from '../room-versions/types.ts';
import { contentOf, domainOfRoom, domainOfUser } from './state.ts';
import { ALLOW, type AuthResult, deny } from './types.ts';

/**
 * Room versions the spec defines, plus Hearth's I.1. Rule 1.3 asks whether a
 * version is *recognised*, not whether we can join it: a create event naming
 * version 12 is well-formed even though Hearth does not implement 12.
 */
export const KNOWN_ROOM_VERSIONS: ReadonlySet<string> = new Set([
  '1',
  '2',
  '3',
  '4',
  '5',
  '6',
  '7',
  '8',
  '9',
  '10',
  '11',
  '12',
  'I.1',
]);

export function checkCreate(event: RoomEvent, rules: RoomVersionRules): AuthResult {
  const prev: unknown = event.prev_events;
  if (!Array.isArray(prev)) return deny('1.1', 'the m.room.create event has a malformed prev_events');
  if (prev.length > 0) return deny('1.1', `the m.room.create event has ${prev.length} prev_events; it must have none`);

  const roomDomain = domainOfRoom(event.room_id);
  const senderDomain = domainOfUser(event.sender);
  if (roomDomain === undefined || senderDomain === undefined || roomDomain !== senderDomain) {
    return deny('1.2', `room ID ${event.room_id} is not on the sender ${event.sender}'s server`);
  }

  const content = contentOf(event);
  if (Object.hasOwn(content, 'room_version')) {
    const v = content.room_version;
    if (typeof v !== 'string' || !KNOWN_ROOM_VERSIONS.has(v)) {
      return deny('1.3', `room version ${JSON.stringify(v)} is not a recognised room version`);
    }
  }

  if (!rules.auth.creatorFromSender && !Object.hasOwn(content, 'creator')) {
    return deny('1.4', 'the m.room.create content has no creator property');
  }
  return ALLOW;
}

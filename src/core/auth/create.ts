/**
 * Rule 1 of the authorization rules: the m.room.create event.
 *
 * Versions 10 and 11: 1.1 any `prev_events` → reject; 1.2 room_id domain ≠
 * sender domain → reject; 1.3 unrecognised `content.room_version` → reject;
 * v10 only: 1.4 no `content.creator` → reject; then allow (1.5 in v10, 1.4 in
 * v11).
 *
 * Version 12: 1.1 any `prev_events` → reject; 1.2 the event has a `room_id`
 * → reject (the room ID is derived from the event's own ID); 1.3 as above;
 * 1.4 `content.additional_creators` present and not an array of valid user
 * IDs → reject; 1.5 allow.
 */
import { isValidUserId } from '../ids.ts';
import type { RoomEvent } from '../pdu.ts';
import type { RoomVersionRules } from '../room-versions/types.ts';
import { contentOf, domainOfRoom, domainOfUser } from './state.ts';
import { ALLOW, type AuthResult, deny } from './types.ts';

/**
 * Room versions the spec defines, plus Hearth's I.1. Rule 1.3 asks whether a
 * version is *recognised*, not whether we can join it: a create event naming
 * version 9 is well-formed even though Hearth does not implement 9.
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

  if (rules.auth.roomIdFromCreateEvent) return checkCreateV12(event);

  const roomDomain = domainOfRoom(event.room_id);
  const senderDomain = domainOfUser(event.sender);
  if (roomDomain === undefined || senderDomain === undefined || roomDomain !== senderDomain) {
    return deny('1.2', `room ID ${event.room_id} is not on the sender ${event.sender}'s server`);
  }

  const content = contentOf(event);
  const version = checkRoomVersion(content);
  if (version) return version;

  if (!rules.auth.creatorFromSender && !Object.hasOwn(content, 'creator')) {
    return deny('1.4', 'the m.room.create content has no creator property');
  }
  return ALLOW;
}

function checkRoomVersion(content: Record<string, unknown>): AuthResult | undefined {
  if (!Object.hasOwn(content, 'room_version')) return undefined;
  const v = content.room_version;
  if (typeof v !== 'string' || !KNOWN_ROOM_VERSIONS.has(v)) {
    return deny('1.3', `room version ${JSON.stringify(v)} is not a recognised room version`);
  }
  return undefined;
}

function checkCreateV12(event: RoomEvent): AuthResult {
  if (Object.hasOwn(event, 'room_id')) {
    return deny('1.2', 'a room version 12 m.room.create event must not have a room_id (the room ID is derived from its event ID)');
  }
  const content = contentOf(event);
  const version = checkRoomVersion(content);
  if (version) return version;
  if (Object.hasOwn(content, 'additional_creators')) {
    const extra = content.additional_creators;
    if (!Array.isArray(extra)) return deny('1.4', 'additional_creators must be an array of user IDs');
    for (const u of extra) {
      if (!isValidUserId(u)) return deny('1.4', `additional_creators has ${JSON.stringify(u)}, which is not a valid user ID`);
    }
  }
  return ALLOW;
}

import type { RoomVersionRules } from './types.ts';
import { V11 } from './v11.ts';

/**
 * Room version 12 (spec v1.16): v11 with room IDs that are the create event's
 * reference hash (MSC4291: the create event has no `room_id` and is implied
 * rather than listed in `auth_events`), privileged room creators with
 * infinite power (MSC4289: the create event's sender and
 * `content.additional_creators`), and state resolution v2.1 (MSC4297).
 * Event format and redaction are v11's unchanged (v11 already keeps all of
 * the create event's content, `additional_creators` included).
 */
export const V12: RoomVersionRules = {
  ...V11,
  id: '12',
  description: 'Matrix room version 12',
  auth: { ...V11.auth, roomIdFromCreateEvent: true, privilegedCreators: true },
  stateResolution: 'v2.1',
};

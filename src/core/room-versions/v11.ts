import type { RoomVersionRules } from './types.ts';
import { V10 } from './v10.ts';

const set = (...keys: string[]): ReadonlySet<string> => new Set(keys);

/**
 * Room version 11: v10 with clarified redaction (origin, membership and
 * prev_state no longer kept; create keeps all content; power_levels keeps
 * `invite`; redaction keeps `redacts` in content), the creator taken from the
 * create event's sender, and `redacts` moved into content.
 */
export const V11: RoomVersionRules = {
  ...V10,
  id: '11',
  description: 'Matrix room version 11',
  redactsInContent: true,
  redaction: {
    keepTopLevel: set(
      'event_id',
      'type',
      'room_id',
      'sender',
      'state_key',
      'content',
      'hashes',
      'signatures',
      'depth',
      'prev_events',
      'auth_events',
      'origin_server_ts',
    ),
    keepContent: {
      'm.room.member': set('membership', 'join_authorised_via_users_server'),
      'm.room.create': 'all',
      'm.room.join_rules': set('join_rule', 'allow'),
      'm.room.power_levels': set(
        'ban',
        'events',
        'events_default',
        'invite',
        'kick',
        'redact',
        'state_default',
        'users',
        'users_default',
      ),
      'm.room.history_visibility': set('history_visibility'),
      'm.room.redaction': set('redacts'),
    },
    keepThirdPartyInviteSigned: true,
  },
  auth: { ...V10.auth, creatorFromSender: true },
};

import type { RoomVersionRules } from './types.ts';

const set = (...keys: string[]): ReadonlySet<string> => new Set(keys);

/** Room version 10: v9 plus integer-only power levels and the knock_restricted join rule. */
export const V10: RoomVersionRules = {
  id: '10',
  description: 'Matrix room version 10',
  eventFormat: 'v4',
  redactsInContent: false,
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
      'prev_state',
      'auth_events',
      'origin',
      'origin_server_ts',
      'membership',
    ),
    keepContent: {
      'm.room.member': set('membership', 'join_authorised_via_users_server'),
      'm.room.create': set('creator'),
      'm.room.join_rules': set('join_rule', 'allow'),
      'm.room.power_levels': set(
        'ban',
        'events',
        'events_default',
        'kick',
        'redact',
        'state_default',
        'users',
        'users_default',
      ),
      'm.room.history_visibility': set('history_visibility'),
    },
    keepThirdPartyInviteSigned: false,
  },
  auth: {
    creatorFromSender: false,
    integerPowerLevels: true,
    knocking: true,
    restrictedJoins: true,
    knockRestricted: true,
    roomIdFromCreateEvent: false,
    privilegedCreators: false,
  },
  stateResolution: 'v2',
  contentFormat: 'classic',
  stability: 'stable',
};

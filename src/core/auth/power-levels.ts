/**
 * Power levels as the auth rules read them (client-server API,
 * m.room.power_levels): a user's level, the level an event type requires, and
 * the invite/kick/ban/redact levels, each with the spec's defaults.
 *
 * Room versions 10 and up (all that Hearth supports) require power levels to
 * be integers; a value of another type (e.g. the string "50") is not a power
 * level at all, so readers fall back to the default as if it were absent.
 * Rule 9 keeps such values out of new power_levels events.
 */
import type { JsonObject } from '../json.ts';
import { isJsonObject } from '../json.ts';
import type { RoomEvent } from '../pdu.ts';
import type { RoomVersionRules } from '../room-versions/types.ts';
import { contentOf, creatorOf, creatorsOf, own } from './state.ts';

/**
 * The power level of a v12 room creator: above every integer, so every
 * comparison the rules make (`>=`, `>`, `<`) treats creators as more powerful
 * than anyone else and equal to each other.
 */
export const CREATOR_POWER = Number.POSITIVE_INFINITY;

/**
 * A power level value: an integer within canonical JSON's range
 * [-(2^53)+1, 2^53-1]. Booleans, strings and fractions are not.
 */
export function isPowerLevelValue(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v);
}

export function asPowerLevel(v: unknown): number | undefined {
  return isPowerLevelValue(v) ? v : undefined;
}

/**
 * The level of a user: `users[userId]`, else `users_default` (0); without a
 * power_levels event, 100 for the creator and 0 for everyone else. In v12 the
 * room creators have CREATOR_POWER whatever the power_levels event says.
 */
export function powerLevelOf(
  userId: string,
  plEvent: RoomEvent | undefined,
  createEvent: RoomEvent | undefined,
  rules: RoomVersionRules,
): number {
  if (rules.auth.privilegedCreators && creatorsOf(createEvent, rules).has(userId)) return CREATOR_POWER;
  if (plEvent) {
    const content = contentOf(plEvent);
    const users = content.users;
    if (isJsonObject(users)) {
      const level = asPowerLevel(own(users, userId));
      if (level !== undefined) return level;
    }
    return asPowerLevel(content.users_default) ?? 0;
  }
  return userId === creatorOf(createEvent, rules) ? 100 : 0;
}

/**
 * The *required power level* of an event type (server-server API,
 * "Definitions"): `events[type]`, else `state_default` for state events and
 * `events_default` otherwise. The m.room.power_levels schema gives
 * state_default 50 and events_default 0 whether or not the room has a
 * power_levels event. (Older spec text said state_default was 0 without one;
 * the current text, and Synapse and Ruma, say 50.)
 */
export function requiredPowerForEvent(type: string, isState: boolean, plEvent: RoomEvent | undefined): number {
  const content: JsonObject = plEvent ? contentOf(plEvent) : {};
  const events = content.events;
  if (isJsonObject(events)) {
    const level = asPowerLevel(own(events, type));
    if (level !== undefined) return level;
  }
  return isState ? (asPowerLevel(content.state_default) ?? 50) : (asPowerLevel(content.events_default) ?? 0);
}

/** Defaults of the named levels: invite 0; kick, ban and redact 50 (with or without a power_levels event). */
const NAMED_DEFAULTS = { invite: 0, kick: 50, ban: 50, redact: 50 } as const;
export type NamedLevel = keyof typeof NAMED_DEFAULTS;

/** The *invite*, *kick*, *ban* or *redact level*. */
export function namedLevel(name: NamedLevel, plEvent: RoomEvent | undefined): number {
  const content: JsonObject = plEvent ? contentOf(plEvent) : {};
  return asPowerLevel(content[name]) ?? NAMED_DEFAULTS[name];
}

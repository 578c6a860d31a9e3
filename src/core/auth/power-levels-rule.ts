/**
 * Rule 9 of the authorization rules (room versions 10 and 11): changes to
 * m.room.power_levels.
 *
 * 9.1 a named level (`users_default`, `events_default`, `state_default`,
 *     `ban`, `redact`, `kick`, `invite`) present and not an integer → reject.
 * 9.2 `events` or `notifications` present and not an object of integers →
 *     reject.
 * 9.3 `users` not an object of valid user IDs to integers → reject.
 * v12 only, numbered 10.4 (the rest are renumbered by rules.ts): `users`
 *     lists a room creator → reject.
 * 9.4 no previous power_levels event → allow.
 * 9.5 each named level added, changed or removed: 9.5.1 old value > sender →
 *     reject; 9.5.2 new value > sender → reject.
 * 9.6 each `events`/`notifications` entry changed or removed: 9.6.1 old
 *     value > sender → reject.
 * 9.7 each `events`/`notifications` entry added or changed: 9.7.1 new value
 *     > sender → reject.
 * 9.8 each `users` entry changed or removed, other than the sender's own:
 *     9.8.1 old value ≥ sender → reject.
 * 9.9 each `users` entry added or changed: 9.9.1 new value > sender → reject.
 * 9.10 otherwise allow.
 */
import { isValidUserId } from '../ids.ts';
import { type JsonObject, isJsonObject } from '../json.ts';
import type { RoomEvent } from '../pdu.ts';
import { asPowerLevel, isPowerLevelValue } from './power-levels.ts';
import type { AuthState } from './room-state.ts';
import { contentOf, own } from './state.ts';
import { ALLOW, type AuthResult, deny } from './types.ts';

const NAMED_KEYS = ['users_default', 'events_default', 'state_default', 'ban', 'redact', 'kick', 'invite'] as const;
const MAP_KEYS = ['events', 'notifications'] as const;

export function checkPowerLevels(event: RoomEvent, state: AuthState): AuthResult {
  const content = contentOf(event);

  for (const key of NAMED_KEYS) {
    if (Object.hasOwn(content, key) && !isPowerLevelValue(content[key])) {
      return deny('9.1', `power level ${key} must be an integer, got ${JSON.stringify(content[key])}`);
    }
  }
  for (const key of MAP_KEYS) {
    if (!Object.hasOwn(content, key)) continue;
    const map = content[key];
    if (!isJsonObject(map)) return deny('9.2', `${key} must be an object of integers`);
    for (const [name, value] of Object.entries(map)) {
      if (!isPowerLevelValue(value)) {
        return deny('9.2', `${key}[${JSON.stringify(name)}] must be an integer, got ${JSON.stringify(value)}`);
      }
    }
  }
  // An absent `users` is an empty one (Synapse and Ruma read it so; the
  // schema does not make `users` required); a present one must be well-formed.
  if (Object.hasOwn(content, 'users')) {
    const users = content.users;
    if (!isJsonObject(users)) return deny('9.3', 'users must be an object of user IDs to integers');
    for (const [userId, value] of Object.entries(users)) {
      if (!isValidUserId(userId)) return deny('9.3', `users has ${JSON.stringify(userId)}, which is not a user ID`);
      if (!isPowerLevelValue(value)) {
        return deny('9.3', `users[${JSON.stringify(userId)}] must be an integer, got ${JSON.stringify(value)}`);
      }
    }
  }

  if (state.rules.auth.privilegedCreators) {
    const users = own(content, 'users');
    if (isJsonObject(users)) {
      for (const userId of Object.keys(users)) {
        if (state.creators.has(userId)) {
          return deny('10.4', `users lists ${userId}, a room creator, whose power cannot be set`);
        }
      }
    }
  }

  const previous = state.powerLevels;
  if (!previous) return ALLOW;
  const old = contentOf(previous);
  const sender = event.sender;
  const senderLevel = state.levelOf(sender);

  for (const key of NAMED_KEYS) {
    const before = asPowerLevel(own(old, key));
    const after = asPowerLevel(own(content, key));
    if (before === after) continue;
    if (before !== undefined && before > senderLevel) {
      return deny('9.5.1', `${sender} (power ${senderLevel}) cannot change ${key} from ${before}`);
    }
    if (after !== undefined && after > senderLevel) {
      return deny('9.5.2', `${sender} (power ${senderLevel}) cannot set ${key} to ${after}`);
    }
  }

  for (const key of MAP_KEYS) {
    const before = levelMap(own(old, key));
    const after = levelMap(own(content, key));
    for (const [name, was] of before) {
      if (after.get(name) !== was && was > senderLevel) {
        return deny('9.6.1', `${sender} (power ${senderLevel}) cannot change ${key}[${JSON.stringify(name)}] from ${was}`);
      }
    }
    for (const [name, now] of after) {
      if (before.get(name) !== now && now > senderLevel) {
        return deny('9.7.1', `${sender} (power ${senderLevel}) cannot set ${key}[${JSON.stringify(name)}] to ${now}`);
      }
    }
  }

  const usersBefore = levelMap(own(old, 'users'));
  const usersAfter = levelMap(own(content, 'users'));
  for (const [userId, was] of usersBefore) {
    if (userId === sender || usersAfter.get(userId) === was) continue;
    if (was >= senderLevel) {
      return deny('9.8.1', `${sender} (power ${senderLevel}) cannot change the level of ${userId} from ${was}`);
    }
  }
  for (const [userId, now] of usersAfter) {
    if (usersBefore.get(userId) !== now && now > senderLevel) {
      return deny('9.9.1', `${sender} (power ${senderLevel}) cannot give ${userId} power ${now}`);
    }
  }
  return ALLOW;
}

/**
 * The integer entries of a level map. Entries of any other type count as
 * absent: in the new event rule 9.2/9.3 has already refused them, and in the
 * previous one they cannot be levels anyone holds.
 */
function levelMap(value: JsonObject[string] | undefined): Map<string, number> {
  const out = new Map<string, number>();
  if (!isJsonObject(value)) return out;
  for (const [k, v] of Object.entries(value)) if (isPowerLevelValue(v)) out.set(k, v);
  return out;
}

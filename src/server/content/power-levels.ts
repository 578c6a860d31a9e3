/**
 * Power levels in people's words: the roles the app offers (Admin 100, Moderator 50,
 * Default = the room's `users_default`, anything else Custom) and a sentence for every
 * change an `m.room.power_levels` event makes — people's roles, the default role, and who
 * may do what ("Alice changed who can change the topic from Moderator to Default").
 *
 * Pure: the timeline aggregation (in the worker) and the settings UI (in the page) both
 * use it, so the words in the timeline and in the settings dialog are the same.
 */
import { type JsonObject, isJsonObject } from '../../core/json.ts';

export const ADMIN_LEVEL = 100;
export const MODERATOR_LEVEL = 50;

export type RoleName = 'Admin' | 'Moderator' | 'Default' | 'Custom';

/** The role a level is shown as, given the room's default level for members. */
export function roleOf(level: number, usersDefault = 0): RoleName {
  if (level === ADMIN_LEVEL) return 'Admin';
  if (level === MODERATOR_LEVEL) return 'Moderator';
  if (level === usersDefault) return 'Default';
  return 'Custom';
}

/** "Moderator", or "Custom (75)" where the role alone would not say the level. */
export function roleLabel(level: number, usersDefault = 0): string {
  if (!Number.isFinite(level)) return 'Creator'; // v12's privileged creators: above any level
  const role = roleOf(level, usersDefault);
  return role === 'Custom' ? `Custom (${level})` : role;
}

/** The named actions of a power-levels event, with the spec's defaults (used when a key is absent). */
export const ACTIONS: readonly { key: string; what: string; fallback: number }[] = [
  { key: 'events_default', what: 'send messages', fallback: 0 },
  { key: 'state_default', what: 'change the room settings', fallback: 50 },
  { key: 'invite', what: 'invite people', fallback: 0 },
  { key: 'kick', what: 'remove people', fallback: 50 },
  { key: 'ban', what: 'ban people', fallback: 50 },
  { key: 'redact', what: "delete other people's messages", fallback: 50 },
];

/** What sending an event type lets someone do, for the usual types. */
const EVENT_WHAT: Readonly<Record<string, string>> = {
  'm.room.name': 'change the room name',
  'm.room.topic': 'change the topic',
  'm.room.avatar': 'change the room avatar',
  'm.room.power_levels': 'change permissions',
  'm.room.join_rules': 'change who can join',
  'm.room.history_visibility': 'change who can read history',
  'm.room.guest_access': 'change guest access',
  'm.room.canonical_alias': 'change the main address',
  'm.room.encryption': 'enable encryption',
  'm.room.server_acl': 'change the server access list',
  'm.room.tombstone': 'upgrade the room',
  'm.room.pinned_events': 'pin messages',
  'm.room.message': 'send messages',
  'm.reaction': 'react',
  'm.room.redaction': 'delete their own messages',
  'm.sticker': 'send stickers',
};

/** Event types that are not state: their level falls back to `events_default`, not `state_default`. */
const MESSAGE_TYPES = new Set(['m.room.message', 'm.reaction', 'm.room.redaction', 'm.sticker', 'm.room.encrypted']);

export function whatEventTypeAllows(type: string): string {
  return Object.hasOwn(EVENT_WHAT, type) ? (EVENT_WHAT[type] as string) : `send ${type} events`;
}

function num(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}

function objectOf(value: unknown): JsonObject {
  return isJsonObject(value) ? value : {};
}

/** The level a power-levels content requires for a named action (`kick`, `state_default`, …). */
export function actionLevel(content: JsonObject, key: string): number {
  return num(content[key], ACTIONS.find((a) => a.key === key)?.fallback ?? 0);
}

/** The level needed to send `type`: its own entry, else the state or message default. */
export function eventLevel(content: JsonObject, type: string): number {
  const events = objectOf(content.events);
  if (Object.hasOwn(events, type)) return num(events[type], 0);
  return MESSAGE_TYPES.has(type) ? actionLevel(content, 'events_default') : actionLevel(content, 'state_default');
}

export function userLevel(content: JsonObject, userId: string): number {
  const users = objectOf(content.users);
  return Object.hasOwn(users, userId) ? num(users[userId], 0) : num(content.users_default, 0);
}

export type NameOf = (userId: string) => string;

function article(role: string): string {
  return /^[AEIOU]/.test(role) ? 'an' : 'a';
}

function joinClauses(parts: string[]): string {
  if (parts.length <= 1) return parts.join('');
  return `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)}`;
}

/**
 * Each change `content` makes to `prev`, as a clause to follow the sender's name:
 * "made Bob a Moderator", "changed who can change the topic from Moderator to Default".
 */
export function powerLevelChanges(content: JsonObject, prev: JsonObject, nameOf: NameOf, sender?: string): string[] {
  const out: string[] = [];
  const before = num(prev.users_default, 0);
  const after = num(content.users_default, 0);
  if (before !== after) out.push(`changed the default role from ${roleLabel(before)} to ${roleLabel(after)}`);

  const users = new Set([...Object.keys(objectOf(prev.users)), ...Object.keys(objectOf(content.users))]);
  for (const user of users) {
    const from = userLevel(prev, user);
    const to = userLevel(content, user);
    if (from === to) continue;
    const role = roleLabel(to, after);
    const self = user === sender;
    if (role === 'Admin' || role === 'Moderator') out.push(`made ${self ? 'themselves' : nameOf(user)} ${article(role)} ${role}`);
    else out.push(`changed ${self ? 'their own' : `${nameOf(user)}'s`} role from ${roleLabel(from, before)} to ${role}`);
  }

  const who = (what: string, from: number, to: number) => {
    const [a, b] = [roleLabel(from, before), roleLabel(to, after)];
    // "Default" meant another level before the default changed: then say the levels.
    out.push(`changed who can ${what} from ${a === b ? `level ${from}` : a} to ${a === b ? `level ${to}` : b}`);
  };
  for (const a of ACTIONS) {
    const from = actionLevel(prev, a.key);
    const to = actionLevel(content, a.key);
    if (from !== to) who(a.what, from, to);
  }
  const types = new Set([...Object.keys(objectOf(prev.events)), ...Object.keys(objectOf(content.events))]);
  for (const type of types) {
    const from = eventLevel(prev, type);
    const to = eventLevel(content, type);
    if (from !== to) who(whatEventTypeAllows(type), from, to);
  }
  const room = (c: JsonObject) => num(objectOf(c.notifications).room, 50);
  if (room(prev) !== room(content)) who('notify the whole room', room(prev), room(content));
  return out;
}

/** The timeline's sentence for a power-levels event (`prev`: the content it replaces, if any). */
export function describePowerLevels(
  by: string,
  content: JsonObject,
  prev: JsonObject | undefined,
  nameOf: NameOf,
  sender?: string,
): string {
  if (!prev) return `${by} set the power levels`;
  const changes = powerLevelChanges(content, prev, nameOf, sender);
  if (changes.length === 0) return `${by} changed the power levels`;
  return `${by} ${joinClauses(changes)}`;
}

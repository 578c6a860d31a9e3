/**
 * Reading the auth-relevant state defensively: event content arrives from
 * other servers, so every field may be missing or of the wrong type. Each
 * accessor returns a well-typed value or the spec's default, never throws.
 */
import { isValidUserId, parseRoomId } from '../ids.ts';
import { type JsonObject, isJsonObject } from '../json.ts';
import type { RoomEvent } from '../pdu.ts';
import type { RoomVersionRules } from '../room-versions/types.ts';
import type { StateLookup } from './types.ts';

export const CREATE = 'm.room.create';
export const MEMBER = 'm.room.member';
export const JOIN_RULES = 'm.room.join_rules';
export const POWER_LEVELS = 'm.room.power_levels';
export const THIRD_PARTY_INVITE = 'm.room.third_party_invite';

/** An event's content, or an empty object when it is not an object. */
export function contentOf(ev: { content?: unknown }): JsonObject {
  return isJsonObject(ev.content) ? ev.content : {};
}

/**
 * `obj[key]` only when it is an own property: event types and user IDs are
 * attacker-chosen strings, and `events["constructor"]` must not find
 * Object.prototype's members.
 */
export function own(obj: JsonObject, key: string): JsonObject[string] | undefined {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

/** Server name of a user ID, or undefined when the ID is malformed. */
export function domainOfUser(userId: unknown): string | undefined {
  if (!isValidUserId(userId)) return undefined;
  return userId.slice(userId.indexOf(':') + 1);
}

/** Server name of a room ID, or undefined when the ID is malformed. */
export function domainOfRoom(roomId: unknown): string | undefined {
  if (typeof roomId !== 'string') return undefined;
  try {
    return parseRoomId(roomId).domain;
  } catch {
    return undefined;
  }
}

/**
 * The room creator. v11 takes it from the create event's `sender` (the
 * `creator` content key was dropped); earlier versions from `content.creator`.
 */
export function creatorOf(create: RoomEvent | undefined, rules: RoomVersionRules): string | undefined {
  if (!create) return undefined;
  if (rules.auth.creatorFromSender) return create.sender;
  const creator = contentOf(create).creator;
  return typeof creator === 'string' ? creator : undefined;
}

/**
 * The *room creators* of a v12 room: the create event's sender plus every
 * user ID in `content.additional_creators` (rule 1.4 has checked the list on
 * the create event; entries that are not user IDs are skipped). In earlier
 * versions, the single creator of creatorOf, if any.
 */
export function creatorsOf(create: RoomEvent | undefined, rules: RoomVersionRules): ReadonlySet<string> {
  const out = new Set<string>();
  if (!rules.auth.privilegedCreators) {
    const creator = creatorOf(create, rules);
    if (creator !== undefined) out.add(creator);
    return out;
  }
  if (!create) return out;
  out.add(create.sender);
  const extra = contentOf(create).additional_creators;
  if (Array.isArray(extra)) for (const u of extra) if (isValidUserId(u)) out.add(u);
  return out;
}

/**
 * A user's current membership. A user without a member event has never been
 * in the room, which every rule treats like `leave` (it is not invite, join,
 * knock or ban), so that is what we report. A malformed `membership` cannot be
 * in state (rules 4.1/4.8 reject it), but if one is, it is treated the same.
 */
export function membershipOf(userId: string, state: StateLookup): string {
  const ev = state(MEMBER, userId);
  const membership = ev ? contentOf(ev).membership : undefined;
  return typeof membership === 'string' ? membership : 'leave';
}

/**
 * The room's join rule. The spec does not say what applies when there is no
 * m.room.join_rules event (or it has no `join_rule`); like Synapse and Ruma we
 * use `invite`, the most restrictive rule that still lets invitations work.
 * A present but non-string `join_rule` yields undefined: no rule matches it.
 */
export function joinRuleOf(state: StateLookup): string | undefined {
  const ev = state(JOIN_RULES, '');
  if (!ev) return 'invite';
  const content = contentOf(ev);
  if (!Object.hasOwn(content, 'join_rule')) return 'invite';
  const rule = content.join_rule;
  return typeof rule === 'string' ? rule : undefined;
}

/**
 * The authorization rules of room versions 10, 11, 12 and I.1 (= 10), in the
 * spec's order. Each family of rules lives in its own file:
 *
 * 1 m.room.create (create.ts); 2 the auth events list (auth-events.ts);
 * 3 m.federate; 4 m.room.member (member.ts, third-party-invite.ts);
 * 5 sender must be joined; 6 m.room.third_party_invite; 7 required power
 * level; 8 state keys naming another user; 9 m.room.power_levels
 * (power-levels-rule.ts); 10 allow.
 *
 * Room version 12 inserts rule 2 (the room ID must name an accepted create
 * event, which is not among the auth events) and rule 10.4 (power levels may
 * not list the room creators), so every later rule moves down one number:
 * the shared code reports v11 numbers and v12Rule translates them.
 */
import { type RoomEvent, stateKey } from '../pdu.ts';
import type { RoomVersionRules } from '../room-versions/types.ts';
import { checkAuthEventList } from './auth-events.ts';
import { checkCreate } from './create.ts';
import { checkMember } from './member.ts';
import { namedLevel, requiredPowerForEvent } from './power-levels.ts';
import { checkPowerLevels } from './power-levels-rule.ts';
import { authStateFrom } from './room-state.ts';
import { selectAuthEvents } from './selection.ts';
import { createEventIdOfRoom } from '../ids.ts';
import { CREATE, MEMBER, POWER_LEVELS, THIRD_PARTY_INVITE, contentOf, domainOfUser } from './state.ts';
import { ALLOW, type AuthContext, type AuthDenied, type AuthResult, type StateLookup, deny } from './types.ts';

/**
 * Runs the authorization rules on `event` given its auth events (either its
 * own `auth_events`, resolved, or ones selected from some state).
 */
export function checkAuth(
  event: RoomEvent,
  authEvents: readonly RoomEvent[],
  rules: RoomVersionRules,
  ctx: AuthContext,
): AuthResult {
  if (event.type === CREATE) return checkCreate(event, rules);
  if (!rules.auth.roomIdFromCreateEvent) return checkWithCreate(event, authEvents, rules, ctx, undefined);
  const implied = impliedCreate(event, ctx);
  if (!('create' in implied)) return implied;
  const verdict = checkWithCreate(event, authEvents, rules, ctx, implied.create);
  return verdict.allowed ? verdict : { ...verdict, rule: v12Rule(verdict.rule) };
}

/**
 * v12 rule 2: the event's room_id must be a create event's ID with `!` for
 * `$`, and that create event must be known (AuthContext.createEvent) and not
 * rejected.
 */
function impliedCreate(event: RoomEvent, ctx: AuthContext): { create: RoomEvent } | AuthDenied {
  const roomId: unknown = event.room_id;
  const createId = createEventIdOfRoom(roomId);
  if (createId === undefined) {
    return deny('2', `room ID ${JSON.stringify(roomId)} is not '!' followed by a create event's reference hash`);
  }
  const create = ctx.createEvent?.(roomId as string);
  if (create === undefined || create.event_id !== createId || create.type !== CREATE) {
    return deny('2', `the m.room.create event ${createId} of room ${roomId as string} is not known`);
  }
  if (ctx.rejected?.(createId)) return deny('2', `the m.room.create event ${createId} was rejected`);
  return { create };
}

/**
 * A v11-numbered rule in v12's numbering: rules 2 onwards move down one, and
 * within the power levels rule 9.4 onwards move down one more (10.4 is new).
 * Numbers of the v12-only rules ('2', '10.4') are not produced by the shared code.
 */
export function v12Rule(rule: string): string {
  const parts = rule.split('.').map(Number);
  const top = parts[0]!;
  if (top < 2 || top >= 10 || parts.some((n) => !Number.isInteger(n))) return rule;
  if (top === 9 && parts.length > 1 && parts[1]! >= 4) parts[1]! += 1;
  parts[0] = top + 1;
  return parts.join('.');
}

function checkWithCreate(
  event: RoomEvent,
  authEvents: readonly RoomEvent[],
  rules: RoomVersionRules,
  ctx: AuthContext,
  impliedCreate: RoomEvent | undefined,
): AuthResult {
  const byKey = checkAuthEventList(event, authEvents, rules, ctx);
  if (!(byKey instanceof Map)) return byKey;
  // Rule 2.4 guarantees the create event is there (v12: rule 2 supplied it).
  const create = impliedCreate ?? byKey.get(stateKey(CREATE, ''))!;
  const state = authStateFrom(byKey, create, rules);

  // 3: a room with m.federate false admits only the creating server's users.
  if (contentOf(create)['m.federate'] === false) {
    const ours = domainOfUser(create.sender);
    const theirs = domainOfUser(event.sender);
    if (ours === undefined || theirs !== ours) {
      return deny('3', `the room is not federated and ${event.sender} is not on ${ours ?? 'the creator’s server'}`);
    }
  }

  if (event.type === MEMBER) return checkMember(event, state, ctx);

  const sender = event.sender;
  const membership = state.membershipOf(sender);
  if (membership !== 'join') return deny('5', `${sender} is not joined to the room (membership ${membership})`);

  const senderLevel = state.levelOf(sender);
  if (event.type === THIRD_PARTY_INVITE) {
    const inviteLevel = namedLevel('invite', state.powerLevels);
    if (senderLevel >= inviteLevel) return ALLOW;
    return deny('6.1', `${sender} has power ${senderLevel}, below the invite level ${inviteLevel}`);
  }

  const isState = typeof event.state_key === 'string';
  const required = requiredPowerForEvent(event.type, isState, state.powerLevels);
  if (required > senderLevel) {
    return deny('7', `${event.type} needs power ${required}; ${sender} has ${senderLevel}`);
  }

  if (typeof event.state_key === 'string' && event.state_key.startsWith('@') && event.state_key !== sender) {
    return deny('8', `${sender} cannot set state keyed by another user, ${event.state_key}`);
  }

  if (event.type === POWER_LEVELS) return checkPowerLevels(event, state);
  return ALLOW;
}

/** Selects `event`'s auth events from `state` (auth events selection) and runs checkAuth on them. */
export function checkAuthAgainstState(
  event: RoomEvent,
  state: StateLookup,
  rules: RoomVersionRules,
  ctx: AuthContext,
): AuthResult {
  // v12: the create event of the state at the event is the room's one if rule 2 finds it so.
  const withCreate: AuthContext = rules.auth.roomIdFromCreateEvent
    ? { ...ctx, createEvent: (roomId) => ctx.createEvent?.(roomId) ?? state(CREATE, '') }
    : ctx;
  return checkAuth(event, selectAuthEvents(event, state, rules), rules, withCreate);
}

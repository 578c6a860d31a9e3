/**
 * The authorization rules of room versions 10, 11 and I.1 (= 10), in the
 * spec's order. Each family of rules lives in its own file:
 *
 * 1 m.room.create (create.ts); 2 the auth events list (auth-events.ts);
 * 3 m.federate; 4 m.room.member (member.ts, third-party-invite.ts);
 * 5 sender must be joined; 6 m.room.third_party_invite; 7 required power
 * level; 8 state keys naming another user; 9 m.room.power_levels
 * (power-levels-rule.ts); 10 allow.
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
import { CREATE, MEMBER, POWER_LEVELS, THIRD_PARTY_INVITE, contentOf, domainOfUser } from './state.ts';
import { ALLOW, type AuthContext, type AuthResult, type StateLookup, deny } from './types.ts';

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

  const byKey = checkAuthEventList(event, authEvents, rules, ctx);
  if (!(byKey instanceof Map)) return byKey;
  // Rule 2.4 guarantees the create event is there.
  const create = byKey.get(stateKey(CREATE, ''))!;
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
  return checkAuth(event, selectAuthEvents(event, state, rules), rules, ctx);
}

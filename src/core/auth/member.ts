/**
 * Rule 4 of the authorization rules (room versions 10 and 11): m.room.member.
 *
 * 4.1 no state_key or no membership → reject.
 * 4.2.1 `join_authorised_via_users_server` present and the event not signed
 *       by that user's server → reject.
 * 4.3 join: 4.3.1 creator's first join → allow; 4.3.2 sender ≠ state_key →
 *     reject; 4.3.3 sender banned → reject; 4.3.4 invite/knock rule → allow
 *     if invited or joined; 4.3.5 restricted/knock_restricted → allow if
 *     invited or joined (4.3.5.1), reject unless the authorising user is a
 *     joined member able to invite (4.3.5.2), else allow (4.3.5.3); 4.3.6
 *     public → allow; 4.3.7 otherwise reject.
 * 4.4 invite: 4.4.1 third-party invites (third-party-invite.ts); 4.4.2
 *     sender not joined → reject; 4.4.3 target joined or banned → reject;
 *     4.4.4 sender ≥ invite level → allow; 4.4.5 otherwise reject.
 * 4.5 leave: 4.5.1 own leave allowed iff invited, joined or knocking; 4.5.2
 *     sender not joined → reject; 4.5.3 target banned and sender < ban level
 *     → reject; 4.5.4 sender ≥ kick level and target < sender → allow;
 *     4.5.5 otherwise reject.
 * 4.6 ban: 4.6.1 sender not joined → reject; 4.6.2 sender ≥ ban level and
 *     target < sender → allow; 4.6.3 otherwise reject.
 * 4.7 knock: 4.7.1 join rule not knock/knock_restricted → reject; 4.7.2
 *     sender ≠ state_key → reject; 4.7.3 sender not banned, invited or
 *     joined → allow; 4.7.4 otherwise reject.
 * 4.8 any other membership → reject.
 */
import type { RoomEvent } from '../pdu.ts';
import { namedLevel } from './power-levels.ts';
import type { AuthState } from './room-state.ts';
import { contentOf, creatorOf, domainOfUser } from './state.ts';
import { checkThirdPartyInvite } from './third-party-invite.ts';
import { ALLOW, type AuthContext, type AuthResult, deny } from './types.ts';

export function checkMember(event: RoomEvent, state: AuthState, ctx: AuthContext): AuthResult {
  const content = contentOf(event);
  const target = event.state_key;
  if (typeof target !== 'string') return deny('4.1', 'an m.room.member event must have a state_key');
  if (!Object.hasOwn(content, 'membership')) return deny('4.1', 'an m.room.member event must have content.membership');

  if (Object.hasOwn(content, 'join_authorised_via_users_server')) {
    const via = content.join_authorised_via_users_server;
    const server = domainOfUser(via);
    if (server === undefined) {
      return deny('4.2.1', `join_authorised_via_users_server ${JSON.stringify(via)} is not a user ID`);
    }
    if (!ctx.isSignedBy(event, server)) {
      return deny('4.2.1', `the event is not signed by ${server}, the server of join_authorised_via_users_server ${via}`);
    }
  }

  const membership = content.membership;
  const { rules } = state;
  switch (membership) {
    case 'join':
      return checkJoin(event, target, state);
    case 'invite':
      return checkInvite(event, target, state);
    case 'leave':
      return checkLeave(event, target, state);
    case 'ban':
      return checkBan(event, target, state);
    case 'knock':
      // Knocking exists from room version 7; before it `knock` is just an unknown membership.
      if (rules.auth.knocking) return checkKnock(event, target, state);
      break;
    default:
      break;
  }
  return deny('4.8', `unknown membership ${JSON.stringify(membership)}`);
}

function isRestrictedRule(joinRule: string | undefined, state: AuthState): boolean {
  const { auth } = state.rules;
  return (joinRule === 'restricted' && auth.restrictedJoins) || (joinRule === 'knock_restricted' && auth.knockRestricted);
}

function isKnockRule(joinRule: string | undefined, state: AuthState): boolean {
  const { auth } = state.rules;
  return (joinRule === 'knock' && auth.knocking) || (joinRule === 'knock_restricted' && auth.knockRestricted);
}

function checkJoin(event: RoomEvent, target: string, state: AuthState): AuthResult {
  // 4.3.1: the creator's own join straight after the create event. "The only
  // previous event is the m.room.create" means prev_events is exactly [create].
  const prev: unknown = event.prev_events;
  if (
    Array.isArray(prev) &&
    prev.length === 1 &&
    prev[0] === state.create.event_id &&
    target === creatorOf(state.create, state.rules)
  ) {
    return ALLOW;
  }
  if (event.sender !== target) return deny('4.3.2', `${event.sender} cannot join on behalf of ${target}`);

  const current = state.membershipOf(target);
  if (current === 'ban') return deny('4.3.3', `${target} is banned`);

  const joinRule = state.joinRule;
  if (joinRule === 'invite' || (joinRule === 'knock' && state.rules.auth.knocking)) {
    if (current === 'invite' || current === 'join') return ALLOW;
    // The spec's 4.3.4 only allows; a refusal falls through to 4.3.7.
    return deny('4.3.7', `the join rule is ${joinRule} and ${target} is not invited (membership ${current})`);
  }

  if (isRestrictedRule(joinRule, state)) {
    if (current === 'join' || current === 'invite') return ALLOW;
    const via = contentOf(event).join_authorised_via_users_server;
    if (typeof via !== 'string') {
      return deny('4.3.5.2', `the join rule is ${joinRule} and no join_authorised_via_users_server is given`);
    }
    if (state.membershipOf(via) !== 'join') {
      return deny('4.3.5.2', `the authorising user ${via} is not joined to the room`);
    }
    const inviteLevel = namedLevel('invite', state.powerLevels);
    const level = state.levelOf(via);
    if (level < inviteLevel) {
      return deny('4.3.5.2', `the authorising user ${via} has power ${level}, below the invite level ${inviteLevel}`);
    }
    return ALLOW;
  }

  if (joinRule === 'public') return ALLOW;
  return deny('4.3.7', `the join rule ${JSON.stringify(joinRule)} does not let ${target} join`);
}

function checkInvite(event: RoomEvent, target: string, state: AuthState): AuthResult {
  if (Object.hasOwn(contentOf(event), 'third_party_invite')) return checkThirdPartyInvite(event, target, state);

  const sender = event.sender;
  const senderMembership = state.membershipOf(sender);
  if (senderMembership !== 'join') {
    return deny('4.4.2', `${sender} cannot invite because they are not joined (membership ${senderMembership})`);
  }
  const targetMembership = state.membershipOf(target);
  if (targetMembership === 'join') return deny('4.4.3', `${target} is already joined`);
  if (targetMembership === 'ban') return deny('4.4.3', `${target} is banned`);

  const inviteLevel = namedLevel('invite', state.powerLevels);
  const level = state.levelOf(sender);
  if (level >= inviteLevel) return ALLOW;
  return deny('4.4.5', `${sender} has power ${level}, below the invite level ${inviteLevel}`);
}

function checkLeave(event: RoomEvent, target: string, state: AuthState): AuthResult {
  const sender = event.sender;
  if (sender === target) {
    const current = state.membershipOf(target);
    if (current === 'invite' || current === 'join' || current === 'knock') return ALLOW;
    return deny('4.5.1', `${target} cannot leave with membership ${current}`);
  }
  const senderMembership = state.membershipOf(sender);
  if (senderMembership !== 'join') {
    return deny('4.5.2', `${sender} cannot kick or unban because they are not joined (membership ${senderMembership})`);
  }
  const senderLevel = state.levelOf(sender);
  const banLevel = namedLevel('ban', state.powerLevels);
  if (state.membershipOf(target) === 'ban' && senderLevel < banLevel) {
    return deny('4.5.3', `${sender} has power ${senderLevel}, below the ban level ${banLevel} needed to unban ${target}`);
  }
  const kickLevel = namedLevel('kick', state.powerLevels);
  const targetLevel = state.levelOf(target);
  if (senderLevel >= kickLevel && targetLevel < senderLevel) return ALLOW;
  return deny(
    '4.5.5',
    senderLevel < kickLevel
      ? `${sender} has power ${senderLevel}, below the kick level ${kickLevel}`
      : `${sender} (power ${senderLevel}) cannot kick ${target} (power ${targetLevel})`,
  );
}

function checkBan(event: RoomEvent, target: string, state: AuthState): AuthResult {
  const sender = event.sender;
  const senderMembership = state.membershipOf(sender);
  if (senderMembership !== 'join') {
    return deny('4.6.1', `${sender} cannot ban because they are not joined (membership ${senderMembership})`);
  }
  const senderLevel = state.levelOf(sender);
  const banLevel = namedLevel('ban', state.powerLevels);
  const targetLevel = state.levelOf(target);
  if (senderLevel >= banLevel && targetLevel < senderLevel) return ALLOW;
  return deny(
    '4.6.3',
    senderLevel < banLevel
      ? `${sender} has power ${senderLevel}, below the ban level ${banLevel}`
      : `${sender} (power ${senderLevel}) cannot ban ${target} (power ${targetLevel})`,
  );
}

function checkKnock(event: RoomEvent, target: string, state: AuthState): AuthResult {
  const joinRule = state.joinRule;
  if (!isKnockRule(joinRule, state)) {
    return deny('4.7.1', `the join rule ${JSON.stringify(joinRule)} does not allow knocking`);
  }
  if (event.sender !== target) return deny('4.7.2', `${event.sender} cannot knock on behalf of ${target}`);
  const current = state.membershipOf(target);
  if (current !== 'ban' && current !== 'invite' && current !== 'join') return ALLOW;
  return deny('4.7.4', `${target} cannot knock with membership ${current}`);
}

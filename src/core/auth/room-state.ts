/**
 * The room state that rules 3 onwards consult: the auth events (or the state
 * they were selected from), with the power level and membership questions
 * the rules keep asking precomputed into one object.
 */
import { type RoomEvent, stateKey } from '../pdu.ts';
import type { RoomVersionRules } from '../room-versions/types.ts';
import { powerLevelOf } from './power-levels.ts';
import { POWER_LEVELS, creatorsOf, joinRuleOf, membershipOf } from './state.ts';
import type { StateLookup } from './types.ts';

export interface AuthState {
  readonly rules: RoomVersionRules;
  readonly lookup: StateLookup;
  readonly create: RoomEvent;
  /** The current m.room.power_levels event, if the room has one yet. */
  readonly powerLevels: RoomEvent | undefined;
  /** The join rule, `invite` when none is set (see joinRuleOf). */
  readonly joinRule: string | undefined;
  /** The room creators (creatorsOf): v12's privileged creators, or the single creator before. */
  readonly creators: ReadonlySet<string>;
  levelOf(userId: string): number;
  membershipOf(userId: string): string;
}

export function authStateFrom(byKey: ReadonlyMap<string, RoomEvent>, create: RoomEvent, rules: RoomVersionRules): AuthState {
  const lookup: StateLookup = (type, key) => byKey.get(stateKey(type, key));
  const powerLevels = lookup(POWER_LEVELS, '');
  return {
    rules,
    lookup,
    create,
    powerLevels,
    joinRule: joinRuleOf(lookup),
    creators: creatorsOf(create, rules),
    levelOf: (userId) => powerLevelOf(userId, powerLevels, create, rules),
    membershipOf: (userId) => membershipOf(userId, lookup),
  };
}

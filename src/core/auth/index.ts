/** Auth events selection and the authorization rules (room versions 10, 11, 12, I.1). */
export { KNOWN_ROOM_VERSIONS } from './create.ts';
export {
  type NamedLevel,
  CREATOR_POWER,
  asPowerLevel,
  isPowerLevelValue,
  namedLevel,
  powerLevelOf,
  requiredPowerForEvent,
} from './power-levels.ts';
export { checkAuth, checkAuthAgainstState, v12Rule } from './rules.ts';
export { type SelectableEvent, authTypesForEvent, selectAuthEvents } from './selection.ts';
export { creatorOf, creatorsOf, joinRuleOf, membershipOf } from './state.ts';
export type { AuthAllowed, AuthContext, AuthDenied, AuthResult, StateLookup } from './types.ts';

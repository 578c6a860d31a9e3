/** Auth events selection and the authorization rules (room versions 10, 11, I.1). */
export { KNOWN_ROOM_VERSIONS } from './create.ts';
export {
  type NamedLevel,
  asPowerLevel,
  isPowerLevelValue,
  namedLevel,
  powerLevelOf,
  requiredPowerForEvent,
} from './power-levels.ts';
export { checkAuth, checkAuthAgainstState } from './rules.ts';
export { type SelectableEvent, authTypesForEvent, selectAuthEvents } from './selection.ts';
export { creatorOf, joinRuleOf, membershipOf } from './state.ts';
export type { AuthAllowed, AuthContext, AuthDenied, AuthResult, StateLookup } from './types.ts';

/**
 * Shared vocabulary of the authorization rules: the verdict, what the caller
 * must supply that the rules cannot compute themselves, and a state lookup.
 */
import type { RoomEvent } from '../pdu.ts';

/**
 * The verdict of the authorization rules. A denial names the rule that
 * rejected the event in the spec's numbering (e.g. "4.3.3") so logs, tests
 * and the UI can point at the exact sentence of the spec.
 */
export type AuthResult = AuthAllowed | AuthDenied;
export type AuthAllowed = { allowed: true };
export type AuthDenied = { allowed: false; rule: string; reason: string };

/** What the rules need from the engine but cannot work out from events alone. */
export interface AuthContext {
  /**
   * Whether `event` carries a valid signature by `serverName` (rule 4.2.1,
   * `join_authorised_via_users_server`). Signature checking needs server keys,
   * which live in the engine, not in the pure core.
   */
  isSignedBy(event: RoomEvent, serverName: string): boolean;
  /** Whether an event was rejected under the checks performed on receipt of a PDU (rule 2.3). */
  rejected?: (eventId: string) => boolean;
  /**
   * Room version 12: the room's m.room.create event, i.e. the event whose ID
   * is `roomId` with `$` for `!` (undefined when unknown). The create event is
   * not among a v12 event's auth events; rule 2 needs it from here.
   */
  createEvent?: (roomId: string) => RoomEvent | undefined;
}

/** Looks up a room state entry by type and state key. */
export type StateLookup = (type: string, stateKey: string) => RoomEvent | undefined;

export const ALLOW: AuthAllowed = Object.freeze({ allowed: true });

export function deny(rule: string, reason: string): AuthDenied {
  return { allowed: false, rule, reason };
}

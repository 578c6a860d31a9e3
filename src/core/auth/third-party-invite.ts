/**
 * Rule 4.4.1 of the authorization rules: an invite that redeems a
 * third-party invite (m.room.member with `content.third_party_invite`).
 *
 * 4.4.1.1 target banned → reject; 4.4.1.2 no `signed` → reject; 4.4.1.3
 * `signed` lacks `mxid` or `token` → reject; 4.4.1.4 `mxid` ≠ state_key →
 * reject; 4.4.1.5 no m.room.third_party_invite with state_key `token` →
 * reject; 4.4.1.6 sender ≠ that event's sender → reject; 4.4.1.7 any
 * signature in `signed` verifies under `public_key` or any
 * `public_keys[].public_key` → allow; 4.4.1.8 otherwise reject.
 */
import { decodeBase64 } from '../base64.ts';
import { canonicalJsonBytes } from '../canonical-json.ts';
import { verifyStrictSync } from '../ed25519.ts';
import { type JsonObject, isJsonObject } from '../json.ts';
import type { RoomEvent } from '../pdu.ts';
import type { AuthState } from './room-state.ts';
import { THIRD_PARTY_INVITE, contentOf } from './state.ts';
import { ALLOW, type AuthResult, deny } from './types.ts';

export function checkThirdPartyInvite(event: RoomEvent, target: string, state: AuthState): AuthResult {
  if (state.membershipOf(target) === 'ban') return deny('4.4.1.1', `${target} is banned`);

  const tpi = contentOf(event).third_party_invite;
  const signed = isJsonObject(tpi) ? tpi.signed : undefined;
  if (!isJsonObject(signed)) return deny('4.4.1.2', 'third_party_invite has no signed object');

  const { mxid, token } = signed;
  if (typeof mxid !== 'string' || typeof token !== 'string') {
    return deny('4.4.1.3', 'third_party_invite.signed needs string mxid and token properties');
  }
  if (mxid !== target) return deny('4.4.1.4', `third_party_invite.signed.mxid ${mxid} is not the invitee ${target}`);

  const invite = state.lookup(THIRD_PARTY_INVITE, token);
  if (!invite) return deny('4.4.1.5', `there is no m.room.third_party_invite with token ${JSON.stringify(token)}`);
  if (invite.sender !== event.sender) {
    return deny('4.4.1.6', `the third-party invite was issued by ${invite.sender}, not ${event.sender}`);
  }

  if (anySignatureMatches(signed, publicKeysOf(invite))) return ALLOW;
  return deny('4.4.1.8', 'no signature in third_party_invite.signed matches a public key of the m.room.third_party_invite');
}

/** The keys of rule 4.4.1.7: `public_key` and each `public_keys[].public_key`, base64-decoded; undecodable ones skipped. */
function publicKeysOf(invite: RoomEvent): Uint8Array[] {
  const content = contentOf(invite);
  const encoded: unknown[] = [content.public_key];
  if (Array.isArray(content.public_keys)) {
    for (const entry of content.public_keys) if (isJsonObject(entry)) encoded.push(entry.public_key);
  }
  const keys: Uint8Array[] = [];
  for (const k of encoded) {
    if (typeof k !== 'string') continue;
    try {
      keys.push(decodeBase64(k));
    } catch {
      // Not base64: no signature can match it.
    }
  }
  return keys;
}

/**
 * Signing JSON: the signatures cover the canonical JSON of `signed` without
 * `signatures` and `unsigned`. The spec says "any signature", so every entry
 * of every server is tried, whatever its key ID says.
 */
function anySignatureMatches(signed: JsonObject, keys: readonly Uint8Array[]): boolean {
  if (keys.length === 0 || !isJsonObject(signed.signatures)) return false;
  const { signatures, unsigned: _unsigned, ...rest } = signed;
  let message: Uint8Array;
  try {
    message = canonicalJsonBytes(rest);
  } catch {
    return false; // Not canonical JSON (e.g. a float): nothing can have signed it.
  }
  for (const byServer of Object.values(signatures)) {
    if (!isJsonObject(byServer)) continue;
    for (const sig of Object.values(byServer)) {
      if (typeof sig !== 'string') continue;
      let sigBytes: Uint8Array;
      try {
        sigBytes = decodeBase64(sig);
      } catch {
        continue;
      }
      for (const key of keys) if (verifies(sigBytes, message, key)) return true;
    }
  }
  return false;
}

function verifies(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  try {
    return verifyStrictSync(signature, message, publicKey);
  } catch {
    return false; // A key that is not a curve point cannot verify anything.
  }
}

/**
 * Checking an event's signatures ("Validating hashes and signatures on
 * received events"): the signature covers the *redacted* event, and a Hearth
 * server's verify key is the Ed25519 key inside its PeerId name.
 */
import { decodeBase64 } from './base64.ts';
import { eventSigningBytes } from './hashing.ts';
import type { JsonObject } from './json.ts';
import { publicKeyFromPeerId } from './peer-id.ts';
import type { Pdu } from './pdu.ts';
import type { RoomVersionRules } from './room-versions/types.ts';
import { findSignature } from './signing.ts';
import { type Ed25519Verifier, verifyStrictSync } from './ed25519.ts';

/** Explicit verify keys: server name -> key ID -> unpadded base64 public key. */
export type KeyRing = Record<string, Record<string, string>>;

/** Key IDs under which `serverName` signed `event`. */
function signatureKeyIds(serverName: string, event: JsonObject): string[] {
  const sigs = event.signatures as Record<string, Record<string, unknown>> | undefined;
  const mine = sigs && typeof sigs === 'object' ? sigs[serverName] : undefined;
  return mine && typeof mine === 'object' ? Object.keys(mine).filter((k) => k.startsWith('ed25519:')) : [];
}

/**
 * Whether `event` carries a valid signature by `serverName`, synchronously
 * (pure backend). A PeerId server's key signs under any ed25519 key ID.
 */
export function isEventSignedBy(
  eventIn: JsonObject | Pdu,   serverName: string,
  rules: RoomVersionRules,
  keyRing: KeyRing = {},
): boolean {
  const event = eventIn as JsonObject;
  const candidates = candidatesFor(event, serverName, keyRing);
  if (candidates.length === 0) return false;
  let message: Uint8Array;
  try {
    message = eventSigningBytes(event, rules);
  } catch {
    return false;
  }
  return candidates.some(([sig, key]) => verifyStrictSync(sig, message, key));
}

/** The same check with any backend (WebCrypto on the hot path). */
export async function isEventSignedByAsync(
  eventIn: JsonObject | Pdu,
  serverName: string,
  rules: RoomVersionRules,
  verifier: Ed25519Verifier,
  keyRing: KeyRing = {},
  /** The event's signing bytes when the caller already has them (see eventDigest). */
  precomputed?: Uint8Array,
): Promise<boolean> {
  const event = eventIn as JsonObject;
  const candidates = candidatesFor(event, serverName, keyRing);
  if (candidates.length === 0) return false;
  let message: Uint8Array;
  try {
    message = precomputed ?? eventSigningBytes(event, rules);
  } catch {
    return false;
  }
  for (const [sig, key] of candidates) if (await verifier.verify(sig, message, key)) return true;
  return false;
}

function candidatesFor(event: JsonObject, serverName: string, keyRing: KeyRing): [Uint8Array, Uint8Array][] {
  const out: [Uint8Array, Uint8Array][] = [];
  const peerKey = publicKeyFromPeerId(serverName);
  for (const keyId of signatureKeyIds(serverName, event)) {
    const sig = findSignature(event, serverName, keyId);
    if (!sig) continue;
    const ringKey = keyRing[serverName]?.[keyId];
    if (ringKey) {
      try {
        out.push([sig, decodeBase64(ringKey)]);
      } catch {
        // unusable ring key: fall through to the PeerId key
      }
    }
    if (peerKey) out.push([sig, peerKey]);
  }
  return out;
}

/** Whether the event carries any signature entry from `serverName` (no key known to check it). */
export function hasSignatureFrom(event: JsonObject | Pdu, serverName: string): boolean {
  return signatureKeyIds(serverName, event as JsonObject).length > 0;
}

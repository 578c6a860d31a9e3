/**
 * Content hashes, reference hashes and event IDs (room versions 4+), and
 * signing events (server-server API "Signing events").
 *
 * - Content hash: SHA-256 of the canonical JSON of the event without
 *   `unsigned`, `signatures` and `hashes`.
 * - Reference hash: SHA-256 of the canonical JSON of the *redacted* event
 *   without `signatures` and `unsigned`.
 * - Event ID: `$` + URL-safe unpadded base64 of the reference hash.
 *
 * An `event_id` member that tools and our own storage attach to events is not
 * part of a v4+ event and is removed before any of these. The exception is an
 * `event_id` of the v1–v3 form `$opaque:domain`: in old-format events it is a
 * real, signed field, and the spec's own signing test vectors (appendix,
 * "Event Signing") carry one and include it in their hashes and signatures.
 * A v4+ event ID never contains ':', so the two cases cannot be confused.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { decodeBase64, encodeBase64, encodeBase64Url } from './base64.ts';
import { sameBytes } from './bytes.ts';
import { canonicalJsonBytes } from './canonical-json.ts';
import { type JsonObject, type JsonRecord, isJsonObject } from './json.ts';
import { redactEvent } from './redaction.ts';
import type { RoomVersionRules } from './room-versions/types.ts';
import { signJson, signingBytes } from './signing.ts';

/** Whether `event_id` is a tool annotation (anything but a legacy `$opaque:domain` ID). */
function isAnnotatedEventId(event: JsonRecord): boolean {
  if (!Object.hasOwn(event, 'event_id')) return false;
  const id = event.event_id;
  return !(typeof id === 'string' && id.includes(':'));
}

/** The event as it is hashed and signed: without a tool-supplied `event_id`. */
export function withoutEventId(eventIn: JsonRecord): JsonObject {
  const event = eventIn as JsonObject;
  if (!isAnnotatedEventId(event)) return event;
  const { event_id: _id, ...rest } = event;
  return rest;
}

/** What the content hash covers: the canonical event without unsigned, signatures and hashes. */
export function contentHashInput(event: JsonRecord): Uint8Array {
  const { unsigned: _u, signatures: _s, hashes: _h, ...rest } = withoutEventId(event);
  return canonicalJsonBytes(rest);
}

export function contentHashBytes(event: JsonRecord): Uint8Array {
  return sha256(contentHashInput(event));
}

/** The claimed content hash (`hashes.sha256`) decoded, or undefined when absent or not base64. */
export function claimedContentHash(event: JsonRecord): Uint8Array | undefined {
  const hashes = event.hashes;
  if (!isJsonObject(hashes) || typeof hashes.sha256 !== 'string') return undefined;
  try {
    return decodeBase64(hashes.sha256);
  } catch {
    return undefined;
  }
}

/** Unpadded base64 of the content hash. */
export function computeContentHash(event: JsonRecord): string {
  return encodeBase64(contentHashBytes(event));
}

/** Returns a copy with `hashes.sha256` set to the content hash (other hash algorithms kept). */
export function addContentHash<T extends JsonObject>(event: T): T & { hashes: { sha256: string } } {
  const hashes = isJsonObject(event.hashes) ? event.hashes : {};
  return { ...event, hashes: { ...hashes, sha256: computeContentHash(event) } } as T & { hashes: { sha256: string } };
}

/** Whether `hashes.sha256` matches the content (false when absent or not base64). */
export function contentHashMatches(event: JsonRecord): boolean {
  const claimed = claimedContentHash(event);
  return claimed !== undefined && sameBytes(claimed, contentHashBytes(event));
}

export function referenceHash(event: JsonRecord, rules: RoomVersionRules): Uint8Array {
  const redacted = redactEvent(withoutEventId(event), rules);
  const { signatures: _s, unsigned: _u, ...rest } = redacted;
  return sha256(canonicalJsonBytes(rest));
}

/**
 * The reference hash's input and the signature's input are the same bytes
 * (the redacted event without signatures and unsigned): compute them once.
 */
export function eventDigest(event: JsonRecord, rules: RoomVersionRules): { eventId: string; signingBytes: Uint8Array } {
  const bytes = referenceHashInput(event, rules);
  return { eventId: eventIdFromReferenceHash(sha256(bytes)), signingBytes: bytes };
}

/** What the reference hash (and an event signature) covers: the redacted event without signatures and unsigned. */
export function referenceHashInput(event: JsonRecord, rules: RoomVersionRules): Uint8Array {
  const redacted = redactEvent(withoutEventId(event), rules);
  const { signatures: _s, unsigned: _u, ...rest } = redacted;
  return canonicalJsonBytes(rest);
}

export function eventIdFromReferenceHash(hash: Uint8Array): string {
  return `$${encodeBase64Url(hash)}`;
}

export function computeEventId(event: JsonRecord, rules: RoomVersionRules): string {
  return `$${encodeBase64Url(referenceHash(event, rules))}`;
}

/**
 * Hashes and signs an event: content hash first, then the signature over the
 * *redacted* event (so a redacted copy still verifies).
 */
export function signEvent<T extends JsonObject>(
  event: T,
  rules: RoomVersionRules,
  serverName: string,
  keyId: string,
  seed: Uint8Array,
): T & { hashes: { sha256: string }; signatures: Record<string, Record<string, string>> } {
  const hashed = addContentHash(withoutEventId(event));
  const redacted = redactEvent(hashed, rules);
  const signed = signJson(redacted, serverName, keyId, seed);
  const out = { ...hashed, signatures: signed.signatures };
  if (isAnnotatedEventId(event)) (out as JsonObject).event_id = event.event_id!;
  return out as T & { hashes: { sha256: string }; signatures: Record<string, Record<string, string>> };
}

/** The bytes an event signature covers: the redacted event minus signatures and unsigned. */
export function eventSigningBytes(event: JsonRecord, rules: RoomVersionRules): Uint8Array {
  return signingBytes(redactEvent(withoutEventId(event), rules));
}

/**
 * The redaction algorithm (room versions 10 and 11 differ; I.1 is v10, 12 is v11):
 * strip every top-level key not in the version's keep-list, and every content
 * key not kept for the event's type. Used for redactions, reference hashes
 * (event IDs), event signatures, and events whose content hash is wrong.
 */
import { type JsonObject, type JsonRecord, isJsonObject } from './json.ts';
import type { RoomVersionRules } from './room-versions/types.ts';

export function redactEvent(eventIn: JsonRecord, rules: RoomVersionRules): JsonObject {
  const event = eventIn as JsonObject;
  const { keepTopLevel, keepContent, keepThirdPartyInviteSigned } = rules.redaction;
  const out: JsonObject = {};
  // Keys keep their order (content in its own place), so an event whose keys
  // arrived sorted gives a redacted form that is still sorted: canonicalJson's
  // fast path then applies to the signing bytes too.
  for (const [key, value] of Object.entries(event)) {
    if (key === 'content') out.content = {};
    else if (keepTopLevel.has(key)) out[key] = value;
  }
  const type = typeof event.type === 'string' ? event.type : '';
  const content = isJsonObject(event.content) ? event.content : {};
  const keep = Object.hasOwn(keepContent, type) ? keepContent[type] : undefined;
  const newContent: JsonObject = {};
  if (keep === 'all') {
    Object.assign(newContent, content);
  } else if (keep) {
    for (const key of keep) if (Object.hasOwn(content, key)) newContent[key] = content[key]!;
  }
  if (keepThirdPartyInviteSigned && type === 'm.room.member') {
    const tpi = content.third_party_invite;
    if (isJsonObject(tpi) && Object.hasOwn(tpi, 'signed')) newContent.third_party_invite = { signed: tpi.signed! };
  }
  // A redacted event always has a content object, even if the original lacked one.
  if ('content' in event || keepTopLevel.has('content')) out.content = newContent;
  return out;
}

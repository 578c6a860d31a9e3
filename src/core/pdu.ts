/**
 * The persistent data unit (PDU) of room versions 4 and up (`pdu_v4` in the
 * Server-Server API), and its format validation: size limits, field types,
 * ranges. Validation is the first of the checks performed on receipt of a PDU.
 */
import { canonicalJson } from './canonical-json.ts';
import { InvalidPduError } from './errors.ts';
import { MAX_ID_BYTES, isHashRoomId, isValidEventId, parseRoomId, parseUserId, utf8Length } from './ids.ts';
import type { RoomVersionRules } from './room-versions/types.ts';
import { type JsonObject, type JsonValue, isJsonObject } from './json.ts';

export type Signatures = Record<string, Record<string, string>>;

/** A PDU as sent over federation (no event_id: it is derived from the content). */
export interface Pdu {
  room_id: string;
  sender: string;
  type: string;
  state_key?: string;
  content: JsonObject;
  origin_server_ts: number;
  depth: number;
  prev_events: string[];
  auth_events: string[];
  hashes: { sha256: string } & JsonObject;
  signatures: Signatures;
  unsigned?: JsonObject;
  /** v10: top-level `redacts` on m.room.redaction; v11 moves it into content. */
  redacts?: string;
  /** Present in v10 events (kept by v10 redaction, dropped by v11). */
  origin?: string;
  /** Tools print it; for room versions 4+ it is not part of the event. */
  event_id?: string;
  [key: string]: JsonValue | undefined;
}

/** A PDU together with its (computed or given) event ID: what auth and state resolution handle. */
export type RoomEvent = Pdu & { event_id: string };

export function isStateEvent(ev: { state_key?: unknown }): boolean {
  return typeof ev.state_key === 'string';
}

/** Key of a state entry: type and state_key joined by NUL (neither may contain NUL in practice). */
export type StateKey = string;
export function stateKey(type: string, key: string): StateKey {
  return `${type}\u0000${key}`;
}
export function splitStateKey(k: StateKey): [type: string, stateKey: string] {
  const i = k.indexOf('\u0000');
  return [k.slice(0, i), k.slice(i + 1)];
}

export const MAX_PDU_BYTES = 65_536;
export const MAX_PREV_EVENTS = 20;
export const MAX_AUTH_EVENTS = 10;
/** depth and origin_server_ts are integers in [0, 2^53-1] (canonical JSON's range). */
export const MAX_INT = Number.MAX_SAFE_INTEGER;

function fail(message: string): never {
  throw new InvalidPduError('M_BAD_JSON', message);
}

function requireString(ev: JsonObject, key: string, maxBytes?: number): string {
  const v = ev[key];
  if (typeof v !== 'string') fail(`${key} must be a string, got ${describeValue(v)}`);
  if (maxBytes !== undefined && utf8Length(v) > maxBytes) fail(`${key} is longer than ${maxBytes} bytes`);
  return v;
}

function requireInt(ev: JsonObject, key: string): number {
  const v = ev[key];
  if (typeof v !== 'number' || !Number.isInteger(v)) fail(`${key} must be an integer, got ${describeValue(v)}`);
  if (v < 0 || v > MAX_INT) fail(`${key} ${v} is outside [0, 2^53-1]`);
  return v;
}

function requireIdList(ev: JsonObject, key: string, max: number): string[] {
  const v = ev[key];
  if (!Array.isArray(v)) fail(`${key} must be an array of event IDs, got ${describeValue(v)}`);
  if (v.length > max) fail(`${key} has ${v.length} entries; at most ${max} are allowed`);
  const seen = new Set<string>();
  for (const id of v) {
    if (!isValidEventId(id)) fail(`${key} contains an invalid event ID ${JSON.stringify(id)}`);
    if (seen.has(id)) fail(`${key} lists ${id} twice`);
    seen.add(id);
  }
  return v as string[];
}

function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'number' ? `the number ${v}` : typeof v;
}

function checkRoomIdField(raw: JsonObject, rules: RoomVersionRules | undefined): void {
  const isCreate = raw.type === 'm.room.create';
  const hashIds = rules?.auth.roomIdFromCreateEvent;
  if (isCreate && hashIds !== false && !('room_id' in raw)) return;
  const roomId = requireString(raw, 'room_id', MAX_ID_BYTES);
  // A v12 create event with a room_id is well-formed JSON; auth rule 1.2 rejects it.
  if (hashIds === true && isCreate) return;
  if (hashIds !== false && isHashRoomId(roomId)) return;
  if (hashIds === true) {
    fail(`room_id ${JSON.stringify(roomId)} is not '!' followed by the create event's reference hash (room version ${rules!.id})`);
  }
  try {
    parseRoomId(roomId);
  } catch (err) {
    fail((err as Error).message);
  }
}

/** Refuses an event whose canonical JSON is over the 64 KiB limit. */
export function checkPduSize(bytes: number): void {
  if (bytes > MAX_PDU_BYTES) fail(`the event is ${bytes} bytes as canonical JSON; the limit is ${MAX_PDU_BYTES}`);
}

/**
 * Canonical size of a whole event from the byte length of its content hash
 * input (the canonical event without `hashes`, `signatures`, `unsigned`) and
 * those three members: the receipt pipeline canonicalises the event for its
 * content hash anyway, so the size limit needs no second serialisation of
 * the whole event. Throws CanonicalJsonError if a member has no canonical form.
 */
export function pduSizeFromParts(contentInputBytes: number, ev: Readonly<Record<string, unknown>>): number {
  const extra: number[] = [];
  for (const key of ['hashes', 'signatures', 'unsigned'] as const) {
    const v = ev[key];
    if (v !== undefined) extra.push(key.length + 3 + utf8Length(canonicalJson(v))); // "key":value
  }
  if (extra.length === 0) return contentInputBytes;
  const sum = extra.reduce((a, b) => a + b, 0);
  // `{}` has no member to put a comma after; otherwise each extra member adds one comma.
  return contentInputBytes > 2 ? contentInputBytes + sum + extra.length : 2 + sum + extra.length - 1;
}

/**
 * Checks that `raw` is a well-formed v4+ PDU and returns it typed. Throws
 * InvalidPduError saying which field is wrong. `prev_events` is capped at 20
 * and `auth_events` at 10 (the Server-Server API's limits on PDUs).
 *
 * `room_id` depends on the room version (`opts.rules`): `!opaque:domain` up
 * to v11; in v12 `!` + 43 URL-safe base64 characters, and absent from the
 * m.room.create event. Without `opts.rules` either form is accepted, and a
 * create event may lack `room_id` (it may be a v12 one).
 */
export function validatePdu(
  raw: unknown,
  opts: { sizeCheckedByCaller?: boolean; rules?: RoomVersionRules } = {},
): Pdu {
  if (!isJsonObject(raw)) fail(`a PDU must be a JSON object, got ${describeValue(raw)}`);
  if (!opts.sizeCheckedByCaller) {
    const { event_id: _ignored, ...rest } = raw;
    let size: number;
    try {
      // Canonical form of the event as sent (event_id is not part of v4+ events).
      size = utf8Length(canonicalJson(rest));
    } catch (err) {
      fail(`the event is not canonical JSON: ${(err as Error).message}`);
    }
    checkPduSize(size);
  }

  checkRoomIdField(raw, opts.rules);
  const sender = requireString(raw, 'sender', MAX_ID_BYTES);
  try {
    parseUserId(sender);
  } catch (err) {
    fail(`sender: ${(err as Error).message}`);
  }
  requireString(raw, 'type', 255);
  if ('state_key' in raw) requireString(raw, 'state_key', 255);
  if (!isJsonObject(raw.content)) fail(`content must be an object, got ${describeValue(raw.content)}`);
  requireInt(raw, 'origin_server_ts');
  requireInt(raw, 'depth');
  requireIdList(raw, 'prev_events', MAX_PREV_EVENTS);
  requireIdList(raw, 'auth_events', MAX_AUTH_EVENTS);
  const hashes = raw.hashes;
  if (!isJsonObject(hashes) || typeof hashes.sha256 !== 'string') fail('hashes.sha256 must be a string');
  if (!isJsonObject(raw.signatures)) fail(`signatures must be an object, got ${describeValue(raw.signatures)}`);
  for (const [server, sigs] of Object.entries(raw.signatures)) {
    if (!isJsonObject(sigs)) fail(`signatures.${server} must be an object`);
    for (const [keyId, sig] of Object.entries(sigs)) {
      if (typeof sig !== 'string') fail(`signatures.${server}.${keyId} must be a string`);
    }
  }
  if ('unsigned' in raw && !isJsonObject(raw.unsigned)) fail('unsigned must be an object');
  if ('redacts' in raw && !isValidEventId(raw.redacts)) fail('redacts must be an event ID');
  if ('event_id' in raw && typeof raw.event_id !== 'string') fail('event_id must be a string');
  if (typeof raw.event_id === 'string' && utf8Length(raw.event_id) > MAX_ID_BYTES) {
    fail(`event_id is longer than ${MAX_ID_BYTES} bytes`);
  }
  return raw as unknown as Pdu;
}

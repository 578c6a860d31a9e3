/**
 * Identifier grammars (spec appendix "Identifier Grammar"): server names,
 * user IDs, room IDs and event IDs, each limited to 255 bytes in total.
 *
 * Parsing is strict for what we *create* (user localparts from [a-z0-9._=/+-])
 * and tolerant where the spec says servers must accept historical forms
 * (user IDs over federation: any localpart without `:` or NUL).
 */
import { InvalidIdentifierError } from './errors.ts';

export type ServerName = string & { readonly __brand: 'ServerName' };
export type UserId = string & { readonly __brand: 'UserId' };
export type RoomId = string & { readonly __brand: 'RoomId' };
export type EventId = string & { readonly __brand: 'EventId' };

export const MAX_ID_BYTES = 255;

const encoder = new TextEncoder();
export function utf8Length(s: string): number {
  // Fast path: ASCII strings (nearly all IDs) have one byte per code unit.
  if (/^[\x00-\x7f]*$/.test(s)) return s.length;
  return encoder.encode(s).length;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const IPV6 = /^\[[0-9A-Fa-f:.]{2,45}\]$/;
const DNS = /^[0-9A-Za-z.-]{1,255}$/;

/** Why a server name is invalid, or undefined when it is valid. */
export function serverNameError(name: string): string | undefined {
  if (name.length === 0) return 'server name is empty';
  let host = name;
  const portMatch = /^(.*):(\d{1,5})$/.exec(name);
  if (portMatch && !name.endsWith(']')) {
    host = portMatch[1]!;
    const port = Number(portMatch[2]);
    if (port > 65535) return `port ${port} in server name ${JSON.stringify(name)} is above 65535`;
  }
  if (host.startsWith('[')) {
    return IPV6.test(host) ? undefined : `invalid IPv6 literal in server name ${JSON.stringify(name)}`;
  }
  const v4 = IPV4.exec(host);
  if (v4) {
    return v4.slice(1).every((o) => Number(o) <= 255)
      ? undefined
      : `invalid IPv4 literal in server name ${JSON.stringify(name)}`;
  }
  if (!DNS.test(host)) {
    return `server name ${JSON.stringify(name)} may contain only letters, digits, '-' and '.', with an optional :port`;
  }
  return undefined;
}

export function isValidServerName(name: string): name is ServerName {
  return serverNameError(name) === undefined;
}

export function parseServerName(name: string): ServerName {
  const err = serverNameError(name);
  if (err) throw new InvalidIdentifierError(err);
  return name as ServerName;
}

export interface ParsedId {
  sigil: '@' | '!' | '$' | '#';
  localpart: string;
  domain: string;
}

/** Splits `&localpart:domain` at the first colon (localparts never contain one). */
function splitSigilled(id: string, sigil: ParsedId['sigil'], what: string): ParsedId {
  if (typeof id !== 'string') throw new InvalidIdentifierError(`${what} must be a string`);
  if (!id.startsWith(sigil)) throw new InvalidIdentifierError(`${what} ${JSON.stringify(id)} must start with '${sigil}'`);
  if (utf8Length(id) > MAX_ID_BYTES) {
    throw new InvalidIdentifierError(`${what} is longer than ${MAX_ID_BYTES} bytes`);
  }
  const colon = id.indexOf(':');
  if (colon < 0) throw new InvalidIdentifierError(`${what} ${JSON.stringify(id)} has no ':domain' part`);
  const localpart = id.slice(1, colon);
  const domain = id.slice(colon + 1);
  if (localpart.includes('\u0000')) throw new InvalidIdentifierError(`${what} contains NUL`);
  const err = serverNameError(domain);
  if (err) throw new InvalidIdentifierError(`${what} ${JSON.stringify(id)}: ${err}`);
  return { sigil, localpart, domain };
}

const STRICT_LOCALPART = /^[a-z0-9._=/+-]+$/;

/** Why a localpart is not one this server would allocate, or undefined. */
export function localpartError(localpart: string): string | undefined {
  if (localpart.length === 0) return 'username is empty';
  if (!STRICT_LOCALPART.test(localpart)) {
    return `username ${JSON.stringify(localpart)} may contain only a-z, 0-9, '.', '_', '=', '-', '/' and '+'`;
  }
  return undefined;
}

/**
 * Parses a user ID. With `strict`, the localpart must use the current grammar
 * (what we allocate); without, historical localparts are accepted as the spec
 * requires for events received over federation.
 */
export function parseUserId(id: string, opts: { strict?: boolean } = {}): ParsedId & { userId: UserId } {
  const parsed = splitSigilled(id, '@', 'user ID');
  if (opts.strict) {
    const err = localpartError(parsed.localpart);
    if (err) throw new InvalidIdentifierError(`user ID ${JSON.stringify(id)}: ${err}`);
  }
  return { ...parsed, userId: id as UserId };
}

export function isValidUserId(id: unknown): id is UserId {
  if (typeof id !== 'string') return false;
  try {
    parseUserId(id);
    return true;
  } catch {
    return false;
  }
}

/** The server name part of a user ID (throws when the ID is malformed). */
export function userDomain(id: string): string {
  return parseUserId(id).domain;
}

/** Room IDs of versions 10 and 11 are `!opaque:domain`. */
export function parseRoomId(id: string): ParsedId & { roomId: RoomId } {
  const parsed = splitSigilled(id, '!', 'room ID');
  if (parsed.localpart.length === 0) throw new InvalidIdentifierError(`room ID ${JSON.stringify(id)} has an empty localpart`);
  return { ...parsed, roomId: id as RoomId };
}

export function isValidRoomId(id: unknown): id is RoomId {
  if (typeof id !== 'string') return false;
  try {
    parseRoomId(id);
    return true;
  } catch {
    return false;
  }
}

const EVENT_ID_V4 = /^\$[A-Za-z0-9_-]{43}$/;
const ROOM_ID_V12 = /^![A-Za-z0-9_-]{43}$/;

/**
 * Room IDs of room version 12 have no domain: `!` + the create event's
 * reference hash (URL-safe unpadded base64, 43 characters), i.e. the create
 * event's ID with `!` for `$`.
 */
export function isHashRoomId(id: unknown): id is RoomId {
  return typeof id === 'string' && ROOM_ID_V12.test(id);
}

/** The v12 room ID of a room whose create event has this event ID. */
export function roomIdFromCreateEventId(createEventId: string): RoomId {
  return `!${createEventId.slice(1)}` as RoomId;
}

/** The event ID of a v12 room's create event, or undefined when `roomId` is not a hash room ID. */
export function createEventIdOfRoom(roomId: unknown): EventId | undefined {
  return isHashRoomId(roomId) ? (`$${roomId.slice(1)}` as EventId) : undefined;
}

/**
 * Event IDs of room versions 4 and up are `$` + URL-safe unpadded base64 of a
 * SHA-256 reference hash: exactly 43 characters after the sigil.
 */
export function parseEventId(id: string): EventId {
  if (typeof id !== 'string') throw new InvalidIdentifierError('event ID must be a string');
  if (utf8Length(id) > MAX_ID_BYTES) throw new InvalidIdentifierError(`event ID is longer than ${MAX_ID_BYTES} bytes`);
  if (!EVENT_ID_V4.test(id)) {
    throw new InvalidIdentifierError(
      `event ID ${JSON.stringify(id)} is not '$' followed by 43 URL-safe base64 characters (room versions 4+)`,
    );
  }
  return id as EventId;
}

export function isValidEventId(id: unknown): id is EventId {
  return typeof id === 'string' && EVENT_ID_V4.test(id);
}

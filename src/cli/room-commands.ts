/**
 * `hearth auth-check` and `hearth resolve-state`: the authorization rules and
 * state resolution (v2, or v2.1 for room version 12) over events given on stdin.
 */
import { type AuthContext, checkAuth } from '../core/auth/index.ts';
import { type KeyRing, hasSignatureFrom, isEventSignedBy } from '../core/event-signatures.ts';
import { computeEventId } from '../core/hashing.ts';
import { type JsonObject, type JsonValue, isJsonObject } from '../core/json.ts';
import { publicKeyFromPeerId } from '../core/peer-id.ts';
import type { RoomEvent } from '../core/pdu.ts';
import { splitStateKey } from '../core/pdu.ts';
import type { RoomVersionRules } from '../core/room-versions/types.ts';
import { computeDagStates } from '../core/state-res/index.ts';
import type { Command } from './commands.ts';
import { roomVersionFlag } from './commands.ts';
import { UsageError, parseFlags } from './io.ts';

/**
 * Checks the fields the rules read, so hostile input is refused with a clear
 * message (exit 2) rather than judged on garbage. Content is left to the
 * rules: wrong-typed content fields are a *deny*, not a usage error.
 */
function asEvent(value: JsonValue | undefined, where: string, rules: RoomVersionRules, requireId: boolean): RoomEvent {
  if (!isJsonObject(value)) throw new UsageError(`${where} must be a JSON object (a PDU)`);
  for (const key of ['type', 'sender'] as const) {
    if (typeof value[key] !== 'string') throw new UsageError(`${where}.${key} must be a string`);
  }
  // Room version 12 create events have no room_id (auth rule 1.2 rejects one that has); others need it.
  const mayLackRoomId = rules.auth.roomIdFromCreateEvent && value.type === 'm.room.create';
  if (mayLackRoomId ? 'room_id' in value && typeof value.room_id !== 'string' : typeof value.room_id !== 'string') {
    throw new UsageError(`${where}.room_id must be a string`);
  }
  if ('state_key' in value && typeof value.state_key !== 'string') throw new UsageError(`${where}.state_key must be a string`);
  if ('content' in value && !isJsonObject(value.content)) throw new UsageError(`${where}.content must be an object`);
  for (const key of ['prev_events', 'auth_events'] as const) {
    const list = value[key];
    if (list !== undefined && !(Array.isArray(list) && list.every((x) => typeof x === 'string'))) {
      throw new UsageError(`${where}.${key} must be an array of event ID strings`);
    }
  }
  if ('event_id' in value && typeof value.event_id !== 'string') throw new UsageError(`${where}.event_id must be a string`);
  if (requireId && typeof value.event_id !== 'string') throw new UsageError(`${where} needs an explicit event_id`);
  const ev = {
    ...value,
    content: isJsonObject(value.content) ? value.content : {},
    prev_events: (value.prev_events as string[] | undefined) ?? [],
    auth_events: (value.auth_events as string[] | undefined) ?? [],
  } as unknown as RoomEvent;
  if (typeof value.event_id !== 'string') {
    try {
      ev.event_id = computeEventId(value, rules);
    } catch (err) {
      throw new UsageError(`${where}: ${(err as Error).message}`);
    }
  }
  return ev;
}

function keyRingOf(input: JsonObject): KeyRing {
  const ring = input.server_keys;
  if (ring === undefined) return {};
  if (!isJsonObject(ring) || !Object.values(ring).every((k) => isJsonObject(k) && Object.values(k).every((v) => typeof v === 'string'))) {
    throw new UsageError('server_keys must map server names to {"ed25519:ID": "base64 key"} objects');
  }
  return ring as KeyRing;
}

/**
 * Rule 4.2.1 needs the authorising server's verify key. Hearth servers are
 * PeerIds (the key is in the name) and `server_keys` may supply others; for a
 * server whose key is unknown the CLI can only check that it signed at all.
 */
function authContext(rules: RoomVersionRules, ring: KeyRing, create?: RoomEvent): AuthContext {
  return {
    isSignedBy(event, serverName) {
      if (publicKeyFromPeerId(serverName) || ring[serverName]) return isEventSignedBy(event, serverName, rules, ring);
      return hasSignatureFrom(event, serverName);
    },
    ...(create ? { createEvent: () => create } : {}),
  };
}

/**
 * Room version 12: the room's create event, which the event does not cite —
 * `"create_event"` if given, else an m.room.create among `auth_events`. One
 * found among `auth_events` that the event does not cite is only the
 * supplied create event and is taken out of the list; one it does cite stays,
 * for rule 3.2 to reject. Earlier versions find it in `auth_events` as usual.
 */
function impliedCreate(input: JsonObject, event: RoomEvent, authEvents: RoomEvent[], rules: RoomVersionRules): RoomEvent | undefined {
  if (!rules.auth.roomIdFromCreateEvent) return undefined;
  let create = input.create_event === undefined ? undefined : asEvent(input.create_event, 'create_event', rules, false);
  const i = authEvents.findIndex((e) => e.type === 'm.room.create' && e.state_key === '');
  if (i >= 0) {
    const listed = authEvents[i]!;
    create ??= listed;
    if (!event.auth_events.includes(listed.event_id)) authEvents.splice(i, 1);
  }
  return create;
}

export const authCheckCommand: Command = {
  args: '--room-version V',
  summary: '{"event": PDU, "auth_events": [PDU, ...], "create_event"?: PDU} -> {"allowed": bool, "reason": "..."}',
  async run(argv, readInput) {
    const rules = roomVersionFlag(parseFlags(argv, { required: ['room-version'] })['room-version']!);
    const input = await readInput();
    if (!isJsonObject(input)) throw new UsageError('expected {"event": PDU, "auth_events": [PDU, ...]} on stdin');
    if (!Array.isArray(input.auth_events)) throw new UsageError('auth_events must be an array of PDUs');
    const event = asEvent(input.event, 'event', rules, false);
    const authEvents = input.auth_events.map((e, i) => asEvent(e, `auth_events[${i}]`, rules, false));
    const create = impliedCreate(input, event, authEvents, rules);
    const verdict = checkAuth(event, authEvents, rules, authContext(rules, keyRingOf(input), create));
    return JSON.stringify(
      verdict.allowed ? { allowed: true, reason: 'allowed' } : { allowed: false, reason: `rule ${verdict.rule}: ${verdict.reason}` },
    );
  },
};

export const resolveStateCommand: Command = {
  args: '--room-version V',
  summary: '{"events": [PDU, ...], "at": ["$id", ...]} -> {"$id": {type: {state_key: event_id}}}',
  async run(argv, readInput) {
    const rules = roomVersionFlag(parseFlags(argv, { required: ['room-version'] })['room-version']!);
    const input = await readInput();
    if (!isJsonObject(input)) throw new UsageError('expected {"events": [PDU, ...], "at": ["$id", ...]} on stdin');
    if (!Array.isArray(input.events)) throw new UsageError('events must be an array of PDUs');
    if (!Array.isArray(input.at) || !input.at.every((x) => typeof x === 'string')) {
      throw new UsageError('at must be an array of event IDs');
    }
    const events = input.events.map((e, i) => asEvent(e, `events[${i}]`, rules, true));
    const byId = new Map<string, RoomEvent>();
    for (const ev of events) {
      if (byId.has(ev.event_id)) throw new UsageError(`event ${ev.event_id} is given twice`);
      byId.set(ev.event_id, ev);
    }
    for (const id of input.at as string[]) {
      if (!byId.has(id)) throw new UsageError(`"at" names ${id}, which is not among the events`);
    }
    const ring = keyRingOf(input);
    const dag = computeDagStates(events, rules, authContext(rules, ring));
    const out: Record<string, Record<string, Record<string, string>>> = {};
    for (const id of input.at as string[]) {
      const state: Record<string, Record<string, string>> = {};
      for (const [key, eventId] of dag.stateBefore(id)) {
        const [type, stateKey] = splitStateKey(key);
        state[type] ??= {};
        state[type][stateKey] = eventId;
      }
      out[id] = state;
    }
    return JSON.stringify(out);
  },
};

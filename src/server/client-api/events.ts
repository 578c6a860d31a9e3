/**
 * Events as clients see them: the client event format (no hashes,
 * signatures, prev/auth events or depth; `unsigned` with age, the sender's
 * transaction ID, the redaction that redacted it), and history visibility
 * applied per user on every read.
 */
import { type JsonObject, isJsonObject } from '../../core/json.ts';
import { splitStateKey, stateKey } from '../../core/pdu.ts';
import { redactsOf } from '../redactions.ts';
import type { Room } from '../room.ts';
import type { StateMap } from '../state-groups.ts';
import type { StoredEvent } from '../store/types.ts';
// Per-user history visibility lives next to the server rules; re-exported for the Client-Server API.
export { visibleToUser } from '../visibility.ts';
import type { ClientApi } from './api.ts';
import type { Session } from './types.ts';

/** Events shown to clients: accepted and placed (soft-failed and rejected ones are not part of the room's history). */
export function isTimelineEvent(s: StoredEvent | undefined): s is StoredEvent {
  return s !== undefined && s.status === 'accepted' && s.state_group !== undefined;
}

export interface FormatOptions {
  /** The device asking: its own events carry their transaction ID. */
  session?: Session;
  /** Leave out `unsigned.redacted_because` (the redaction itself, nested). */
  noRedactedBecause?: boolean;
}

/** One event in the client format. */
export function clientEvent(api: ClientApi, room: Room, s: StoredEvent, opts: FormatOptions = {}): JsonObject {
  const p = s.pdu;
  const out: JsonObject = {
    content: p.content,
    event_id: s.event_id,
    origin_server_ts: p.origin_server_ts,
    room_id: room.roomId,
    sender: p.sender,
    type: p.type,
  };
  if (typeof p.state_key === 'string') out.state_key = p.state_key;
  const redacts = redactsOf(p, room);
  if (redacts !== undefined) out.redacts = redacts;
  const unsigned: JsonObject = { age: Math.max(0, api.hs.clock.now() - p.origin_server_ts) };
  const txn = api.sentWithTxn.get(s.event_id);
  if (txn && opts.session && txn.deviceId === opts.session.deviceId && p.sender === opts.session.userId) unsigned.transaction_id = txn.txnId;
  if (s.redacted_by && !opts.noRedactedBecause) {
    const r = room.events.get(s.redacted_by);
    if (r) unsigned.redacted_because = clientEvent(api, room, r, { noRedactedBecause: true });
  }
  if (typeof p.state_key === 'string') {
    const prev = previousState(room, s);
    if (prev) {
      unsigned.prev_content = prev.pdu.content;
      unsigned.replaces_state = prev.event_id;
      unsigned.prev_sender = prev.pdu.sender;
    }
  }
  out.unsigned = unsigned;
  return out;
}

/** The state event this one replaced, when the state before it is known without a resolution (one prev event). */
function previousState(room: Room, s: StoredEvent): StoredEvent | undefined {
  const p = s.pdu;
  if (p.prev_events.length !== 1 || typeof p.state_key !== 'string') return undefined;
  const g = room.events.get(p.prev_events[0]!)?.state_group;
  if (g === undefined) return undefined;
  const id = room.groups.get(g).get(stateKey(p.type, p.state_key));
  return id === undefined || id === s.event_id ? undefined : room.events.get(id);
}

/** The state map's events in the client format. */
export function stateEvents(api: ClientApi, room: Room, state: StateMap, filter?: (type: string, key: string) => boolean): JsonObject[] {
  const out: JsonObject[] = [];
  for (const [k, id] of state) {
    if (filter) {
      const [type, key] = splitStateKey(k);
      if (!filter(type, key)) continue;
    }
    const s = room.events.get(id);
    if (s) out.push(clientEvent(api, room, s));
  }
  return out;
}

/** Content of the current state event (type, key), if any. */
export function currentContent(room: Room, type: string, key = ''): JsonObject | undefined {
  const c = room.stateEvent(type, key)?.content;
  return isJsonObject(c) ? c : undefined;
}

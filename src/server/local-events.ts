/**
 * Creating an event on this server (Server-Server API "Sending events"):
 * prev_events are the forward extremities, auth_events come from the auth
 * events selection over the state before the event, then the content hash,
 * our signature and the event ID. The event is authorised against that state
 * before anything is stored; a refusal is a MatrixError naming the rule.
 */
import { checkAuth, creatorsOf, selectAuthEvents } from '../core/auth/index.ts';
import { encodeBase64 } from '../core/base64.ts';
import { canonicalJson, sortedDeep } from '../core/canonical-json.ts';
import { addContentHash, computeEventId, eventSigningBytes } from '../core/hashing.ts';
import { type JsonObject, isJsonObject } from '../core/json.ts';
import { MAX_PDU_BYTES, MAX_PREV_EVENTS, type Pdu, type RoomEvent } from '../core/pdu.ts';
import { withSignature } from '../core/signing.ts';
import { placeInDag } from './dag.ts';
import type { Engine } from './engine.ts';
import { MatrixError, forbidden, invalidParam } from './errors.ts';
import { HeldWriteError, heldEventMessage } from './held-write.ts';
import { latencyTracing, traceMark, traceNow } from './latency-trace.ts';
import { applyRedactions } from './redactions.ts';
import type { Room } from './room.ts';
import type { StateMap } from './state-groups.ts';
import { mergeWriteBatches } from './store/merge.ts';
import type { WriteBatch } from './store/types.ts';

export interface EventTemplate {
  type: string;
  sender: string;
  content: JsonObject;
  state_key?: string;
  /** v10 m.room.redaction: the redacted event (v11 carries it in content). */
  redacts?: string;
  /** A fixed origin_server_ts (a v12 create event, whose ID the room ID is computed from beforehand). */
  origin_server_ts?: number;
}

/** prev_events for a new event: the extremities, deepest first, at most 20. */
export function choosePrevEvents(room: Room): string[] {
  return [...room.extremities]
    .filter((id) => room.isDagNode(id))
    .sort((a, b) => (room.get(b)?.depth ?? 0) - (room.get(a)?.depth ?? 0) || (a < b ? -1 : 1))
    .slice(0, MAX_PREV_EVENTS);
}

/** Builds an unsigned event (hashes/signatures empty) on top of `prevs`, with its auth events chosen. */
export function buildEvent(e: Engine, room: Room, t: EventTemplate, prevs: string[], before: StateMap): Pdu {
  const depth = Math.min(Number.MAX_SAFE_INTEGER, Math.max(0, ...prevs.map((p) => room.get(p)?.depth ?? 0)) + 1);
  // Keys in canonical (code point) order, content included: every server that
  // canonicalises this event for its hashes and signature — each receiver, twice
  // — then takes canonicalJson's fast path (JSON.stringify of a sorted object).
  // (A v12 create event has no room_id: the Pdu type's room_id is absent for it alone.)
  const proto = {
    auth_events: [],
    content: sortedDeep(t.content) as Pdu['content'],
    depth,
    hashes: { sha256: '' },
    origin_server_ts: t.origin_server_ts ?? e.clock.now(),
    prev_events: prevs,
    ...(t.redacts !== undefined ? { redacts: t.redacts } : {}),
    // Room version 12: the create event has no room_id (the room ID is derived from it).
    ...(room.rules.auth.roomIdFromCreateEvent && t.type === 'm.room.create' ? {} : { room_id: room.roomId }),
    sender: t.sender,
    signatures: {},
    ...(t.state_key !== undefined ? { state_key: t.state_key } : {}),
    type: t.type,
  } as Pdu;
  proto.auth_events = selectAuthEvents(proto, room.lookup(before), room.rules).map((a) => a.event_id);
  return proto;
}

/** Hashes and signs with this server's key; returns the event with its ID. */
export async function signLocal(e: Engine, room: Room, pdu: Pdu): Promise<RoomEvent> {
  const hashed = addContentHash(pdu as unknown as JsonObject) as unknown as Pdu;
  const signature = await e.identity.sign(eventSigningBytes(hashed, room.rules));
  const signed = withSignature(hashed as unknown as JsonObject, e.serverName, e.identity.keyId, encodeBase64(signature));
  const ev = signed as unknown as Pdu;
  return { ...ev, event_id: computeEventId(ev, room.rules) };
}

/** Adds our signature to an event someone else built (e.g. a remote join we authorise). */
export async function cosign(e: Engine, room: Room, ev: RoomEvent): Promise<RoomEvent> {
  const signature = await e.identity.sign(eventSigningBytes(ev, room.rules));
  const { event_id, ...rest } = ev;
  const signed = withSignature(rest as unknown as JsonObject, e.serverName, e.identity.keyId, encodeBase64(signature));
  return { ...(signed as unknown as Pdu), event_id };
}

/**
 * Creates, authorises, stores and queues for delivery one event. Must run
 * under the room's lock. Returns the stored event.
 */
export async function createLocalEventLocked(
  e: Engine,
  room: Room,
  t: EventTemplate,
  /** Applied after auth and before storing, e.g. to have an invitee's server countersign. */
  transform?: (ev: RoomEvent) => Promise<RoomEvent>,
  /**
   * Records to commit in the event's own transaction, given its ID (the
   * client's transaction ID → event ID: a crash between two writes would let
   * a retry after the restart create the event twice).
   */
  alsoWrite?: (eventId: string) => WriteBatch,
): Promise<RoomEvent> {
  refuseListedCreators(room, t);
  const lockedAt = latencyTracing() ? traceNow() : 0;
  const prevs = choosePrevEvents(room);
  if (prevs.length === 0 && t.type !== 'm.room.create') {
    throw new MatrixError('M_UNAVAILABLE', `room ${room.roomId} has no events yet; cannot send into it`);
  }
  const all = [...room.extremities].filter((id) => room.isDagNode(id));
  const { group: beforeGroup, created } = prevs.length === all.length ? { group: room.currentGroup, created: undefined } : room.resolveGroups(room.prevGroups(prevs));
  const before = prevs.length === 0 ? new Map() : room.groups.get(beforeGroup);
  let ev = await signLocal(e, room, buildEvent(e, room, t, prevs, before));
  traceMark(ev.event_id, 'locked', lockedAt);
  traceMark(ev.event_id, 'signed');
  // Every peer drops a PDU over 64 KiB, and with it every later event that cites it: refuse it here.
  const size = new TextEncoder().encode(canonicalJson(pduWithoutId(ev))).length;
  if (size > MAX_PDU_BYTES) {
    throw new MatrixError('M_TOO_LARGE', `the event would be ${size} bytes; events are limited to ${MAX_PDU_BYTES} bytes (shorten the message)`);
  }
  const authEvents = ev.auth_events.map((id) => room.get(id)!).filter(Boolean);
  const verdict = checkAuth(ev, authEvents, room.rules, room.authCtx);
  if (!verdict.allowed) throw forbidden(verdict.reason);
  if (transform) ev = await transform(ev);
  const placement = placeInDag(e, room, ev, 'accepted', prevs.length === 0 ? room.resolveGroups([]).group : beforeGroup);
  // Our own redactions take effect here too (ingest applies received ones), else the
  // sender's server would keep showing what every other server shows redacted.
  const redactionUpdates = applyRedactions(room, [placement.stored]);
  // To the servers with a joined member now (after this event), and a membership event also to
  // its target's server: a banned or departed server gets its ban or leave and nothing after.
  room.syncServers(e.serverName);
  const destinations = new Set(room.servers);
  if (t.type === 'm.room.member' && t.state_key) destinations.add(t.state_key.slice(t.state_key.indexOf(':') + 1));
  destinations.delete(e.serverName);
  const outbox = e.outbox.entriesFor(destinations, { eventId: ev.event_id });
  const batch: WriteBatch = {
    events: [placement.stored, ...redactionUpdates],
    stateGroups: [...(created ? [created] : []), ...placement.groups],
    rooms: [room.record()],
    outboxPut: outbox,
  };
  let reached: readonly string[] | undefined;
  const broadcast = (): void => {
    // Gossip is what peers' people wait for; the outbox's transaction is the durable copy.
    reached = e.transport.broadcast({ room_id: room.roomId, origin: e.serverName, pdus: [pduWithoutId(ev)] });
    traceMark(ev.event_id, 'published');
    if (room.leftBy(e.serverName, ev)) e.transport.unsubscribe(room.roomId);
  };
  const stored = (): void => {
    if (reached === undefined) broadcast();
    e.outbox.added(outbox, reached);
    e.emit({ kind: 'event', roomId: room.roomId, eventId: ev.event_id, status: 'accepted', stream: placement.stored.stream });
  };
  // Broadcast as the write starts (its commit was most of the time from Enter to another
  // tab), unless the write carries a client's transaction ID. If we crash before the write lands,
  // peers may hold an event we do not: that is recovered, not lost — on restart every reconnection
  // compares forward extremities with the peer (Homeserver.catchUp) and fetches the event back, and
  // a peer's event built on it brings it with its history. Nobody was told it was sent (the answer
  // waits for the write), so nobody retries it. With a transaction ID the client would retry the
  // same ID after the restart, and a server that no longer knows it would make a second event: those
  // broadcast once the ID's record is stored with the event. So do sends while a write is held
  // (a full disk: the app says the message is not saved yet, and its peers should not show it).
  if (!alsoWrite && !e.hasUnstoredWrites) broadcast();
  const write = e.commit(alsoWrite ? mergeWriteBatches([batch, alsoWrite(ev.event_id)]) : batch);
  try {
    await write;
    traceMark(ev.event_id, 'committed');
  } catch (err) {
    if (!(err instanceof HeldWriteError)) throw err;
    // The event is in the room already (later events build on it) and its write is held, not
    // dropped: it is queued for delivery once stored, and a retry must find this event rather
    // than make a second one — so the sender is told which event it is.
    void err.stored.then(stored);
    throw new HeldEventError(heldEventMessage(err.message, ev.event_id), ev.event_id, err.stored);
  }
  stored();
  return ev;
}

/** A local event that exists but whose write is held (see HeldWriteError): `stored` settles once it is on disk. */
export class HeldEventError extends MatrixError {
  constructor(
    message: string,
    readonly eventId: string,
    readonly stored: Promise<void>,
  ) {
    super('M_UNKNOWN', message);
  }
}

/**
 * Room version 12: the room's creators have infinite power and a power levels
 * event may not list them (auth rule 10.4). Said here in words a person can act
 * on, before the event is built, rather than as the auth rule's refusal.
 */
function refuseListedCreators(room: Room, t: EventTemplate): void {
  if (!room.rules.auth.privilegedCreators || t.type !== 'm.room.power_levels' || t.state_key !== '') return;
  const users = t.content.users;
  if (!isJsonObject(users)) return;
  const listed = [...creatorsOf(room.stateEvent('m.room.create'), room.rules)].filter((u) => Object.hasOwn(users, u));
  if (listed.length > 0) {
    throw invalidParam(
      `in room version ${room.rules.id} the room's creators (${listed.join(', ')}) have infinite power and may not be listed in m.room.power_levels users; leave them out`,
    );
  }
}

export function pduWithoutId(ev: RoomEvent): JsonObject {
  const { event_id: _id, ...pdu } = ev;
  return pdu as unknown as JsonObject;
}

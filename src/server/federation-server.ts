/**
 * The server side of the federation API. Every handler knows the
 * authenticated origin and answers only what that server may see; every
 * refusal is a Matrix error body that says what is wrong.
 */
import { checkAuthAgainstState, namedLevel, powerLevelOf } from '../core/auth/index.ts';
import { isEventSignedByAsync } from '../core/event-signatures.ts';
import { computeEventId } from '../core/hashing.ts';
import { type JsonObject, isJsonObject } from '../core/json.ts';
import { type Pdu, type RoomEvent, validatePdu } from '../core/pdu.ts';
import { isSupportedRoomVersion } from '../core/room-versions/registry.ts';
import { BinaryHeap } from '../core/state-res/heap.ts';
import { serveKeysClaim, serveKeysQuery, serveUserDevices } from './e2ee/federation.ts';
import { handleEdus } from './edus.ts';
import type { Engine } from './engine.ts';
import { MatrixError, badJson, forbidden, notFound } from './errors.ts';
import type { FederationRequest, FederationResponse, Transaction } from './federation/types.ts';
import { type PduResults, ingestPrepared, prepareBatch } from './ingest.ts';
import { fetchMissingHistory, ingestTransaction, newBudget } from './ingest-fetch.ts';
import { buildEvent, choosePrevEvents, cosign, pduWithoutId } from './local-events.ts';
import { serveMedia } from './media.ts';
import { inviteReceived, strippedState } from './membership.ts';
import type { Room } from './room.ts';
import { eventForServer } from './visibility.ts';

const ok = (body: JsonObject): FederationResponse => ({ ok: true, body });

export async function handleFederationRequest(e: Engine, origin: string, req: FederationRequest): Promise<FederationResponse> {
  try {
    return await dispatch(e, origin, req);
  } catch (err) {
    if (err instanceof MatrixError) return { ok: false, status: err.status, body: err.toBody() };
    e.log('error', 'federation handler failed', { kind: req?.kind, origin, error: String(err) });
    return { ok: false, status: 500, body: { errcode: 'M_UNKNOWN', error: `internal error handling ${req?.kind}` } };
  }
}

function requireRoom(e: Engine, roomId: unknown): Room {
  if (typeof roomId !== 'string') throw badJson('room_id must be a string');
  const room = e.rooms.get(roomId);
  if (!room || room.currentGroup < 0) throw notFound(`this server is not in room ${roomId}`);
  return room;
}

/**
 * The origin may read the room (state, state_ids, event_auth, backfill,
 * get_missing_events, event, extremities) only by membership in accepted
 * state, never by having sent something (`Room.readAccess`): a user of it is
 * joined, invited or knocking now, or — the partition case — it is not
 * banned and one of its users' joins was accepted here (it was in the room at
 * some point: after a partition, a server whose join was resolved out must
 * still be able to fetch the events that resolved it out, or it would never
 * learn it is out). A stranger whose only link is a rejected or soft-failed
 * event, and a server whose users are banned (none joined, invited or
 * knocking), are refused. Every event served is then limited by history
 * visibility at that event (`eventForServer`: redacted when none of the
 * origin's users could see it), so a departed server reads only redacted
 * forms of what happened after it left.
 */
function requireParticipant(room: Room, origin: string): void {
  if (room.readAccess(origin) !== 'none') return;
  throw forbidden(`${origin} has no user in ${room.roomId} (and none was ever joined, or it is banned)`);
}

async function dispatch(e: Engine, origin: string, req: FederationRequest): Promise<FederationResponse> {
  if (typeof req !== 'object' || req === null || typeof (req as { kind?: unknown }).kind !== 'string') {
    throw badJson('request must be an object with a kind');
  }
  switch (req.kind) {
    case 'send':
      return ok(await onSend(e, origin, req.body));
    case 'make_join':
      return ok(await makeMembership(e, origin, req.room_id, req.user_id, 'join', req.ver));
    case 'make_knock':
      return ok(await makeMembership(e, origin, req.room_id, req.user_id, 'knock', req.ver));
    case 'make_leave':
      return ok(await makeMembership(e, origin, req.room_id, req.user_id, 'leave', undefined));
    case 'send_join':
      return ok(await sendMembership(e, origin, req.room_id, req.event_id, req.body, 'join'));
    case 'send_knock':
      return ok(await sendMembership(e, origin, req.room_id, req.event_id, req.body, 'knock'));
    case 'send_leave':
      return ok(await sendMembership(e, origin, req.room_id, req.event_id, req.body, 'leave'));
    case 'invite':
      return ok(await onInvite(e, origin, req));
    case 'event':
      return ok(onEvent(e, origin, req.event_id));
    case 'state':
    case 'state_ids':
      return ok(onState(e, origin, req.room_id, req.event_id, req.kind === 'state_ids'));
    case 'event_auth':
      return ok(onEventAuth(e, origin, req.room_id, req.event_id));
    case 'backfill':
      return ok(onBackfill(e, origin, req.room_id, req.v, req.limit));
    case 'get_missing_events':
      return ok(onMissing(e, origin, req.room_id, req.body));
    case 'extremities':
      return ok(onExtremities(e, origin, req.room_ids));
    case 'holds':
      return ok(onHolds(e, origin, req.room_id, req.event_ids));
    case 'publicRooms':
      return ok(onPublicRooms(e));
    case 'media_download':
      return ok(await serveMedia(e, req.media_id));
    case 'user_keys_query':
      return ok(serveKeysQuery(e, req.body));
    case 'user_keys_claim':
      return ok(await serveKeysClaim(e, req.body));
    case 'user_devices':
      return ok(serveUserDevices(e, req.user_id));
    default:
      throw badJson(`unknown federation request ${JSON.stringify((req as { kind: unknown }).kind)}`);
  }
}

async function onSend(e: Engine, origin: string, txn: Transaction): Promise<JsonObject> {
  if (!isJsonObject(txn)) throw badJson('transaction body must be an object');
  if (txn.origin !== origin) throw forbidden(`transaction claims origin ${String(txn.origin)} but came from ${origin}`);
  const pdus = Array.isArray(txn.pdus) ? txn.pdus : [];
  const edus = Array.isArray(txn.edus) ? txn.edus : [];
  if (pdus.length > 50 || edus.length > 100) throw badJson('a transaction carries at most 50 PDUs and 100 EDUs');
  const results: PduResults = {};
  // A transaction behind a backlog of broadcasts waits for them (below). Meanwhile it holds the
  // inbox's copy of each PDU that also came by broadcast, not a second parsed copy of its own: a
  // server far behind had thousands of these copies waiting. Replaced in place, as the transport
  // keeps the request until it is answered; the copies are the same event in the same form.
  const received = pdus as unknown[];
  for (let i = 0; i < received.length; i++) received[i] = e.queuedCopy(received[i]) ?? received[i];
  const byRoom = new Map<string, unknown[]>();
  for (const pdu of pdus) {
    const roomId = isJsonObject(pdu) && typeof pdu.room_id === 'string' ? pdu.room_id : undefined;
    if (!roomId || !e.rooms.has(roomId)) {
      results[String((pdu as { event_id?: unknown })?.event_id ?? `#${pdus.indexOf(pdu)}`)] = {
        error: roomId ? `this server is not in room ${roomId}` : 'PDU has no room_id',
      };
      continue;
    }
    const list = byRoom.get(roomId) ?? [];
    list.push(pdu);
    byRoom.set(roomId, list);
  }
  for (const [roomId, list] of byRoom) {
    const room = e.rooms.get(roomId)!;
    // Broadcasts that arrived first go first: this transaction's PDUs build on them (or are
    // them), and taken the other way round they would be fetched again as missing history.
    const earlier = e.broadcastsBefore(roomId);
    if (earlier) await earlier;
    if (acknowledgeHeld(e, room, list, results)) continue;
    // Steps 1–3 (signatures, hashes) need no lock: they run while earlier transactions (from other
    // origins) are placed and written. The response waits for this batch's write (a PDU answered
    // without an error is stored), but the room's lock is released as soon as the write is
    // requested. Missing history is fetched outside the lock and after the response: those PDUs
    // are answered as pending, and the sender sends them again later (ingest-fetch.ts).
    await ingestTransaction(e, room, list, origin, results);
  }
  await handleEdus(e, origin, edus);
  return { pdus: results as JsonObject };
}

/**
 * A transaction whose PDUs are all held already (placed, by ID: the ID
 * covers everything the signature does) is acknowledged without taking
 * the room's lock or writing anything — the usual case, since every PDU
 * also comes by broadcast. Returns false, touching nothing, otherwise.
 */
function acknowledgeHeld(e: Engine, room: Room, pdus: readonly unknown[], results: PduResults): boolean {
  // After a failed write, what is held in memory may not be stored: take the path that writes.
  if (e.hasUnstoredWrites) return false;
  const ids: string[] = [];
  for (const raw of pdus) {
    if (!isJsonObject(raw)) return false;
    let id = room.recognise(raw);
    if (id === undefined) {
      const { event_id: _given, ...pdu } = raw;
      try {
        id = computeEventId(pdu, room.rules);
      } catch {
        return false;
      }
    }
    const held = room.events.get(id);
    if (held?.state_group === undefined || held.status === 'outlier') return false;
    ids.push(id);
  }
  for (const id of ids) results[id] = {};
  e.stats.duplicates += ids.length;
  return true;
}

/** make_join / make_knock / make_leave: a template event the caller signs. */
async function makeMembership(
  e: Engine,
  origin: string,
  roomId: string,
  userId: string,
  membership: 'join' | 'knock' | 'leave',
  ver: string[] | undefined,
): Promise<JsonObject> {
  const room = requireRoom(e, roomId);
  if (typeof userId !== 'string' || !userId.endsWith(`:${origin}`)) {
    throw forbidden(`${origin} cannot make a ${membership} for ${String(userId)}: not its user`);
  }
  if (ver && Array.isArray(ver) && ver.length > 0 && !ver.includes(room.rules.id)) {
    throw new MatrixError('M_INCOMPATIBLE_ROOM_VERSION', `room version ${room.rules.id} is not among ${ver.join(', ')}`);
  }
  return room.lock.run(async () => {
    const content: JsonObject = { membership };
    const before = room.currentState();
    if (membership === 'join') {
      const rule = (room.stateEvent('m.room.join_rules', '', before)?.content as { join_rule?: unknown } | undefined)?.join_rule;
      const current = room.membership(userId, before);
      if ((rule === 'restricted' || rule === 'knock_restricted') && current !== 'join' && current !== 'invite') {
        // Vouch only for a user who meets one of the allow conditions (joined to an allowed room we are in).
        if (!meetsAllowConditions(e, room, userId)) {
          throw forbidden(`${userId} is not joined to any room that ${roomId}'s join rule allows, as far as ${e.serverName} knows`);
        }
        const authoriser = pickAuthoriser(e, room);
        if (!authoriser) throw forbidden(`no user on ${e.serverName} can authorise a restricted join to ${roomId}`);
        content.join_authorised_via_users_server = authoriser;
      }
    }
    const prevs = choosePrevEvents(room);
    const proto = buildEvent(e, room, { type: 'm.room.member', sender: userId, state_key: userId, content }, prevs, before);
    const probe = { ...proto, event_id: '$probe' } as RoomEvent;
    const verdict = checkAuthAgainstState(probe, room.lookup(before), room.rules, { ...room.authCtx, isSignedBy: () => true });
    if (!verdict.allowed) throw forbidden(verdict.reason);
    return { event: proto as unknown as JsonObject, room_version: room.rules.id };
  }, 'make_membership');
}

/** Whether `userId` is joined to a room listed in the room's restricted join rule `allow` (one we are in). */
function meetsAllowConditions(e: Engine, room: Room, userId: string): boolean {
  const allow = (room.stateEvent('m.room.join_rules', '')?.content as { allow?: unknown } | undefined)?.allow;
  if (!Array.isArray(allow)) return false;
  return allow.some((entry) => {
    if (!isJsonObject(entry) || entry.type !== 'm.room_membership' || typeof entry.room_id !== 'string') return false;
    const other = e.rooms.get(entry.room_id);
    return !!other && other.currentGroup >= 0 && other.membership(userId) === 'join';
  });
}

/** A local joined user with the power to invite (restricted joins need one to vouch). */
function pickAuthoriser(e: Engine, room: Room): string | undefined {
  const state = room.currentState();
  const pl = room.stateEvent('m.room.power_levels', '', state);
  const create = room.stateEvent('m.room.create', '', state);
  const need = namedLevel('invite', pl);
  return room
    .members(state)
    .filter((m) => m.membership === 'join' && e.isLocalUser(m.userId))
    .map((m) => m.userId)
    .sort()
    .find((u) => powerLevelOf(u, pl, create, room.rules) >= need);
}

/** send_join / send_knock / send_leave: accept the signed membership event into the room. */
async function sendMembership(
  e: Engine,
  origin: string,
  roomId: string,
  eventId: string,
  body: Pdu,
  membership: 'join' | 'knock' | 'leave',
): Promise<JsonObject> {
  const room = requireRoom(e, roomId);
  let pdu: Pdu;
  try {
    pdu = validatePdu(body);
  } catch (err) {
    throw badJson((err as Error).message);
  }
  const content = pdu.content as { membership?: unknown; join_authorised_via_users_server?: unknown };
  if (pdu.type !== 'm.room.member' || content.membership !== membership || pdu.state_key !== pdu.sender) {
    throw badJson(`send_${membership} needs an m.room.member event with membership ${membership} for its sender`);
  }
  if (!pdu.sender.endsWith(`:${origin}`)) throw forbidden(`${origin} cannot send a ${membership} for ${pdu.sender}`);
  const id = computeEventId(pdu, room.rules);
  if (id !== eventId) throw badJson(`event ID ${eventId} does not match the event (${id})`);
  if (!(await isEventSignedByAsync(pdu, origin, room.rules, e.identity.verifier))) {
    throw forbidden(`the ${membership} event is not signed by ${origin}`);
  }
  let ev: RoomEvent = { ...pdu, event_id: id };
  const authoriser = content.join_authorised_via_users_server;
  if (membership === 'join' && typeof authoriser === 'string' && e.isLocalUser(authoriser)) {
    // Countersigning vouches for the join: check the allow conditions here too, as a caller
    // may skip make_join and name our user itself.
    if (room.membership(pdu.sender) !== 'join' && room.membership(pdu.sender) !== 'invite' && !meetsAllowConditions(e, room, pdu.sender)) {
      throw forbidden(`${pdu.sender} is not joined to any room that ${roomId}'s join rule allows; ${authoriser} will not authorise the join`);
    }
    ev = await cosign(e, room, ev);
  }
  // Verified, and any history it lacks fetched, before the room's lock is taken.
  const results: PduResults = {};
  const prepared = await prepareBatch(e, room, [pduWithoutId(ev)], results);
  const lacking = prepared.filter((p) => p.ev.prev_events.some((id) => !room.isDagNode(id)) || p.ev.auth_events.some((id) => !room.events.has(id)));
  const fetched = lacking.length > 0 ? await fetchMissingHistory(e, room, lacking, origin, newBudget(e)) : undefined;
  return room.lock.run(async () => {
    const outcome = await ingestPrepared(e, room, prepared, { origin, source: 'live', fetchMissing: false, ...(fetched ? { fetched } : {}) }, results);
    const placed = outcome.placed.find((s) => s.event_id === id);
    if (placed?.status !== 'accepted') {
      throw forbidden(outcome.results[id]?.error ?? placed?.reason ?? `the ${membership} was not accepted`);
    }
    // The caller does not know the room's other servers yet: forward its event to them.
    const destinations = new Set([...room.servers].filter((s) => s !== origin));
    const entries = e.outbox.entriesFor(destinations, { eventId: id });
    await e.commit({ outboxPut: entries });
    e.outbox.added(entries, e.transport.broadcast({ room_id: roomId, origin: e.serverName, pdus: [pduWithoutId(ev)] }));
    if (membership === 'knock') return { knock_room_state: strippedState(room) as unknown as JsonObject };
    if (membership === 'leave') return {};
    const before = room.groups.get(room.resolveGroups(room.prevGroups(ev.prev_events)).group);
    const state = [...before.values()].map((sid) => room.get(sid)!).filter(Boolean);
    return {
      origin: e.serverName,
      event: pduWithoutId(ev),
      state: state.map(pduWithoutId),
      auth_chain: authChainOf(room, [...state.map((s) => s.event_id), ...ev.auth_events]).map(pduWithoutId),
      members_omitted: false,
      servers_in_room: [...room.joinedServers()].sort(),
    } as unknown as JsonObject;
  }, 'send_membership');
}

async function onInvite(e: Engine, origin: string, req: Extract<FederationRequest, { kind: 'invite' }>): Promise<JsonObject> {
  const body = req.body;
  if (!isJsonObject(body) || !isJsonObject(body.event)) throw badJson('invite body needs an event');
  if (!isSupportedRoomVersion(body.room_version)) {
    throw new MatrixError('M_INCOMPATIBLE_ROOM_VERSION', `room version ${String(body.room_version)} is not supported here`);
  }
  const signed = await inviteReceived(e, origin, req.room_id, req.event_id, body.event as unknown as Pdu, body.room_version, body.invite_room_state);
  return { event: signed as unknown as JsonObject };
}

function findEvent(e: Engine, eventId: string): { room: Room; ev: RoomEvent } | undefined {
  for (const room of e.rooms.values()) {
    const ev = room.get(eventId);
    if (ev) return { room, ev };
  }
  return undefined;
}

function onEvent(e: Engine, origin: string, eventId: string): JsonObject {
  const found = typeof eventId === 'string' ? findEvent(e, eventId) : undefined;
  if (!found) throw notFound(`event ${String(eventId)} is not known here`);
  requireParticipant(found.room, origin);
  return {
    origin: e.serverName,
    origin_server_ts: e.clock.now(),
    pdus: [pduWithoutId(eventForServer(found.room, found.ev, origin))],
  };
}

/** The auth chains of `ids` (the events' auth events, recursively), oldest first. */
function authChainOf(room: Room, ids: readonly string[]): RoomEvent[] {
  const seen = new Set<string>();
  const stack = ids.flatMap((id) => room.get(id)?.auth_events ?? []);
  const out: RoomEvent[] = [];
  for (let id = stack.pop(); id !== undefined; id = stack.pop()) {
    if (seen.has(id)) continue;
    seen.add(id);
    const ev = room.get(id);
    if (!ev) continue;
    out.push(ev);
    stack.push(...ev.auth_events);
  }
  return out.sort((a, b) => a.depth - b.depth);
}

/** state / state_ids: the state *before* `eventId`, plus its auth chain. */
function onState(e: Engine, origin: string, roomId: string, eventId: string, idsOnly: boolean): JsonObject {
  const room = requireRoom(e, roomId);
  requireParticipant(room, origin);
  const ev = room.get(eventId);
  if (!ev || !room.isDagNode(eventId)) throw notFound(`event ${eventId} is not in room ${roomId} here`);
  const before = room.groups.get(room.resolveGroups(room.prevGroups(ev.prev_events)).group);
  const stateIds = [...before.values()];
  const chain = authChainOf(room, stateIds);
  if (idsOnly) return { pdu_ids: stateIds, auth_chain_ids: chain.map((c) => c.event_id) };
  return {
    pdus: stateIds.map((id) => pduWithoutId(eventForServer(room, room.get(id)!, origin))),
    auth_chain: chain.map((c) => pduWithoutId(eventForServer(room, c, origin))),
  };
}

function onEventAuth(e: Engine, origin: string, roomId: string, eventId: string): JsonObject {
  const room = requireRoom(e, roomId);
  requireParticipant(room, origin);
  if (!room.get(eventId)) throw notFound(`event ${eventId} is not in room ${roomId} here`);
  return { auth_chain: authChainOf(room, [eventId]).map((c) => pduWithoutId(eventForServer(room, c, origin))) };
}

/**
 * Event IDs popped deepest first, equal depths in the order they were pushed
 * (a heap: re-sorting the whole queue for every event made a page of 100
 * from a wide DAG cost more than the events themselves). Each carries the
 * `open` tag it was pushed with (get_missing_events: possibly missing).
 */
function deepestFirst(
  room: Room,
  ids: readonly string[],
): { size: number; push(id: string, open?: boolean): void; pop(): { id: string; open: boolean } | undefined } {
  let seq = 0;
  const heap = new BinaryHeap<{ id: string; depth: number; seq: number; open: boolean }>(
    (a, b) => a.depth > b.depth || (a.depth === b.depth && a.seq < b.seq),
  );
  const push = (id: string, open = true) => heap.push({ id, depth: room.get(id)?.depth ?? 0, seq: seq++, open });
  for (const id of ids) push(id);
  return {
    get size() {
      return heap.size;
    },
    push,
    pop: () => heap.pop(),
  };
}

/** backfill: up to `limit` events from `v` backwards by prev_events (v included), newest first. */
function onBackfill(e: Engine, origin: string, roomId: string, v: string[], limit: number): JsonObject {
  const room = requireRoom(e, roomId);
  requireParticipant(room, origin);
  // A malformed request gets an error body saying so, not an empty page that looks like "no history".
  if (!Array.isArray(v)) throw badJson('v must be an array of event IDs');
  const max = Math.max(1, Math.min(Number.isInteger(limit) ? limit : 100, 1000));
  const out: RoomEvent[] = [];
  const seen = new Set<string>();
  // Deepest first, so a page is a contiguous slice of history.
  const queue = deepestFirst(room, v.filter((id) => typeof id === 'string'));
  while (queue.size > 0 && out.length < max) {
    const { id } = queue.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    const ev = room.get(id);
    if (!ev || !room.isDagNode(id)) continue;
    out.push(ev);
    for (const p of ev.prev_events) if (!seen.has(p)) queue.push(p);
  }
  return {
    origin: e.serverName,
    origin_server_ts: e.clock.now(),
    pdus: out.map((ev) => pduWithoutId(eventForServer(room, ev, origin))),
  };
}

/**
 * get_missing_events: walk back from latest_events' prevs, leaving out what the caller has — the
 * spec's earliest_events — and their ancestors: the caller holds those too.
 *
 * The earliest events are the caller's forward extremities, and after a partition most of them
 * are events this side never saw. Stopping only at those IDs, the walk went on past the fork into
 * the history both sides hold, to the page's limit: twenty servers healing 100 events a side
 * fetched 250 per server (5 MB). So the walk also starts from the latest event the caller's own
 * users created here (to create it, the caller held its ancestors), and from each earliest event
 * we know. Both walks go deepest first in one queue: an event is taken after every deeper event,
 * so whether it is an ancestor of something held is settled by then. The walk ends at the limit,
 * or once nothing left in the queue can be missing.
 */
function onMissing(
  e: Engine,
  origin: string,
  roomId: string,
  body: { earliest_events: string[]; latest_events: string[]; limit?: number; min_depth?: number },
): JsonObject {
  const room = requireRoom(e, roomId);
  requireParticipant(room, origin);
  if (!isJsonObject(body) || !Array.isArray(body.latest_events)) throw badJson('latest_events must be an array');
  const earliest = Array.isArray(body.earliest_events) ? body.earliest_events : [];
  const limit = Math.max(1, Math.min(typeof body.limit === 'number' ? body.limit : 10, 1000));
  const minDepth = typeof body.min_depth === 'number' ? body.min_depth : 0;
  const held = new Set<string>();
  for (const id of [...earliest.slice(0, 1000), room.latestOf(origin)]) if (typeof id === 'string' && room.isDagNode(id)) held.add(id);
  const seen = new Set<string>(body.latest_events);
  const queue = deepestFirst(room, []);
  /** Queued entries pushed as possibly missing, not yet taken: while there are none, the walk is over. */
  let open = 0;
  const push = (id: string) => {
    const isOpen = !held.has(id);
    if (isOpen) open++;
    queue.push(id, isOpen);
  };
  for (const id of body.latest_events) for (const p of room.get(id)?.prev_events ?? []) push(p);
  for (const id of held) push(id);
  const out: RoomEvent[] = [];
  while (open > 0 && out.length < limit) {
    const item = queue.pop()!;
    if (item.open) open--;
    const id = item.id;
    if (seen.has(id)) continue;
    seen.add(id);
    const ev = room.get(id);
    if (!ev || !room.isDagNode(id)) continue;
    if (held.has(id)) {
      for (const p of ev.prev_events) {
        held.add(p);
        if (!seen.has(p)) push(p);
      }
      continue;
    }
    if (ev.depth < minDepth) continue;
    out.push(ev);
    for (const p of ev.prev_events) if (!seen.has(p)) push(p);
  }
  out.sort((a, b) => a.depth - b.depth);
  return { events: out.map((ev) => pduWithoutId(eventForServer(room, ev, origin))) };
}

function onExtremities(e: Engine, origin: string, roomIds: string[]): JsonObject {
  const rooms: JsonObject = {};
  for (const roomId of Array.isArray(roomIds) ? roomIds : []) {
    const room = e.rooms.get(roomId);
    if (!room || room.currentGroup < 0) continue;
    try {
      requireParticipant(room, origin);
    } catch {
      continue;
    }
    rooms[roomId] = [...room.extremities];
  }
  return { rooms };
}

/** Event IDs one `holds` request may ask about: a sender's outbox asks about what one transaction's cover stood for. */
export const MAX_HOLDS_IDS = 1000;

/**
 * Which of `eventIds` this server holds in the room: placed in its DAG, whatever their status (a
 * rejected event need not be sent again either). Only for a server with a user in the room, as
 * every other room read: the answer says which events exist.
 */
function onHolds(e: Engine, origin: string, roomId: string, eventIds: string[]): JsonObject {
  if (!Array.isArray(eventIds) || eventIds.length > MAX_HOLDS_IDS || eventIds.some((id) => typeof id !== 'string')) {
    throw badJson(`event_ids must be a list of at most ${MAX_HOLDS_IDS} event IDs`);
  }
  const room = e.rooms.get(roomId);
  if (!room) throw notFound(`this server is not in room ${String(roomId)}`);
  requireParticipant(room, origin);
  return { held: eventIds.filter((id) => room.isDagNode(id)) };
}

function onPublicRooms(e: Engine): JsonObject {
  const chunk: JsonObject[] = [];
  for (const room of e.rooms.values()) {
    if (room.currentGroup < 0) continue;
    const state = room.currentState();
    const rule = (room.stateEvent('m.room.join_rules', '', state)?.content as { join_rule?: unknown } | undefined)?.join_rule;
    if (rule !== 'public') continue;
    const name = (room.stateEvent('m.room.name', '', state)?.content as { name?: unknown } | undefined)?.name;
    const topic = (room.stateEvent('m.room.topic', '', state)?.content as { topic?: unknown } | undefined)?.topic;
    chunk.push({
      room_id: room.roomId,
      ...(typeof name === 'string' ? { name } : {}),
      ...(typeof topic === 'string' ? { topic } : {}),
      num_joined_members: room.members(state).filter((m) => m.membership === 'join').length,
      room_version: room.rules.id,
      world_readable: false,
      guest_can_join: false,
    });
  }
  return { chunk, total_room_count_estimate: chunk.length };
}


/**
 * Membership across servers, from the joining side: remote join
 * (make_join/send_join, then the room's history by backfill), knock
 * (make_knock/send_knock), rejecting an invite or withdrawing a knock
 * (make_leave/send_leave), and the invitee side of /invite.
 */
import { checkAuth } from '../core/auth/index.ts';
import { encodeBase64 } from '../core/base64.ts';
import { isEventSignedByAsync } from '../core/event-signatures.ts';
import { computeEventId, eventSigningBytes } from '../core/hashing.ts';
import { type JsonObject, type JsonValue, isJsonObject } from '../core/json.ts';
import { type Pdu, type RoomEvent, stateKey, validatePdu } from '../core/pdu.ts';
import { SUPPORTED_ROOM_VERSIONS, roomVersion } from '../core/room-versions/registry.ts';
import { withSignature } from '../core/signing.ts';
import { placeInDag } from './dag.ts';
import type { Engine } from './engine.ts';
import { MatrixError, badJson, forbidden } from './errors.ts';
import { FederationError, UnreachableError } from './federation/types.ts';
import { type PduResults, type PreparedEvent, ingestPrepared, prepareBatch, storeOutliers } from './ingest.ts';
import { signLocal } from './local-events.ts';
import type { Room } from './room.ts';
import type { ClientDataRecord } from './store/types.ts';

export interface StrippedEvent {
  type: string;
  state_key: string;
  sender: string;
  content: JsonObject;
}

export interface PendingInvite {
  room_id: string;
  user_id: string;
  sender: string;
  room_version: string;
  event: JsonObject;
  invite_room_state: StrippedEvent[];
  ts: number;
}

const STRIPPED_TYPES = [
  'm.room.create',
  'm.room.join_rules',
  'm.room.name',
  'm.room.topic',
  'm.room.avatar',
  'm.room.canonical_alias',
  'm.room.encryption',
];

/**
 * Stripped state for invites and knocks: enough for a client to show the room; with
 * `inviter`, their member event too (as the spec recommends), so the invitee sees who asks by name.
 */
export function strippedState(room: Room, inviter?: string): StrippedEvent[] {
  const out: StrippedEvent[] = [];
  for (const type of STRIPPED_TYPES) {
    const ev = room.stateEvent(type, '');
    if (ev) out.push({ type, state_key: '', sender: ev.sender, content: ev.content });
  }
  const member = inviter === undefined ? undefined : room.stateEvent('m.room.member', inviter);
  if (member && inviter !== undefined) out.push({ type: 'm.room.member', state_key: inviter, sender: member.sender, content: member.content });
  return out;
}

function serverOf(userId: string): string {
  return userId.slice(userId.indexOf(':') + 1);
}

/**
 * Calls `fn` on each candidate server until one answers; the last error
 * explains a total failure. A round that fails only because servers were
 * unreachable (a connection closing under a request, a relay hiccup) is
 * tried again: every membership request here is safe to repeat.
 */
async function viaAny<T>(servers: readonly string[], fn: (server: string) => Promise<T>, rounds = 3): Promise<T> {
  let last: unknown = new MatrixError('M_UNAVAILABLE', 'no server to ask');
  for (let round = 0; round < rounds; round++) {
    if (round > 0) await new Promise((r) => setTimeout(r, 300 * round));
    for (const s of [...new Set(servers)]) {
      try {
        return await fn(s);
      } catch (err) {
        last = err;
      }
    }
    if (!(last instanceof UnreachableError)) break;
  }
  if (last instanceof FederationError) {
    throw new MatrixError(last.body.errcode as MatrixError['errcode'], `${last.destination}: ${last.body.error}`);
  }
  if (last instanceof UnreachableError) throw new MatrixError('M_UNAVAILABLE', `${last.message}; try again when it is back`);
  throw last;
}

async function call(e: Engine, server: string, req: Parameters<Engine['request']>[1]): Promise<JsonObject> {
  const res = await e.request(server, req);
  if (!res.ok) throw new FederationError(server, res.status, res.body);
  return res.body;
}

/** The invitee's server receives /invite: check, countersign, remember the invite. */
export async function inviteReceived(
  e: Engine,
  origin: string,
  roomId: string,
  eventId: string,
  raw: Pdu,
  version: string,
  inviteRoomState: unknown,
): Promise<Pdu> {
  const rules = roomVersion(version);
  let pdu: Pdu;
  try {
    pdu = validatePdu(raw);
  } catch (err) {
    throw badJson((err as Error).message);
  }
  const content = pdu.content as { membership?: unknown };
  if (pdu.type !== 'm.room.member' || content.membership !== 'invite' || typeof pdu.state_key !== 'string') {
    throw badJson('an invite must be an m.room.member event with membership invite');
  }
  if (pdu.room_id !== roomId) throw badJson(`the invite is for ${pdu.room_id}, not ${roomId}`);
  if (!e.isLocalUser(pdu.state_key)) throw forbidden(`${pdu.state_key} is not a user of this server`);
  if (serverOf(pdu.sender) !== origin) throw forbidden(`${origin} cannot send an invite from ${pdu.sender}`);
  if (computeEventId(pdu, rules) !== eventId) throw badJson('the event ID does not match the invite event');
  if (!(await isEventSignedByAsync(pdu, origin, rules, e.identity.verifier))) {
    throw forbidden(`the invite is not signed by ${origin}`);
  }
  const signature = await e.identity.sign(eventSigningBytes(pdu, rules));
  const signed = withSignature(pdu as unknown as JsonObject, e.serverName, e.identity.keyId, encodeBase64(signature));
  const invite: PendingInvite = {
    room_id: roomId,
    user_id: pdu.state_key,
    sender: pdu.sender,
    room_version: version,
    event: signed,
    invite_room_state: capStrippedState(inviteRoomState),
    ts: e.clock.now(),
  };
  // Checked and inserted with no await in between: concurrent invites cannot overshoot the bounds.
  const refusal = admitInvite(e, invite);
  if (refusal) {
    e.log('warn', `refused an invite from ${origin}: ${refusal}`, { room: roomId, user: pdu.state_key });
    throw new MatrixError('M_LIMIT_EXCEEDED', refusal);
  }
  await putPending(e, 'invites', invite);
  e.emit({ kind: 'invite', roomId, userId: pdu.state_key, sender: pdu.sender });
  return signed as unknown as Pdu;
}

// ---- pending invites and knocks --------------------------------------------------
//
// Invites (over federation) and knocks (our own) for rooms this server is not
// in: one client-data record each (user_id = the invitee or knocker, key =
// the room ID), mirrored in memory (`Engine.pending`, loaded at start) so
// /sync reads no store and an invite writes one record, not the whole list.
//
// Bounds on invites received (knocks are our own users' doing): at most
// MAX_INVITES_PER_SERVER pending from one sending server and MAX_INVITES in
// all, of which servers sharing no room with us (no room where both they and
// one of our users are joined) may hold at most MAX_INVITES_FROM_STRANGERS,
// so a flood from strangers (server names are cheap: a new key is a new
// server) never crowds out invites from servers we know. A re-invite to the
// same room replaces the earlier one and counts once. Beyond a bound the
// /invite is refused with M_LIMIT_EXCEEDED and logged.

type PendingKind = 'invites' | 'knocks';

/** Pending invites from one sending server. */
export const MAX_INVITES_PER_SERVER = 20;
/** Pending invites in all. */
export const MAX_INVITES = 500;
/** Pending invites from servers that share no room with us, in all. */
export const MAX_INVITES_FROM_STRANGERS = 100;
/** Stripped state an invite carries: entries, bytes per entry (as JSON), bytes in all. */
export const MAX_STRIPPED_EVENTS = 20;
export const MAX_STRIPPED_EVENT_BYTES = 4096;
export const MAX_STRIPPED_BYTES = 16 * 1024;

const RECORD_KIND: Record<PendingKind, string> = { invites: 'pending_invite', knocks: 'pending_knock' };
const utf8 = new TextEncoder();

function pendingKey(roomId: string, userId: string): string {
  return `${roomId}\n${userId}`;
}

/**
 * The stripped state of an invite as we keep it: well-formed entries only
 * (type, state_key, sender, content; other members dropped), an entry over
 * MAX_STRIPPED_EVENT_BYTES dropped, at most MAX_STRIPPED_EVENTS entries and
 * MAX_STRIPPED_BYTES in all (the room's create event and name come first
 * when the list must be cut).
 */
export function capStrippedState(raw: unknown): StrippedEvent[] {
  if (!Array.isArray(raw)) return [];
  const entries: StrippedEvent[] = [];
  for (const s of raw) {
    if (!isJsonObject(s) || typeof s.type !== 'string' || typeof s.state_key !== 'string' || !isJsonObject(s.content)) continue;
    entries.push({ type: s.type, state_key: s.state_key, sender: typeof s.sender === 'string' ? s.sender : '', content: s.content });
    if (entries.length >= MAX_STRIPPED_EVENTS * 4) break; // plenty to choose from; the rest is not looked at
  }
  const rank = (t: string) => {
    const i = STRIPPED_TYPES.indexOf(t);
    return i < 0 ? STRIPPED_TYPES.length : i;
  };
  const ordered = entries.map((s, i) => ({ s, i })).sort((x, y) => rank(x.s.type) - rank(y.s.type) || x.i - y.i);
  const out: StrippedEvent[] = [];
  let total = 0;
  for (const { s } of ordered) {
    if (out.length >= MAX_STRIPPED_EVENTS) break;
    const size = utf8.encode(JSON.stringify(s)).length;
    if (size > MAX_STRIPPED_EVENT_BYTES || total + size > MAX_STRIPPED_BYTES) continue;
    total += size;
    out.push(s);
  }
  return out;
}

/** A room where `server` and one of our users are both joined. */
function sharesRoomWith(e: Engine, server: string): boolean {
  for (const room of e.rooms.values()) {
    if (room.currentGroup < 0) continue;
    const joined = room.joinedServers();
    if (joined.has(server) && joined.has(e.serverName)) return true;
  }
  return false;
}

/**
 * Why `invite` may not be kept (a bound is reached), or undefined: then it
 * is in `e.pending` (the caller persists it). Invites whose invitee has
 * since joined the room here are forgotten first when a bound is reached.
 */
function admitInvite(e: Engine, invite: PendingInvite): string | undefined {
  const table = e.pending.invites;
  const key = pendingKey(invite.room_id, invite.user_id);
  if (table.has(key)) {
    table.set(key, invite); // a re-invite replaces the earlier one
    return undefined;
  }
  const server = serverOf(invite.sender);
  const stranger = !sharesRoomWith(e, server);
  const count = () => {
    let fromServer = 0;
    let fromStrangers = 0;
    const strangerMemo = new Map<string, boolean>();
    for (const p of table.values()) {
      const s = serverOf(p.sender);
      if (s === server) fromServer++;
      let st = strangerMemo.get(s);
      if (st === undefined) {
        st = !sharesRoomWith(e, s);
        strangerMemo.set(s, st);
      }
      if (st) fromStrangers++;
    }
    return { fromServer, fromStrangers, total: table.size };
  };
  const over = (c: ReturnType<typeof count>): string | undefined => {
    if (c.fromServer >= MAX_INVITES_PER_SERVER) return `${server} already has ${c.fromServer} invites pending here (the limit per server is ${MAX_INVITES_PER_SERVER})`;
    if (c.total >= MAX_INVITES) return `this server already holds ${c.total} pending invites (the limit is ${MAX_INVITES})`;
    if (stranger && c.fromStrangers >= MAX_INVITES_FROM_STRANGERS) {
      return `${server} shares no room with this server, and servers sharing none already have ${c.fromStrangers} invites pending here (the limit is ${MAX_INVITES_FROM_STRANGERS})`;
    }
    return undefined;
  };
  let refusal = over(count());
  if (refusal && prunePending(e) > 0) refusal = over(count());
  if (refusal) return refusal;
  table.set(key, invite);
  return undefined;
}

/**
 * Forgets (in memory and, written in the background, in the store) pending
 * invites whose invitee is joined to the room here by now; how many.
 */
function prunePending(e: Engine): number {
  const gone: PendingInvite[] = [];
  for (const [key, p] of e.pending.invites) {
    const room = e.rooms.get(p.room_id);
    if (room && room.currentGroup >= 0 && room.membership(p.user_id) === 'join') {
      e.pending.invites.delete(key);
      gone.push(p);
    }
  }
  if (gone.length > 0) {
    const deletes = gone.map((p) => ({ user_id: p.user_id, kind: RECORD_KIND.invites, key: p.room_id }));
    void e.commit({ clientDataDelete: deletes }).catch((err) => e.log('warn', 'forgetting stale pending invites failed', { error: String(err) }));
  }
  return gone.length;
}

/** Pending invites or knocks of every local user (from memory: no store read). */
export async function loadPending(e: Engine, kind: PendingKind): Promise<PendingInvite[]> {
  return [...e.pending[kind].values()];
}

/** The pending invite or knock of `userId` to `roomId`, if any. */
export function pendingOf(e: Engine, kind: PendingKind, roomId: string, userId: string): PendingInvite | undefined {
  return e.pending[kind].get(pendingKey(roomId, userId));
}

async function putPending(e: Engine, kind: PendingKind, item: PendingInvite): Promise<void> {
  e.pending[kind].set(pendingKey(item.room_id, item.user_id), item);
  await e.commit({ clientData: [{ user_id: item.user_id, kind: RECORD_KIND[kind], key: item.room_id, value: item as unknown as JsonObject }] });
}

export async function dropPending(e: Engine, kind: PendingKind, roomId: string, userId: string): Promise<void> {
  if (!e.pending[kind].delete(pendingKey(roomId, userId))) return;
  await e.commit({ clientDataDelete: [{ user_id: userId, kind: RECORD_KIND[kind], key: roomId }] });
}

function isPendingInvite(v: unknown): v is PendingInvite {
  if (!isJsonObject(v)) return false;
  return (
    typeof v.room_id === 'string' &&
    typeof v.user_id === 'string' &&
    typeof v.sender === 'string' &&
    typeof v.room_version === 'string' &&
    isJsonObject(v.event) &&
    Array.isArray(v.invite_room_state) &&
    typeof v.ts === 'number'
  );
}

/**
 * Loads the pending invites and knocks into `e.pending` (at start, before
 * the server takes requests). Lists an older version kept in the store's
 * meta ('invites', 'knocks': one list each, rewritten whole per change) are
 * moved to records once, within the bounds (oldest first), and deleted.
 */
export async function loadPendingTables(e: Engine): Promise<void> {
  for (const r of await e.store.listClientData()) {
    const kind = r.kind === RECORD_KIND.invites ? 'invites' : r.kind === RECORD_KIND.knocks ? 'knocks' : undefined;
    if (kind && isPendingInvite(r.value)) e.pending[kind].set(pendingKey(r.value.room_id, r.value.user_id), r.value);
  }
  const meta: Record<string, JsonValue> = {};
  const records: ClientDataRecord[] = [];
  let dropped = 0;
  for (const kind of ['invites', 'knocks'] as const) {
    const old = await e.store.getMeta(kind);
    if (old === undefined) continue;
    meta[kind] = undefined as unknown as JsonValue; // deletes the key
    const items = (Array.isArray(old) ? (old as unknown[]) : []).filter(isPendingInvite).sort((x, y) => x.ts - y.ts);
    for (const item of items) {
      if (pendingOf(e, kind, item.room_id, item.user_id)) continue;
      const p = { ...item, invite_room_state: capStrippedState(item.invite_room_state) };
      if (kind === 'invites' && admitInvite(e, p)) {
        dropped++;
        continue;
      }
      e.pending[kind].set(pendingKey(p.room_id, p.user_id), p);
      records.push({ user_id: p.user_id, kind: RECORD_KIND[kind], key: p.room_id, value: p as unknown as JsonObject });
    }
  }
  if (Object.keys(meta).length === 0) return;
  await e.store.write({ meta, clientData: records });
  e.log('info', `moved ${records.length} pending invites and knocks to their own records`, { dropped_over_bounds: dropped });
}

/** A local user's profile as member events carry it (display name, avatar). */
export function profileOf(e: Engine & { accounts?: ReadonlyMap<string, { display_name: string; avatar_url?: string }> }, userId: string): JsonObject {
  const a = e.accounts?.get(userId);
  return { displayname: a?.display_name ?? userId, ...(a?.avatar_url ? { avatar_url: a.avatar_url } : {}) };
}

/**
 * make_X then sign: the template from a resident server, completed and
 * signed by us. `content` adds to the template's (a join carries the
 * joiner's profile: the resident server does not know it).
 */
async function makeAndSign(
  e: Engine,
  server: string,
  kind: 'make_join' | 'make_knock' | 'make_leave',
  roomId: string,
  userId: string,
  content: JsonObject = {},
): Promise<{ ev: RoomEvent; version: string }> {
  const req =
    kind === 'make_leave'
      ? { kind, room_id: roomId, user_id: userId }
      : { kind, room_id: roomId, user_id: userId, ver: [...SUPPORTED_ROOM_VERSIONS] };
  const body = await call(e, server, req as Parameters<Engine['request']>[1]);
  const version = typeof body.room_version === 'string' ? body.room_version : '10';
  const rules = roomVersion(version);
  if (!isJsonObject(body.event)) throw new MatrixError('M_BAD_JSON', `${server} sent no event template`);
  const t = body.event as unknown as Pdu;
  if (t.sender !== userId || t.state_key !== userId || t.type !== 'm.room.member' || t.room_id !== roomId) {
    throw new MatrixError('M_BAD_JSON', `${server} sent a template for someone else`);
  }
  const room = e.rooms.get(roomId) ?? e.openRoom(roomId, rules.id);
  const merged = { ...content, ...(isJsonObject(t.content) ? t.content : {}) };
  const pdu: Pdu = { ...t, content: merged, origin_server_ts: e.clock.now(), hashes: { sha256: '' }, signatures: {} };
  const ev = await signLocal(e, room, pdu);
  return { ev, version: rules.id };
}

/** Joins a room this server is not in yet, through any of `via`. */
export async function remoteJoin(e: Engine, userId: string, roomId: string, via: readonly string[], profile: JsonObject = {}): Promise<void> {
  await viaAny(via, async (server) => {
    const { ev } = await makeAndSign(e, server, 'make_join', roomId, userId, profile);
    const { event_id, ...pdu } = ev;
    const body = await call(e, server, { kind: 'send_join', room_id: roomId, event_id, body: pdu as Pdu });
    const room = e.rooms.get(roomId)!;
    await room.lock.run(() => completeJoin(e, room, server, ev, body), 'join');
    await dropPending(e, 'invites', roomId, userId);
    await dropPending(e, 'knocks', roomId, userId);
    e.transport.subscribe(roomId);
    e.emit({ kind: 'room', roomId });
    // The history before our join, so every replica holds the whole room.
    void backfillHistory(e, room, server).catch((err) =>
      e.log('warn', 'backfill after join failed', { room: roomId, error: String(err) }),
    );
  });
}

/** Places our join with the state the resident server gave (send_join response). */
async function completeJoin(e: Engine, room: Room, server: string, ev: RoomEvent, body: JsonObject): Promise<void> {
  if (room.isDagNode(ev.event_id)) return;
  const results: PduResults = {};
  const chain = await prepareBatch(e, room, Array.isArray(body.auth_chain) ? body.auth_chain : [], results);
  const state = await prepareBatch(e, room, Array.isArray(body.state) ? body.state : [], results);
  const outliers = storeOutliers(e, room, [...chain, ...state]);
  // The resident server may have countersigned our join (restricted rooms): use its copy if valid.
  let joinEv = ev;
  if (isJsonObject(body.event)) {
    const theirs = await prepareBatch(e, room, [body.event], results);
    if (theirs[0] && theirs[0].ev.event_id === ev.event_id) joinEv = theirs[0].ev;
  }
  const stateMap = new Map<string, string>();
  for (const { ev: s } of state) if (typeof s.state_key === 'string') stateMap.set(stateKey(s.type, s.state_key), s.event_id);
  const group = room.groups.create(stateMap);
  const authEvents = joinEv.auth_events.map((a) => room.get(a)).filter((a): a is RoomEvent => a !== undefined);
  const verdict = checkAuth(joinEv, authEvents, room.rules, room.authCtx);
  if (!verdict.allowed) throw forbidden(`${server} returned a join that fails auth: ${verdict.reason}`);
  // placeInDag has set the current state from every forward extremity. Events may already be
  // placed when the join completes (PDUs for the room can arrive before the send_join reply),
  // so the join's own state alone would be a stale current state until the next event.
  const placement = placeInDag(e, room, joinEv, 'accepted', group.id);
  const servers = Array.isArray(body.servers_in_room) ? body.servers_in_room : [];
  for (const s of [...servers, ...room.joinedServers(), server]) {
    if (typeof s === 'string' && s !== e.serverName) room.servers.add(s);
  }
  await e.commit({
    events: [...outliers, placement.stored],
    stateGroups: [group, ...placement.groups],
    rooms: [room.record()],
  });
  e.emit({ kind: 'event', roomId: room.roomId, eventId: joinEv.event_id, status: 'accepted', stream: placement.stored.stream });
}

/**
 * Fetches the room's history before the events we have, page by page
 * (backfill), and places it in the DAG oldest first, so a server that
 * joined late still holds every event and computes every state itself.
 * Emits `backfill` updates: when the fetch starts (0), after each page
 * (the count so far) and at the end (`done`, with `error` on failure).
 */
export async function backfillHistory(e: Engine, room: Room, server: string, maxEvents = 100_000): Promise<number> {
  e.stats.backfills++;
  let fetched = 0;
  try {
    fetched = await fetchAndPlaceHistory(e, room, server, maxEvents, (n) => {
      fetched = n;
      e.emit({ kind: 'backfill', roomId: room.roomId, fetched: n, done: false });
    });
  } catch (err) {
    e.emit({ kind: 'backfill', roomId: room.roomId, fetched, done: true, error: err instanceof Error ? err.message : String(err) });
    throw err;
  }
  e.emit({ kind: 'backfill', roomId: room.roomId, fetched, done: true });
  return fetched;
}

/**
 * backfillHistory's work; `onPage` hears 0 when there is history to fetch,
 * then the running count of events fetched after each page.
 */
async function fetchAndPlaceHistory(
  e: Engine,
  room: Room,
  server: string,
  maxEvents: number,
  onPage: (fetched: number) => void,
): Promise<number> {
  // Cleared only when this backfill completes: a failure leaves it for anti-entropy to retry.
  room.needsBackfill = true;
  const collected = new Map<string, PreparedEvent>();
  const missingPrevs = (): string[] => {
    const out = new Set<string>();
    const consider = (prevs: readonly string[]) => {
      for (const p of prevs) if (!room.isDagNode(p) && !collected.has(p)) out.add(p);
    };
    for (const s of room.events.values()) if (s.state_group !== undefined) consider(s.pdu.prev_events);
    for (const p of collected.values()) consider(p.ev.prev_events);
    return [...out];
  };
  let frontier = missingPrevs();
  if (frontier.length > 0) onPage(0); // history is missing: the fetch starts
  while (frontier.length > 0 && collected.size < maxEvents) {
    const body = await call(e, server, { kind: 'backfill', room_id: room.roomId, v: frontier.slice(0, 20), limit: 200 });
    const results: PduResults = {};
    const page = await prepareBatch(e, room, Array.isArray(body.pdus) ? body.pdus : [], results);
    let progress = false;
    for (const p of page) {
      if (!collected.has(p.ev.event_id) && !room.isDagNode(p.ev.event_id)) {
        collected.set(p.ev.event_id, p);
        progress = true;
      }
    }
    if (!progress) break;
    onPage(collected.size);
    frontier = missingPrevs();
  }
  await room.lock.run(async () => {
    if (collected.size > 0) {
      await ingestPrepared(e, room, [...collected.values()], { origin: server, source: 'backfill', fetchMissing: false });
    }
    // Events placed earlier with a peer's reported state become ordinary
    // DAG events once their own history is here.
    const upgradable = [...room.events.values()]
      .filter((s) => s.status === 'outlier' && s.state_group !== undefined)
      .filter((s) => s.pdu.prev_events.every((p) => room.isDagNode(p) && room.events.get(p)?.status !== 'outlier'))
      .map((s) => ({ ev: room.get(s.event_id)!, hashMismatch: false }));
    if (upgradable.length > 0) {
      await ingestPrepared(e, room, upgradable, { origin: server, source: 'backfill', fetchMissing: false });
    }
  }, 'backfill');
  // Done only when nothing before our events is missing any more: a peer that lacks the
  // history itself (e.g. one that re-joined moments ago) gives no progress, not completion.
  room.needsBackfill = room.hasHistoryGaps();
  return collected.size;
}

/** Knocks on a room through any of `via`. */
export async function remoteKnock(e: Engine, userId: string, roomId: string, via: readonly string[], reason?: string): Promise<void> {
  await viaAny(via, async (server) => {
    let { ev } = await makeAndSign(e, server, 'make_knock', roomId, userId);
    if (reason) {
      const room = e.rooms.get(roomId)!;
      const { event_id: _id, hashes: _h, signatures: _s, ...rest } = ev;
      ev = await signLocal(e, room, { ...(rest as Pdu), content: { ...ev.content, reason }, hashes: { sha256: '' }, signatures: {} });
    }
    const { event_id, ...pdu } = ev;
    const body = await call(e, server, { kind: 'send_knock', room_id: roomId, event_id, body: pdu as Pdu });
    const room = e.rooms.get(roomId)!;
    await putPending(e, 'knocks', {
      room_id: roomId,
      user_id: userId,
      sender: userId,
      room_version: room.rules.id,
      event: pdu as unknown as JsonObject,
      invite_room_state: capStrippedState(body.knock_room_state),
      ts: e.clock.now(),
    });
    e.emit({ kind: 'room', roomId });
  });
}

/** Leaves a room we are not joined to (reject an invite, withdraw a knock) via make_leave/send_leave. */
export async function remoteLeave(e: Engine, userId: string, roomId: string, via: readonly string[]): Promise<void> {
  await viaAny(via, async (server) => {
    const { ev } = await makeAndSign(e, server, 'make_leave', roomId, userId);
    const { event_id, ...pdu } = ev;
    await call(e, server, { kind: 'send_leave', room_id: roomId, event_id, body: pdu as Pdu });
  });
  await dropPending(e, 'invites', roomId, userId);
  await dropPending(e, 'knocks', roomId, userId);
  e.emit({ kind: 'room', roomId });
}

/** Sends an invite event we built to the invitee's server and returns it countersigned. */
export async function countersignInvite(e: Engine, room: Room, ev: RoomEvent): Promise<RoomEvent> {
  const target = ev.state_key!;
  const server = serverOf(target);
  const { event_id, ...pdu } = ev;
  const body = await viaAny([server], (s) =>
    call(e, s, {
      kind: 'invite',
      room_id: room.roomId,
      event_id,
      body: { event: pdu as Pdu, invite_room_state: strippedState(room, ev.sender) as unknown as JsonObject[], room_version: room.rules.id },
    }),
  );
  if (!isJsonObject(body.event)) throw new MatrixError('M_BAD_JSON', `${server} did not return the invite`);
  const signed = body.event as unknown as Pdu;
  if (computeEventId(signed, room.rules) !== event_id) throw new MatrixError('M_BAD_JSON', `${server} changed the invite event`);
  if (!(await isEventSignedByAsync(signed, server, room.rules, e.identity.verifier))) {
    throw new MatrixError('M_FORBIDDEN', `${server} did not sign the invite`);
  }
  return { ...signed, event_id };
}

/**
 * Rooms: creation, membership (join, invite, kick, ban, unban, leave,
 * forget, knock), sending (idempotent per device and transaction ID),
 * state, redaction, and the read models — /messages, /context, /event,
 * /members, /joined_members, relations — with history visibility applied
 * for the requesting user; receipts, read markers and typing.
 */
import { canonicalJson } from '../../core/canonical-json.ts';
import { type JsonObject, isJsonObject } from '../../core/json.ts';
import { isHashRoomId, isValidUserId } from '../../core/ids.ts';
import { SUPPORTED_ROOM_VERSIONS, isSupportedRoomVersion } from '../../core/room-versions/registry.ts';
import type { CreateRoomOptions, Preset } from '../client.ts';
import { MatrixError, forbidden, notFound } from '../errors.ts';
import type { Room } from '../room.ts';
import type { ClientDataRecord, StoredEvent, WriteBatch } from '../store/types.ts';
import type { ClientApi } from './api.ts';
import { HeldEventError } from '../local-events.ts';
import { CLIENT_DEFAULT_ROOM_VERSION } from './discovery.ts';
import { forgetRoom } from './forget.ts';
import { clientEvent, isTimelineEvent, stateEvents, visibleToUser } from './events.ts';
import { optBool, optObject, optString, optStringArray, queryInt, requireString } from './params.ts';
import type { AuthedContext, Route } from './router.ts';
import { typeAllowed } from './sync.ts';
import type { Session } from './types.ts';

/** Event content a client may send: the PDU limit is 64 KiB, and the envelope needs some of it. */
const MAX_CONTENT_BYTES = 60_000;

/** `!opaque:server`, or room version 12's `!` + the create event's hash (no server). */
function checkRoomId(roomId: string): void {
  if (!/^![^:]+:.+$/.test(roomId) && !isHashRoomId(roomId)) {
    throw new MatrixError('M_INVALID_PARAM', `${JSON.stringify(roomId)} is not a room ID (!opaque:server, or ! and 43 base64url characters)`);
  }
}

function checkUser(userId: string): void {
  if (!isValidUserId(userId)) throw new MatrixError('M_INVALID_PARAM', `${JSON.stringify(userId)} is not a user ID (@name:server)`);
}

/** A room this server is in, that the user is or was in (any membership). */
function knownRoom(ctx: AuthedContext): Room {
  const roomId = ctx.params.roomId!;
  checkRoomId(roomId);
  const room = ctx.api.hs.rooms.get(roomId);
  if (!room || room.currentGroup < 0) throw forbidden(`${ctx.session.userId} is not in ${roomId} (this server is not in the room)`);
  return room;
}

/** The room, for a user who may read it now (joined, or world_readable history). */
function readableRoom(ctx: AuthedContext): Room {
  const room = knownRoom(ctx);
  const m = room.membership(ctx.session.userId);
  if (m === 'join') return room;
  const hv = (room.stateEvent('m.room.history_visibility')?.content as { history_visibility?: unknown } | undefined)?.history_visibility;
  if (hv === 'world_readable') return room;
  // Past members may still read what they saw (visibility is checked per event).
  if (m === 'leave' || m === 'ban') {
    const me = room.stateEvent('m.room.member', ctx.session.userId);
    if (me) return room;
  }
  throw forbidden(`${ctx.session.userId} is not in ${room.roomId} (membership ${m})`);
}

function contentSize(content: JsonObject): number {
  try {
    return new TextEncoder().encode(canonicalJson(content)).length;
  } catch (err) {
    throw new MatrixError('M_BAD_JSON', `the event content is not valid canonical JSON: ${(err as Error).message}`);
  }
}

function checkContent(content: JsonObject): void {
  if (contentSize(content) > MAX_CONTENT_BYTES) throw new MatrixError('M_TOO_LARGE', `event content is larger than ${MAX_CONTENT_BYTES} bytes`);
}

function checkEventType(type: string): void {
  if (type.length === 0 || type.length > 255) throw new MatrixError('M_INVALID_PARAM', 'the event type must be 1-255 characters');
}

/**
 * Runs a send once per (device, transaction ID): a retry gets the first
 * attempt's event ID, also while the first attempt is still running, and
 * after a restart: the mapping is stored in the event's own transaction
 * (`send` passes `alsoWrite` on), so a crash cannot keep the event and lose
 * the mapping (a retry would then create the event twice).
 */
const inFlight = new Map<string, Promise<string>>();
/**
 * Sends whose event exists but whose write is held (the disk or quota was
 * full: HeldEventError). A retry of the same transaction writes what is held
 * and answers with that event — never a second copy.
 */
const heldTxns = new Map<string, { eventId: string; stored: Promise<void> }>();

async function idempotent(
  api: ClientApi,
  session: Session,
  txnId: string,
  send: (alsoWrite: (eventId: string) => WriteBatch) => Promise<string>,
): Promise<string> {
  const key = `${session.deviceId}\n${txnId}`;
  const done = api.getData(session.userId, 'txn', key);
  if (typeof done === 'string') return done;
  const flightKey = `${api.serverName}\n${session.userId}\n${key}`;
  const running = inFlight.get(flightKey);
  if (running) return running;
  const held = heldTxns.get(flightKey);
  if (held) {
    // Fails again (the same error) while the store still refuses the write.
    await api.hs.flushWrites();
    await held.stored;
    heldTxns.delete(flightKey);
    return held.eventId;
  }
  let answered: () => void = () => {};
  const answering = new Promise<void>((resolve) => {
    answered = resolve;
  });
  let madeId: string | undefined;
  const p = (async () => {
    api.limits.send.take(`${session.userId}\n${session.deviceId}`, 'events sent');
    let stamped: ClientDataRecord[] | undefined;
    let eventId: string;
    try {
      eventId = await send((id) => {
        madeId = id;
        api.sendsAnswering.set(id, answering);
        // Known before the event is stored and announced: a /sync woken by it already carries
        // unsigned.transaction_id (the client's remote echo), even before this request answers.
        api.sentWithTxn.set(id, { deviceId: session.deviceId, txnId });
        stamped = api.stampData([{ user_id: session.userId, kind: 'txn', key, value: id }]);
        return { clientData: stamped };
      });
    } catch (err) {
      if (err instanceof HeldEventError) {
        heldTxns.set(flightKey, { eventId: err.eventId, stored: err.stored });
        const records = stamped;
        void err.stored.then(() => {
          if (records) api.dataWritten(records);
          heldTxns.delete(flightKey);
        });
      }
      throw err;
    }
    if (stamped && stamped[0]?.value === eventId) api.dataWritten(stamped);
    else await api.putData([{ user_id: session.userId, kind: 'txn', key, value: eventId }]);
    return eventId;
  })();
  inFlight.set(flightKey, p);
  try {
    return await p;
  } finally {
    inFlight.delete(flightKey);
    // The answer is on its way once this returns; a /sync waiting on it goes a macrotask later.
    answered();
    if (madeId !== undefined) api.sendsAnswering.delete(madeId);
  }
}

/** Resolves `#alias:server` through the local directory; a room ID is returned as it is. */
function resolveRoom(api: ClientApi, idOrAlias: string): { roomId: string; servers: string[] } {
  if (idOrAlias.startsWith('!')) {
    checkRoomId(idOrAlias);
    return { roomId: idOrAlias, servers: [] };
  }
  if (!idOrAlias.startsWith('#') || !idOrAlias.includes(':')) {
    throw new MatrixError('M_INVALID_PARAM', `${JSON.stringify(idOrAlias)} is neither a room ID nor a room alias`);
  }
  const roomId = api.getData('', 'alias', idOrAlias);
  if (typeof roomId !== 'string') throw notFound(`room alias ${idOrAlias} is not known here`);
  return { roomId, servers: [] };
}

function viaOf(ctx: AuthedContext): string[] {
  return [...ctx.query.getAll('via'), ...ctx.query.getAll('server_name')].filter((s) => s.length > 0 && s.length <= 255);
}

async function join(ctx: AuthedContext, idOrAlias: string): Promise<{ json: JsonObject }> {
  const { roomId } = resolveRoom(ctx.api, idOrAlias);
  await ctx.api.client.join(ctx.session.userId, roomId, viaOf(ctx));
  if (ctx.api.getData(ctx.session.userId, 'forgotten', roomId) !== undefined) {
    await ctx.api.putData([], [{ user_id: ctx.session.userId, kind: 'forgotten', key: roomId }]);
  }
  return { json: { room_id: roomId } };
}

// ---- positions for /messages and /context -------------------------------------

interface Position {
  depth: number;
  stream: number;
}

function parsePosition(token: string | null): Position | 'end' | undefined {
  if (token === null || token === '') return undefined;
  const t = /^t(\d{1,15})_(\d{1,15})$/.exec(token);
  if (t) return { depth: Number(t[1]), stream: Number(t[2]) };
  if (/^s\d{1,15}_\d{1,15}_[A-Za-z0-9_-]{1,32}$/.test(token)) return 'end';
  throw new MatrixError('M_INVALID_PARAM', `${JSON.stringify(token)} is not a pagination token from this server`);
}

const before = (s: StoredEvent, p: Position) => s.pdu.depth < p.depth || (s.pdu.depth === p.depth && s.stream < p.stream);
const tokenOf = (s: StoredEvent, after = false) => `t${s.pdu.depth}_${s.stream + (after ? 1 : 0)}`;

function eventFilter(ctx: AuthedContext): { types?: string[]; notTypes: string[]; lazy: boolean } {
  const raw = ctx.query.get('filter');
  if (!raw) return { notTypes: [], lazy: false };
  let f: unknown;
  try {
    f = JSON.parse(raw);
  } catch {
    throw new MatrixError('M_INVALID_PARAM', 'the filter parameter is not valid JSON');
  }
  if (!isJsonObject(f)) throw new MatrixError('M_INVALID_PARAM', 'the filter must be a JSON object');
  const strs = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined);
  const types = strs(f.types);
  return { ...(types ? { types } : {}), notTypes: strs(f.not_types) ?? [], lazy: f.lazy_load_members === true };
}

/** The room's events a user may see, in causal order. */
function visibleEvents(room: Room, userId: string): StoredEvent[] {
  return room.topological((s) => isTimelineEvent(s)).filter((s) => visibleToUser(room, s, userId));
}

function membersOf(ctx: AuthedContext, room: Room, events: StoredEvent[]): JsonObject[] {
  const senders = new Set(events.map((e) => e.pdu.sender));
  return stateEvents(ctx.api, room, room.currentState(), (type, key) => type === 'm.room.member' && senders.has(key));
}

async function createRoom(ctx: AuthedContext): Promise<{ json: JsonObject }> {
  const api = ctx.api;
  const userId = ctx.session.userId;
  const body = ctx.body();
  const visibility = optString(body, 'visibility') ?? 'private';
  if (visibility !== 'public' && visibility !== 'private') throw new MatrixError('M_INVALID_PARAM', 'visibility must be "public" or "private"');
  const presetRaw = optString(body, 'preset');
  if (presetRaw !== undefined && !['private_chat', 'public_chat', 'trusted_private_chat'].includes(presetRaw)) {
    throw new MatrixError('M_INVALID_PARAM', `unknown preset ${JSON.stringify(presetRaw)}`);
  }
  const preset = (presetRaw ?? (visibility === 'public' ? 'public_chat' : 'private_chat')) as Preset;
  const version = optString(body, 'room_version') ?? CLIENT_DEFAULT_ROOM_VERSION;
  if (!isSupportedRoomVersion(version)) throw new MatrixError('M_UNSUPPORTED_ROOM_VERSION', `room version ${version} is not supported (${SUPPORTED_ROOM_VERSIONS.join(', ')})`);
  const invite = optStringArray(body, 'invite') ?? [];
  for (const u of invite) checkUser(u);
  const initialState = body.initial_state;
  if (initialState !== undefined && !Array.isArray(initialState)) throw new MatrixError('M_BAD_JSON', 'initial_state must be a list of state events');
  const initial = (initialState ?? []) as unknown[];
  for (const s of initial) {
    if (!isJsonObject(s) || typeof s.type !== 'string' || !isJsonObject(s.content) || (s.state_key !== undefined && typeof s.state_key !== 'string')) {
      throw new MatrixError('M_BAD_JSON', 'each initial_state entry needs a type, an optional state_key and a content object');
    }
  }
  const plOverride = optObject(body, 'power_level_content_override');
  // Checked for its type only: its keys (room type, m.federate, predecessor) are not applied yet.
  optObject(body, 'creation_content');
  const aliasName = optString(body, 'room_alias_name');
  const alias = aliasName !== undefined ? `#${aliasName}:${api.serverName}` : undefined;
  if (alias !== undefined) {
    if (!/^[^:\s#]{1,200}$/.test(aliasName!)) throw new MatrixError('M_INVALID_PARAM', 'room_alias_name must be a plain name (no ":", "#" or spaces)');
    if (api.getData('', 'alias', alias) !== undefined) throw new MatrixError('M_ROOM_IN_USE', `the alias ${alias} is taken`);
  }
  const name = optString(body, 'name');
  const topic = optString(body, 'topic');
  const opts: CreateRoomOptions = {
    preset,
    roomVersion: version,
    invite: [],
    isDirect: optBool(body, 'is_direct') ?? false,
    ...(name ? { name } : {}),
    ...(topic ? { topic } : {}),
  };
  const roomId = await api.client.createRoom(userId, opts);
  if (plOverride) {
    const current = api.hs.rooms.get(roomId)?.stateEvent('m.room.power_levels')?.content ?? {};
    await api.client.setState(userId, roomId, 'm.room.power_levels', '', { ...current, ...plOverride });
  }
  for (const s of initial as JsonObject[]) {
    await api.client.setState(userId, roomId, s.type as string, (s.state_key as string | undefined) ?? '', s.content as JsonObject);
  }
  if (alias !== undefined) {
    await api.putData([{ user_id: '', kind: 'alias', key: alias, value: roomId }]);
    await api.client.setState(userId, roomId, 'm.room.canonical_alias', '', { alias });
  }
  if (visibility === 'public') await api.putData([{ user_id: '', kind: 'published', key: roomId, value: true }]);
  for (const u of invite) await api.client.invite(userId, roomId, u);
  return { json: { room_id: roomId } };
}

/**
 * `POST /rooms/{roomId}/upgrade`: the engine's upgrade (new room, copied state, tombstone, old
 * room restricted, members invited), then what lives in this API's data: the room's local
 * aliases point to the new room, its canonical alias moves with them, and a room published in
 * the directory is published in its place.
 */
async function upgradeRoom(ctx: AuthedContext): Promise<{ json: JsonObject }> {
  const api = ctx.api;
  const userId = ctx.session.userId;
  const room = knownRoom(ctx);
  const body = ctx.body();
  const newVersion = requireString(body, 'new_version');
  const additionalCreators = optStringArray(body, 'additional_creators') ?? [];
  for (const u of additionalCreators) checkUser(u);
  const { replacementRoom } = await api.client.upgradeRoom(userId, room.roomId, newVersion, { additionalCreators });
  const aliases = api.listData('', 'alias').filter((r) => r.value === room.roomId);
  if (aliases.length > 0) await api.putData(aliases.map((r) => ({ user_id: '', kind: 'alias', key: r.key, value: replacementRoom })));
  const canonical = room.stateEvent('m.room.canonical_alias')?.content;
  if (canonical && Object.keys(canonical).length > 0) {
    // Best effort, as the spec's server behaviour: a refusal leaves the aliases where they were.
    await api.client.setState(userId, replacementRoom, 'm.room.canonical_alias', '', canonical).catch(() => undefined);
    await api.client.setState(userId, room.roomId, 'm.room.canonical_alias', '', {}).catch(() => undefined);
  }
  if (api.getData('', 'published', room.roomId) === true) {
    await api.putData([{ user_id: '', kind: 'published', key: replacementRoom, value: true }], [{ user_id: '', kind: 'published', key: room.roomId }]);
  }
  return { json: { replacement_room: replacementRoom } };
}

function memberAction(path: string, act: (ctx: AuthedContext, room: string, target: string, reason?: string) => Promise<unknown>): Route {
  return {
    method: 'POST',
    family: 'client',
    path: `/rooms/:roomId/${path}`,
    auth: 'required',
    async handle(ctx) {
      checkRoomId(ctx.params.roomId!);
      const body = ctx.body();
      const target = requireString(body, 'user_id');
      checkUser(target);
      await act(ctx, ctx.params.roomId!, target, optString(body, 'reason'));
      return { json: {} };
    },
  };
}

export const roomRoutes: Route[] = [
  { method: 'POST', family: 'client', path: '/createRoom', auth: 'required', handle: createRoom },
  {
    method: 'POST',
    family: 'client',
    path: '/join/:roomIdOrAlias',
    auth: 'required',
    handle: (ctx) => join(ctx, ctx.params.roomIdOrAlias!),
  },
  {
    method: 'POST',
    family: 'client',
    path: '/rooms/:roomId/join',
    auth: 'required',
    handle: (ctx) => join(ctx, ctx.params.roomId!),
  },
  {
    method: 'POST',
    family: 'client',
    path: '/knock/:roomIdOrAlias',
    auth: 'required',
    async handle(ctx) {
      const { roomId } = resolveRoom(ctx.api, ctx.params.roomIdOrAlias!);
      await ctx.api.client.knock(ctx.session.userId, roomId, viaOf(ctx), optString(ctx.body(), 'reason'));
      return { json: { room_id: roomId } };
    },
  },
  memberAction('invite', (ctx, room, target) => ctx.api.client.invite(ctx.session.userId, room, target)),
  memberAction('kick', (ctx, room, target, reason) => ctx.api.client.kick(ctx.session.userId, room, target, reason)),
  memberAction('ban', (ctx, room, target, reason) => ctx.api.client.ban(ctx.session.userId, room, target, reason)),
  memberAction('unban', (ctx, room, target) => ctx.api.client.unban(ctx.session.userId, room, target)),
  {
    method: 'POST',
    family: 'client',
    path: '/rooms/:roomId/leave',
    auth: 'required',
    async handle(ctx) {
      const roomId = ctx.params.roomId!;
      checkRoomId(roomId);
      const inRoom = ctx.api.hs.rooms.get(roomId);
      await ctx.api.client.leave(ctx.session.userId, roomId, optString(ctx.body(), 'reason'));
      if (!inRoom || inRoom.currentGroup < 0) ctx.api.notifier.pendingChanged(roomId, ctx.session.userId);
      return { json: {} };
    },
  },
  {
    method: 'POST',
    family: 'client',
    path: '/rooms/:roomId/upgrade',
    auth: 'required',
    handle: upgradeRoom,
  },
  {
    method: 'POST',
    family: 'client',
    path: '/rooms/:roomId/forget',
    auth: 'required',
    async handle(ctx) {
      const roomId = ctx.params.roomId!;
      checkRoomId(roomId);
      // Once every local user has forgotten the room, its records are deleted (forget.ts).
      await forgetRoom(ctx.api, ctx.session.userId, roomId);
      return { json: {} };
    },
  },
  {
    method: 'GET',
    family: 'client',
    path: '/joined_rooms',
    auth: 'required',
    handle(ctx) {
      const out: string[] = [];
      for (const room of ctx.api.hs.rooms.values()) {
        if (room.currentGroup >= 0 && room.membership(ctx.session.userId) === 'join') out.push(room.roomId);
      }
      return { json: { joined_rooms: out } };
    },
  },
  {
    method: 'PUT',
    family: 'client',
    path: '/rooms/:roomId/send/:eventType/:txnId',
    auth: 'required',
    async handle(ctx) {
      const { roomId, eventType, txnId } = ctx.params as { roomId: string; eventType: string; txnId: string };
      knownRoom(ctx);
      checkEventType(eventType);
      const content = ctx.body();
      checkContent(content);
      const userId = ctx.session.userId;
      const eventId = await idempotent(ctx.api, ctx.session, txnId, async (alsoWrite) => {
        if (eventType === 'm.room.redaction') {
          const target = content.redacts;
          if (typeof target !== 'string') throw new MatrixError('M_BAD_JSON', 'a redaction needs "redacts"');
          return ctx.api.client.redact(userId, roomId, target, typeof content.reason === 'string' ? content.reason : undefined, alsoWrite);
        }
        return ctx.api.client.sendEvent(userId, roomId, eventType, content, alsoWrite);
      });
      return { json: { event_id: eventId } };
    },
  },
  {
    method: 'PUT',
    family: 'client',
    path: '/rooms/:roomId/redact/:eventId/:txnId',
    auth: 'required',
    async handle(ctx) {
      const { roomId, eventId, txnId } = ctx.params as { roomId: string; eventId: string; txnId: string };
      knownRoom(ctx);
      const reason = optString(ctx.body(), 'reason');
      const id = await idempotent(ctx.api, ctx.session, txnId, (alsoWrite) => ctx.api.client.redact(ctx.session.userId, roomId, eventId, reason, alsoWrite));
      return { json: { event_id: id } };
    },
  },
  {
    method: 'PUT',
    family: 'client',
    path: '/rooms/:roomId/state/:eventType/*stateKey',
    auth: 'required',
    async handle(ctx) {
      const { roomId, eventType, stateKey } = ctx.params as { roomId: string; eventType: string; stateKey: string };
      knownRoom(ctx);
      checkEventType(eventType);
      const content = ctx.body();
      checkContent(content);
      if (eventType === 'm.room.member') throw forbidden('membership changes go through /join, /invite, /kick, /ban, /unban and /leave');
      const id = await ctx.api.client.setState(ctx.session.userId, roomId, eventType, stateKey, content);
      return { json: { event_id: id } };
    },
  },
  {
    method: 'GET',
    family: 'client',
    path: '/rooms/:roomId/state/:eventType/*stateKey',
    auth: 'required',
    handle(ctx) {
      const room = readableRoom(ctx);
      const { eventType, stateKey } = ctx.params as { eventType: string; stateKey: string };
      const ev = room.stateEvent(eventType, stateKey, stateFor(ctx, room));
      if (!ev) throw notFound(`${room.roomId} has no ${eventType} state with key ${JSON.stringify(stateKey)}`);
      if (ctx.query.get('format') === 'event') return { json: clientEvent(ctx.api, room, room.events.get(ev.event_id)!) };
      return { json: ev.content };
    },
  },
  {
    method: 'GET',
    family: 'client',
    path: '/rooms/:roomId/state',
    auth: 'required',
    handle(ctx) {
      const room = readableRoom(ctx);
      return { json: stateEvents(ctx.api, room, stateFor(ctx, room)) };
    },
  },
  {
    method: 'GET',
    family: 'client',
    path: '/rooms/:roomId/event/:eventId',
    auth: 'required',
    handle(ctx) {
      const room = readableRoom(ctx);
      const s = room.events.get(ctx.params.eventId!);
      if (!isTimelineEvent(s) || !visibleToUser(room, s, ctx.session.userId)) throw notFound(`event ${ctx.params.eventId} not found`);
      return { json: clientEvent(ctx.api, room, s, { session: ctx.session }) };
    },
  },
  {
    method: 'GET',
    family: 'client',
    path: '/rooms/:roomId/messages',
    auth: 'required',
    handle(ctx) {
      const room = readableRoom(ctx);
      const dir = ctx.query.get('dir') ?? 'b';
      if (dir !== 'b' && dir !== 'f') throw new MatrixError('M_INVALID_PARAM', 'dir must be "b" or "f"');
      const limit = Math.max(1, queryInt(ctx.query, 'limit', 10, 1000));
      const from = parsePosition(ctx.query.get('from'));
      const to = parsePosition(ctx.query.get('to'));
      const filter = eventFilter(ctx);
      let events = visibleEvents(room, ctx.session.userId).filter((s) => typeAllowed(filter, s.pdu.type));
      if (dir === 'b') {
        if (from && from !== 'end') events = events.filter((s) => before(s, from));
        if (to && to !== 'end') events = events.filter((s) => !before(s, to));
        events.reverse();
      } else {
        if (from === 'end') events = [];
        else if (from) events = events.filter((s) => !before(s, from));
        if (to && to !== 'end') events = events.filter((s) => before(s, to));
      }
      const chunk = events.slice(0, limit);
      const more = events.length > limit;
      const last = chunk[chunk.length - 1];
      const start = ctx.query.get('from') ?? (dir === 'b' ? `s${ctx.api.hs.currentStream}_${ctx.api.notifier.epos}_${ctx.api.notifier.epoch}` : 't0_0');
      const opts = { session: ctx.session };
      return {
        json: {
          start,
          ...(more && last ? { end: dir === 'b' ? tokenOf(last) : tokenOf(last, true) } : {}),
          chunk: chunk.map((s) => clientEvent(ctx.api, room, s, opts)),
          ...(filter.lazy ? { state: membersOf(ctx, room, chunk) } : {}),
        },
      };
    },
  },
  {
    method: 'GET',
    family: 'client',
    path: '/rooms/:roomId/context/:eventId',
    auth: 'required',
    handle(ctx) {
      const room = readableRoom(ctx);
      const limit = queryInt(ctx.query, 'limit', 10, 100);
      const filter = eventFilter(ctx);
      const events = visibleEvents(room, ctx.session.userId);
      const i = events.findIndex((s) => s.event_id === ctx.params.eventId);
      if (i < 0) throw notFound(`event ${ctx.params.eventId} not found`);
      const target = events[i]!;
      const nBefore = Math.floor(limit / 2);
      const beforeList = events.slice(0, i).filter((s) => typeAllowed(filter, s.pdu.type));
      const afterList = events.slice(i + 1).filter((s) => typeAllowed(filter, s.pdu.type));
      const eb = beforeList.slice(Math.max(0, beforeList.length - nBefore)).reverse();
      const ea = afterList.slice(0, limit - nBefore);
      const opts = { session: ctx.session };
      const shown = [target, ...eb, ...ea];
      const state = filter.lazy ? membersOf(ctx, room, shown) : stateEvents(ctx.api, room, room.stateAfter(target.event_id));
      return {
        json: {
          event: clientEvent(ctx.api, room, target, opts),
          events_before: eb.map((s) => clientEvent(ctx.api, room, s, opts)),
          events_after: ea.map((s) => clientEvent(ctx.api, room, s, opts)),
          start: eb.length ? tokenOf(eb[eb.length - 1]!) : tokenOf(target),
          end: ea.length ? tokenOf(ea[ea.length - 1]!, true) : tokenOf(target, true),
          state,
        },
      };
    },
  },
  {
    method: 'GET',
    family: 'client',
    path: '/rooms/:roomId/members',
    auth: 'required',
    handle(ctx) {
      const room = readableRoom(ctx);
      const membership = ctx.query.get('membership');
      const not = ctx.query.get('not_membership');
      const state = stateFor(ctx, room);
      const chunk = stateEvents(ctx.api, room, state, (type) => type === 'm.room.member').filter((e) => {
        const m = (e.content as { membership?: unknown }).membership;
        return (membership === null || m === membership) && (not === null || m !== not);
      });
      return { json: { chunk } };
    },
  },
  {
    method: 'GET',
    family: 'client',
    path: '/rooms/:roomId/joined_members',
    auth: 'required',
    handle(ctx) {
      const room = readableRoom(ctx);
      const joined: JsonObject = {};
      for (const m of room.members()) {
        if (m.membership !== 'join') continue;
        const c = (room.get(m.eventId)?.content ?? {}) as { displayname?: unknown; avatar_url?: unknown };
        joined[m.userId] = {
          ...(typeof c.displayname === 'string' ? { display_name: c.displayname } : {}),
          ...(typeof c.avatar_url === 'string' ? { avatar_url: c.avatar_url } : {}),
        };
      }
      return { json: { joined } };
    },
  },
  ...['/rooms/:roomId/relations/:eventId', '/rooms/:roomId/relations/:eventId/:relType', '/rooms/:roomId/relations/:eventId/:relType/:eventType'].map(
    (path): Route => ({
      method: 'GET',
      family: 'client',
      path,
      auth: 'required',
      handle(ctx) {
        const room = readableRoom(ctx);
        const { eventId, relType, eventType } = ctx.params;
        const parent = room.events.get(eventId!);
        if (!isTimelineEvent(parent) || !visibleToUser(room, parent, ctx.session.userId)) throw notFound(`event ${eventId} not found`);
        const dir = ctx.query.get('dir') ?? 'b';
        if (dir !== 'b' && dir !== 'f') throw new MatrixError('M_INVALID_PARAM', 'dir must be "b" or "f"');
        const limit = Math.max(1, queryInt(ctx.query, 'limit', 50, 1000));
        const from = parsePosition(ctx.query.get('from'));
        let related = visibleEvents(room, ctx.session.userId).filter((s) => {
          const rel = (s.pdu.content as { 'm.relates_to'?: { rel_type?: unknown; event_id?: unknown } })['m.relates_to'];
          if (!isJsonObject(rel) || rel.event_id !== eventId) return false;
          if (relType !== undefined && rel.rel_type !== relType) return false;
          return eventType === undefined || s.pdu.type === eventType;
        });
        if (dir === 'b') {
          related.reverse();
          if (from && from !== 'end') related = related.filter((s) => before(s, from));
        } else if (from && from !== 'end') related = related.filter((s) => !before(s, from));
        const chunk = related.slice(0, limit);
        const last = chunk[chunk.length - 1];
        return {
          json: {
            chunk: chunk.map((s) => clientEvent(ctx.api, room, s, { session: ctx.session })),
            ...(related.length > limit && last ? { next_batch: dir === 'b' ? tokenOf(last) : tokenOf(last, true) } : {}),
          },
        };
      },
    }),
  ),
  {
    // Spec v1.4: the thread list (Element's thread panel; js-sdk's Room.fetchRoomThreads), most recently active first.
    method: 'GET',
    family: 'client',
    path: '/rooms/:roomId/threads',
    auth: 'required',
    handle(ctx) {
      const room = readableRoom(ctx);
      const me = ctx.session.userId;
      const include = ctx.query.get('include') ?? 'all';
      if (include !== 'all' && include !== 'participated') throw new MatrixError('M_INVALID_PARAM', 'include must be "all" or "participated"');
      const limit = Math.max(1, queryInt(ctx.query, 'limit', 10, 100));
      const fromRaw = ctx.query.get('from');
      const fromMatch = fromRaw ? /^th(\d{1,15})$/.exec(fromRaw) : undefined;
      if (fromRaw && !fromMatch) throw new MatrixError('M_INVALID_PARAM', `${JSON.stringify(fromRaw)} is not a thread list token from this server`);
      const visible = visibleEvents(room, me);
      const replies = new Map<string, StoredEvent[]>();
      for (const s of visible) {
        const rel = (s.pdu.content as { 'm.relates_to'?: unknown })['m.relates_to'];
        if (!isJsonObject(rel) || rel.rel_type !== 'm.thread' || typeof rel.event_id !== 'string') continue;
        const list = replies.get(rel.event_id) ?? [];
        list.push(s);
        replies.set(rel.event_id, list);
      }
      // A thread's activity is its latest reply's arrival here (stream order: stable, so it can be a token).
      const threads: { root: StoredEvent; latest: StoredEvent; count: number; participated: boolean }[] = [];
      for (const [rootId, list] of replies) {
        const root = room.events.get(rootId);
        if (!isTimelineEvent(root) || !visibleToUser(room, root, me)) continue;
        const latest = list.reduce((a, b) => (b.stream > a.stream ? b : a));
        const participated = root.pdu.sender === me || list.some((s) => s.pdu.sender === me);
        if (include === 'participated' && !participated) continue;
        if (fromMatch && latest.stream >= Number(fromMatch[1])) continue;
        threads.push({ root, latest, count: list.length, participated });
      }
      threads.sort((a, b) => b.latest.stream - a.latest.stream);
      const page = threads.slice(0, limit);
      const chunk = page.map((t) => {
        const ev = clientEvent(ctx.api, room, t.root, { session: ctx.session });
        const unsigned = isJsonObject(ev.unsigned) ? ev.unsigned : {};
        const relations = isJsonObject(unsigned['m.relations']) ? unsigned['m.relations'] : {};
        const thread = { latest_event: clientEvent(ctx.api, room, t.latest, { session: ctx.session }), count: t.count, current_user_participated: t.participated };
        return { ...ev, unsigned: { ...unsigned, 'm.relations': { ...relations, 'm.thread': thread } } };
      });
      const last = page[page.length - 1];
      return { json: { chunk, ...(threads.length > limit && last ? { next_batch: `th${last.latest.stream}` } : {}) } };
    },
  },
  {
    method: 'POST',
    family: 'client',
    path: '/rooms/:roomId/receipt/:receiptType/:eventId',
    auth: 'required',
    async handle(ctx) {
      const { roomId, receiptType, eventId } = ctx.params as { roomId: string; receiptType: string; eventId: string };
      checkRoomId(roomId);
      optString(ctx.body(), 'thread_id');
      await receipt(ctx, roomId, receiptType, eventId);
      return { json: {} };
    },
  },
  {
    method: 'POST',
    family: 'client',
    path: '/rooms/:roomId/read_markers',
    auth: 'required',
    async handle(ctx) {
      const roomId = ctx.params.roomId!;
      checkRoomId(roomId);
      const body = ctx.body();
      for (const type of ['m.fully_read', 'm.read', 'm.read.private']) {
        const id = optString(body, type);
        if (id !== undefined) await receipt(ctx, roomId, type, id);
      }
      return { json: {} };
    },
  },
  {
    method: 'PUT',
    family: 'client',
    path: '/rooms/:roomId/typing/:userId',
    auth: 'required',
    async handle(ctx) {
      const { roomId, userId } = ctx.params as { roomId: string; userId: string };
      checkRoomId(roomId);
      if (userId !== ctx.session.userId) throw forbidden('you can only set your own typing state');
      const body = ctx.body();
      const typing = body.typing;
      if (typeof typing !== 'boolean') throw new MatrixError('M_BAD_JSON', '"typing" must be true or false');
      const timeout = body.timeout;
      if (timeout !== undefined && (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout < 0)) {
        throw new MatrixError('M_BAD_JSON', '"timeout" must be a non-negative integer (milliseconds)');
      }
      await ctx.api.client.setTyping(userId, roomId, typing);
      return { json: {} };
    },
  },
  {
    method: 'POST',
    family: 'client',
    path: '/rooms/:roomId/upgrade',
    auth: 'required',
    handle() {
      throw new MatrixError('M_UNRECOGNIZED', 'room upgrades are not available yet (room version 12 work)');
    },
  },
];

async function receipt(ctx: AuthedContext, roomId: string, receiptType: string, eventId: string): Promise<void> {
  const room = ctx.api.hs.rooms.get(roomId);
  if (!room || room.currentGroup < 0 || room.membership(ctx.session.userId) !== 'join') throw forbidden(`${ctx.session.userId} is not joined to ${roomId}`);
  if (!room.events.has(eventId)) throw notFound(`event ${eventId} is not in ${roomId}`);
  switch (receiptType) {
    case 'm.read':
      await ctx.api.client.sendReceipt(ctx.session.userId, roomId, eventId);
      return;
    case 'm.read.private':
      // Private receipts stay on this server: kept as room account data, never federated.
      await ctx.api.putData([{ user_id: ctx.session.userId, kind: 'room_account_data', key: `${roomId}\nm.read.private`, value: { event_id: eventId } }]);
      return;
    case 'm.fully_read':
      await ctx.api.putData([{ user_id: ctx.session.userId, kind: 'room_account_data', key: `${roomId}\nm.fully_read`, value: { event_id: eventId } }]);
      return;
    default:
      throw new MatrixError('M_INVALID_PARAM', `receipt type ${JSON.stringify(receiptType)} is not one of m.read, m.read.private, m.fully_read`);
  }
}

/** The state a read asks for: at a pagination token (`at`), or now. */
function stateFor(ctx: AuthedContext, room: Room) {
  const at = parsePosition(ctx.query.get('at'));
  if (!at || at === 'end') return room.currentState();
  let best: StoredEvent | undefined;
  for (const s of room.events.values()) {
    if (!isTimelineEvent(s) || !before(s, at)) continue;
    if (!best || !before(s, { depth: best.pdu.depth, stream: best.stream })) best = s;
  }
  return best ? room.stateAfter(best.event_id) : room.currentState();
}

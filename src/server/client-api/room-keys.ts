/**
 * Server-side key backup (`/room_keys/version`, `/room_keys/keys`): the
 * server keeps backup versions and the room keys uploaded to them as opaque
 * data — `auth_data` and each key's `session_data` are encrypted by the
 * client to its recovery key, which the server never sees. Only the spec's
 * metadata (first_message_index, forwarded_count, is_verified) is read, to
 * keep the better of two copies of a session key.
 */
import { type JsonObject, isJsonObject } from '../../core/json.ts';
import { MatrixError } from '../errors.ts';
import type { ClientApi } from './api.ts';
import { requireString } from './params.ts';
import type { AuthedContext, Route } from './router.ts';

const VERSION = 'room_keys.version';
const KEY = 'room_keys.key';
const META = 'room_keys.meta';

interface VersionInfo {
  algorithm: string;
  auth_data: JsonObject;
  etag: number;
}

function versionOf(api: ClientApi, userId: string, version: string): VersionInfo | undefined {
  const v = api.getData(userId, VERSION, version);
  return isJsonObject(v) ? (v as unknown as VersionInfo) : undefined;
}

/** The newest backup version (the one keys are uploaded to). */
function currentVersion(api: ClientApi, userId: string): string | undefined {
  let best: number | undefined;
  for (const r of api.listData(userId, VERSION)) {
    const n = Number(r.key);
    if (best === undefined || n > best) best = n;
  }
  return best === undefined ? undefined : String(best);
}

function requireVersion(api: ClientApi, userId: string, version: string): VersionInfo {
  const v = versionOf(api, userId, version);
  if (!v) throw new MatrixError('M_NOT_FOUND', `no backup version ${version}`);
  return v;
}

function keysOf(api: ClientApi, userId: string, version: string, roomId?: string, sessionId?: string) {
  const prefix = `${version}\n${roomId === undefined ? '' : `${roomId}\n`}`;
  return api
    .listData(userId, KEY)
    .filter((r) => r.key.startsWith(prefix) && (sessionId === undefined || r.key === `${prefix}${sessionId}`))
    .map((r) => {
      const [, room, session] = r.key.split('\n') as [string, string, string];
      return { key: r.key, room, session, data: r.value as JsonObject };
    });
}

function versionBody(api: ClientApi, userId: string, version: string, v: VersionInfo): JsonObject {
  return { algorithm: v.algorithm, auth_data: v.auth_data, version, etag: String(v.etag), count: keysOf(api, userId, version).length };
}

function checkKeyData(where: string, d: unknown): JsonObject {
  if (
    !isJsonObject(d) ||
    !Number.isInteger(d.first_message_index) ||
    !Number.isInteger(d.forwarded_count) ||
    typeof d.is_verified !== 'boolean' ||
    !isJsonObject(d.session_data)
  ) {
    throw new MatrixError('M_BAD_JSON', `${where} must be {first_message_index, forwarded_count, is_verified, session_data}`);
  }
  return d;
}

/** Spec: a verified key beats an unverified one, then the lower first_message_index, then the lower forwarded_count. */
function better(a: JsonObject, b: JsonObject): boolean {
  if (a.is_verified !== b.is_verified) return a.is_verified === true;
  if (a.first_message_index !== b.first_message_index) return (a.first_message_index as number) < (b.first_message_index as number);
  return (a.forwarded_count as number) < (b.forwarded_count as number);
}

/** The backup version named in the path (M_NOT_FOUND when there is none). */
function pathVersion(ctx: AuthedContext): { version: string; info: VersionInfo } {
  const version = ctx.params.version!;
  return { version, info: requireVersion(ctx.api, ctx.session.userId, version) };
}

/** The `version` query parameter, which must name the current backup for uploads. */
function queryVersion(ctx: AuthedContext, forUpload: boolean): { version: string; info: VersionInfo } {
  const version = ctx.query.get('version');
  if (!version) throw new MatrixError('M_MISSING_PARAM', 'missing query parameter version');
  const info = requireVersion(ctx.api, ctx.session.userId, version);
  const current = currentVersion(ctx.api, ctx.session.userId);
  if (forUpload && version !== current) {
    throw new MatrixError('M_WRONG_ROOM_KEYS_VERSION', `backup version ${version} is not the current one (${current})`, { extra: { current_version: current } });
  }
  return { version, info };
}

/** Uploads `{roomId: {sessionId: data}}`, keeping the better copy of each session. */
async function upload(ctx: AuthedContext, rooms: Record<string, Record<string, JsonObject>>): Promise<JsonObject> {
  const { api, session } = ctx;
  const { version, info } = queryVersion(ctx, true);
  const puts = [];
  for (const [roomId, sessions] of Object.entries(rooms)) {
    for (const [sessionId, data] of Object.entries(sessions)) {
      const key = `${version}\n${roomId}\n${sessionId}`;
      const old = api.getData(session.userId, KEY, key);
      if (isJsonObject(old) && !better(data, old)) continue;
      puts.push({ user_id: session.userId, kind: KEY, key, value: data });
    }
  }
  const etag = info.etag + (puts.length > 0 ? 1 : 0);
  if (puts.length > 0) await api.putData([...puts, { user_id: session.userId, kind: VERSION, key: version, value: { ...info, etag } as unknown as JsonObject }]);
  return { etag: String(etag), count: keysOf(api, session.userId, version).length };
}

async function remove(ctx: AuthedContext, roomId?: string, sessionId?: string): Promise<JsonObject> {
  const { api, session } = ctx;
  const { version, info } = queryVersion(ctx, false);
  const gone = keysOf(api, session.userId, version, roomId, sessionId).map((k) => ({ user_id: session.userId, kind: KEY, key: k.key }));
  const etag = info.etag + (gone.length > 0 ? 1 : 0);
  await api.putData([{ user_id: session.userId, kind: VERSION, key: version, value: { ...info, etag } as unknown as JsonObject }], gone);
  return { etag: String(etag), count: keysOf(api, session.userId, version).length };
}

function sessionsOf(where: string, v: unknown): Record<string, JsonObject> {
  if (!isJsonObject(v) || !isJsonObject(v.sessions)) throw new MatrixError('M_BAD_JSON', `${where} must be {"sessions": {session ID: key data}}`);
  const out: Record<string, JsonObject> = {};
  for (const [sid, d] of Object.entries(v.sessions)) out[sid] = checkKeyData(`${where}.sessions.${sid}`, d);
  return out;
}

function algorithmAndAuth(body: JsonObject): { algorithm: string; auth_data: JsonObject } {
  const algorithm = requireString(body, 'algorithm');
  if (!isJsonObject(body.auth_data)) throw new MatrixError('M_BAD_JSON', '"auth_data" must be an object');
  return { algorithm, auth_data: body.auth_data };
}

export const roomKeyRoutes: Route[] = [
  {
    method: 'POST',
    family: 'client',
    path: '/room_keys/version',
    auth: 'required',
    async handle(ctx) {
      const { api, session } = ctx;
      const v = algorithmAndAuth(ctx.body());
      const last = Number(api.getData(session.userId, META, 'last') ?? 0);
      const version = String(last + 1);
      await api.putData([
        { user_id: session.userId, kind: META, key: 'last', value: last + 1 },
        { user_id: session.userId, kind: VERSION, key: version, value: { ...v, etag: 0 } },
      ]);
      return { json: { version } };
    },
  },
  {
    method: 'GET',
    family: 'client',
    path: '/room_keys/version',
    auth: 'required',
    handle(ctx) {
      const version = currentVersion(ctx.api, ctx.session.userId);
      if (version === undefined) throw new MatrixError('M_NOT_FOUND', 'no backup version exists');
      return { json: versionBody(ctx.api, ctx.session.userId, version, requireVersion(ctx.api, ctx.session.userId, version)) };
    },
  },
  {
    method: 'GET',
    family: 'client',
    path: '/room_keys/version/:version',
    auth: 'required',
    handle(ctx) {
      const { version, info } = pathVersion(ctx);
      return { json: versionBody(ctx.api, ctx.session.userId, version, info) };
    },
  },
  {
    method: 'PUT',
    family: 'client',
    path: '/room_keys/version/:version',
    auth: 'required',
    async handle(ctx) {
      const { version, info: old } = pathVersion(ctx);
      const body = ctx.body();
      if (body.version !== undefined && body.version !== version) throw new MatrixError('M_INVALID_PARAM', `the body's version ${String(body.version)} is not ${version}`);
      const v = algorithmAndAuth(body);
      if (v.algorithm !== old.algorithm) throw new MatrixError('M_INVALID_PARAM', `a backup's algorithm cannot change (it is ${old.algorithm})`);
      await ctx.api.putData([{ user_id: ctx.session.userId, kind: VERSION, key: version, value: { ...old, auth_data: v.auth_data } as unknown as JsonObject }]);
      return { json: {} };
    },
  },
  {
    method: 'DELETE',
    family: 'client',
    path: '/room_keys/version/:version',
    auth: 'required',
    async handle(ctx) {
      const { api, session } = ctx;
      const { version } = pathVersion(ctx);
      const gone = keysOf(api, session.userId, version).map((k) => ({ user_id: session.userId, kind: KEY, key: k.key }));
      await api.putData([], [...gone, { user_id: session.userId, kind: VERSION, key: version }]);
      return { json: {} };
    },
  },
  {
    method: 'PUT',
    family: 'client',
    path: '/room_keys/keys',
    auth: 'required',
    async handle(ctx) {
      const rooms = ctx.body().rooms;
      if (!isJsonObject(rooms)) throw new MatrixError('M_BAD_JSON', '"rooms" must be an object of room IDs to {"sessions": …}');
      const parsed: Record<string, Record<string, JsonObject>> = {};
      for (const [roomId, r] of Object.entries(rooms)) parsed[roomId] = sessionsOf(`rooms.${roomId}`, r);
      return { json: await upload(ctx, parsed) };
    },
  },
  {
    method: 'PUT',
    family: 'client',
    path: '/room_keys/keys/:roomId',
    auth: 'required',
    handle: async (ctx) => ({ json: await upload(ctx, { [ctx.params.roomId!]: sessionsOf('the body', ctx.body()) }) }),
  },
  {
    method: 'PUT',
    family: 'client',
    path: '/room_keys/keys/:roomId/:sessionId',
    auth: 'required',
    handle: async (ctx) => ({ json: await upload(ctx, { [ctx.params.roomId!]: { [ctx.params.sessionId!]: checkKeyData('the body', ctx.body()) } }) }),
  },
  {
    method: 'GET',
    family: 'client',
    path: '/room_keys/keys',
    auth: 'required',
    handle(ctx) {
      const { version } = queryVersion(ctx, false);
      const rooms: Record<string, { sessions: JsonObject }> = {};
      for (const k of keysOf(ctx.api, ctx.session.userId, version)) {
        rooms[k.room] ??= { sessions: {} };
        rooms[k.room]!.sessions[k.session] = k.data;
      }
      return { json: { rooms } };
    },
  },
  {
    method: 'GET',
    family: 'client',
    path: '/room_keys/keys/:roomId',
    auth: 'required',
    handle(ctx) {
      const { version } = queryVersion(ctx, false);
      const sessions: JsonObject = {};
      for (const k of keysOf(ctx.api, ctx.session.userId, version, ctx.params.roomId!)) sessions[k.session] = k.data;
      return { json: { sessions } };
    },
  },
  {
    method: 'GET',
    family: 'client',
    path: '/room_keys/keys/:roomId/:sessionId',
    auth: 'required',
    handle(ctx) {
      const { version } = queryVersion(ctx, false);
      const k = keysOf(ctx.api, ctx.session.userId, version, ctx.params.roomId!, ctx.params.sessionId!)[0];
      if (!k) throw new MatrixError('M_NOT_FOUND', `no backed-up key for session ${ctx.params.sessionId} in ${ctx.params.roomId}`);
      return { json: k.data };
    },
  },
  {
    method: 'DELETE',
    family: 'client',
    path: '/room_keys/keys',
    auth: 'required',
    handle: async (ctx) => ({ json: await remove(ctx) }),
  },
  {
    method: 'DELETE',
    family: 'client',
    path: '/room_keys/keys/:roomId',
    auth: 'required',
    handle: async (ctx) => ({ json: await remove(ctx, ctx.params.roomId!) }),
  },
  {
    method: 'DELETE',
    family: 'client',
    path: '/room_keys/keys/:roomId/:sessionId',
    auth: 'required',
    handle: async (ctx) => ({ json: await remove(ctx, ctx.params.roomId!, ctx.params.sessionId!) }),
  },
];

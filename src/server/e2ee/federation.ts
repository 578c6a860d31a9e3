/**
 * End-to-end encryption over federation: the `user_keys_query`,
 * `user_keys_claim` and `user_devices` requests (served for our users, made
 * for theirs), and the EDUs m.direct_to_device, m.device_list_update and
 * m.signing_key_update (state.ts handles them). A peer asks only about our
 * users and speaks only for its own; requests are bounded in size.
 */
import { type JsonObject, type JsonValue, isJsonObject } from '../../core/json.ts';
import type { Engine } from '../engine.ts';
import { badJson, notFound } from '../errors.ts';
import { FederationError, UnreachableError } from '../federation/types.ts';

/** Users (and devices) one key query or claim may name. */
export const MAX_KEY_REQUEST_ENTRIES = 1000;

function serverOf(userId: string): string {
  return userId.slice(userId.indexOf(':') + 1);
}

/** `{user: [device…]}` from a request body, checked and bounded. */
export function parseQueryMap(v: unknown): Record<string, string[]> {
  if (!isJsonObject(v)) throw badJson('device_keys must be an object of user IDs to lists of device IDs');
  const out: Record<string, string[]> = {};
  let n = 0;
  for (const [user, devices] of Object.entries(v)) {
    if (!Array.isArray(devices) || !devices.every((d) => typeof d === 'string')) throw badJson(`device_keys.${user} must be a list of device IDs`);
    n += Math.max(1, devices.length);
    if (n > MAX_KEY_REQUEST_ENTRIES) throw badJson(`a key query names at most ${MAX_KEY_REQUEST_ENTRIES} users and devices`);
    out[user] = devices as string[];
  }
  return out;
}

/** `{user: {device: algorithm}}` from a request body, checked and bounded. */
export function parseClaimMap(v: unknown): Record<string, Record<string, string>> {
  if (!isJsonObject(v)) throw badJson('one_time_keys must be an object of user IDs to {device ID: algorithm}');
  const out: Record<string, Record<string, string>> = {};
  let n = 0;
  for (const [user, devices] of Object.entries(v)) {
    if (!isJsonObject(devices)) throw badJson(`one_time_keys.${user} must be an object of device IDs to algorithms`);
    for (const [device, alg] of Object.entries(devices)) {
      if (typeof alg !== 'string') throw badJson(`one_time_keys.${user}.${device} must be an algorithm name`);
      if (++n > MAX_KEY_REQUEST_ENTRIES) throw badJson(`a key claim names at most ${MAX_KEY_REQUEST_ENTRIES} devices`);
      out[user] ??= {};
      out[user]![device] = alg;
    }
  }
  return out;
}

function onlyLocal<T>(e: Engine, m: Record<string, T>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const [u, v] of Object.entries(m)) if (e.isLocalUser(u)) out[u] = v;
  return out;
}

// ---- serving -----------------------------------------------------------------------------

export function serveKeysQuery(e: Engine, body: unknown): JsonObject {
  const req = parseQueryMap(isJsonObject(body) ? body.device_keys : undefined);
  return e.e2ee.queryLocal(onlyLocal(e, req), undefined);
}

export async function serveKeysClaim(e: Engine, body: unknown): Promise<JsonObject> {
  const req = parseClaimMap(isJsonObject(body) ? body.one_time_keys : undefined);
  return { one_time_keys: (await e.e2ee.claimLocal(onlyLocal(e, req))) as JsonObject };
}

export function serveUserDevices(e: Engine, userId: unknown): JsonObject {
  if (typeof userId !== 'string') throw badJson('user_id must be a string');
  if (!e.isLocalUser(userId)) throw notFound(`${userId} is not a user of ${e.serverName}`);
  return e.e2ee.userDevices(userId);
}

// ---- asking other servers ------------------------------------------------------------------

export interface RemoteOutcome {
  body?: JsonObject;
  failure?: JsonObject;
}

function failureOf(err: unknown): JsonObject {
  if (err instanceof FederationError) return { status: err.status, errcode: err.body.errcode, error: err.body.error };
  if (err instanceof UnreachableError) return { status: 503, errcode: 'M_UNAVAILABLE', error: err.message };
  return { status: 503, error: String(err) };
}

/** Groups user IDs of a request by their (remote) server. */
export function byServer<T>(e: Engine, m: Record<string, T>): Map<string, Record<string, T>> {
  const out = new Map<string, Record<string, T>>();
  for (const [u, v] of Object.entries(m)) {
    if (!u.startsWith('@') || !u.includes(':')) continue;
    const s = serverOf(u);
    if (s === e.serverName) continue;
    const g = out.get(s) ?? {};
    g[u] = v;
    out.set(s, g);
  }
  return out;
}

/**
 * The keys of remote users: from the cached device list when it is
 * complete (kept current by m.device_list_update), else asked of their
 * server with user_keys_query; only that server's users' keys are kept.
 */
export async function queryRemote(e: Engine, server: string, users: Record<string, string[]>, timeoutMs: number): Promise<RemoteOutcome> {
  const device_keys: JsonObject = {};
  const master_keys: JsonObject = {};
  const self_signing_keys: JsonObject = {};
  const ask: Record<string, string[]> = {};
  for (const [u, wanted] of Object.entries(users)) {
    const cached = e.e2ee.cachedRemote(u);
    if (!cached) {
      ask[u] = wanted;
      continue;
    }
    const out: JsonObject = {};
    for (const [id, d] of Object.entries(cached.devices ?? {})) {
      if (wanted.length > 0 && !wanted.includes(id)) continue;
      const keys = d.keys as JsonObject;
      out[id] = typeof d.device_display_name === 'string' ? { ...keys, unsigned: { device_display_name: d.device_display_name } } : keys;
    }
    device_keys[u] = out;
    if (cached.master_key) master_keys[u] = cached.master_key;
    if (cached.self_signing_key) self_signing_keys[u] = cached.self_signing_key;
  }
  if (Object.keys(ask).length > 0) {
    try {
      const res = await e.transport.request(server, { kind: 'user_keys_query', body: { device_keys: ask } }, { timeoutMs });
      if (!res.ok) throw new FederationError(server, res.status, res.body);
      for (const [field, into] of [
        ['device_keys', device_keys],
        ['master_keys', master_keys],
        ['self_signing_keys', self_signing_keys],
      ] as const) {
        const got = res.body[field];
        if (!isJsonObject(got)) continue;
        for (const [u, v] of Object.entries(got)) if (Object.hasOwn(ask, u) && serverOf(u) === server && isJsonObject(v)) into[u] = checkedDevices(field, u, v);
      }
      // A remote user we share a room with: fetch the full list once, so later queries come from the cache.
      for (const u of Object.keys(ask)) if (e.e2ee.sharesRoomWithLocal(u)) void e.e2ee.resync(u);
    } catch (err) {
      return { body: { device_keys, master_keys, self_signing_keys }, failure: failureOf(err) };
    }
  }
  return { body: { device_keys, master_keys, self_signing_keys } };
}

/** device keys must name the user and device they are listed under; cross-signing keys are kept whole. */
function checkedDevices(field: string, userId: string, v: JsonObject): JsonObject {
  if (field !== 'device_keys') return v;
  const out: JsonObject = {};
  for (const [id, keys] of Object.entries(v)) {
    if (isJsonObject(keys) && keys.user_id === userId && keys.device_id === id) out[id] = keys;
  }
  return out;
}

export async function claimRemote(e: Engine, server: string, req: Record<string, Record<string, string>>, timeoutMs: number): Promise<RemoteOutcome> {
  try {
    const res = await e.transport.request(server, { kind: 'user_keys_claim', body: { one_time_keys: req } }, { timeoutMs });
    if (!res.ok) throw new FederationError(server, res.status, res.body);
    const got = res.body.one_time_keys;
    const out: Record<string, JsonValue> = {};
    if (isJsonObject(got)) for (const [u, v] of Object.entries(got)) if (Object.hasOwn(req, u) && isJsonObject(v)) out[u] = v;
    return { body: out };
  } catch (err) {
    return { failure: failureOf(err) };
  }
}

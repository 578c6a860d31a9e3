/**
 * End-to-end encryption keys (Client-Server API, "End-to-End Encryption"):
 * /keys/upload, /keys/query, /keys/claim, /keys/changes,
 * /keys/device_signing/upload and /keys/signatures/upload. The keys live in
 * the engine (e2ee/state.ts); remote users' keys are asked of their servers
 * over federation (e2ee/federation.ts). The server stores public keys and
 * signatures only; it checks their shape and owner, not their signatures.
 */
import { type JsonObject, type JsonValue, isJsonObject } from '../../core/json.ts';
import { byServer, claimRemote, parseClaimMap, parseQueryMap, queryRemote } from '../e2ee/federation.ts';
import type { CrossSigningUse } from '../e2ee/state.ts';
import { MatrixError } from '../errors.ts';
import { interactiveAuth } from './accounts.ts';
import type { ClientApi } from './api.ts';
import { optObject } from './params.ts';
import type { Route } from './router.ts';
import { parseSyncToken } from './sync.ts';
import { deviceListChanges } from './sync-e2ee.ts';

/** How long a key query or claim waits for other servers by default (ms), and at most. */
const DEFAULT_REMOTE_TIMEOUT = 10_000;
const MAX_REMOTE_TIMEOUT = 30_000;

const KEY_ID = /^[A-Za-z0-9._-]{1,64}:[A-Za-z0-9+/=._-]{1,128}$/;

function invalid(msg: string): MatrixError {
  return new MatrixError('M_INVALID_PARAM', msg);
}

/** A signed object's `keys` / `signatures` as the spec shapes them (strings all the way down). */
function checkSigned(what: string, o: JsonObject): void {
  if (!isJsonObject(o.keys) || Object.keys(o.keys).length === 0) throw invalid(`${what}.keys must be an object of key IDs to keys`);
  for (const [id, k] of Object.entries(o.keys)) if (!KEY_ID.test(id) || typeof k !== 'string') throw invalid(`${what}.keys.${id} is not an "algorithm:id" key string`);
  if (o.signatures !== undefined) {
    if (!isJsonObject(o.signatures)) throw invalid(`${what}.signatures must be an object`);
    for (const byKey of Object.values(o.signatures)) {
      if (!isJsonObject(byKey) || !Object.values(byKey).every((s) => typeof s === 'string')) throw invalid(`${what}.signatures must map user IDs to {key ID: signature}`);
    }
  }
}

function checkDeviceKeys(v: JsonObject, userId: string, deviceId: string): JsonObject {
  if (v.user_id !== userId) throw invalid(`device_keys.user_id must be ${userId}`);
  if (v.device_id !== deviceId) throw invalid(`device_keys.device_id must be this device's ID, ${deviceId}`);
  if (!Array.isArray(v.algorithms) || !v.algorithms.every((a) => typeof a === 'string')) throw invalid('device_keys.algorithms must be a list of strings');
  checkSigned('device_keys', v);
  // `unsigned` is the server's to fill (the display name), not the client's.
  const { unsigned: _u, ...keys } = v;
  return keys;
}

/** `{algorithm:key_id: key}` of one-time or fallback keys (a key is a string or a signed object). */
function keyMap(what: string, v: JsonValue | undefined): Record<string, JsonValue> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isJsonObject(v)) throw invalid(`${what} must be an object of "algorithm:key_id" to keys`);
  for (const [id, k] of Object.entries(v)) {
    if (!KEY_ID.test(id)) throw invalid(`${what}: ${JSON.stringify(id)} is not an "algorithm:key_id"`);
    if (typeof k !== 'string' && !(isJsonObject(k) && typeof k.key === 'string')) throw invalid(`${what}.${id} must be a key string or a signed key object`);
  }
  return v;
}

function remoteTimeout(body: JsonObject): number {
  const t = body.timeout;
  if (t === undefined || t === null) return DEFAULT_REMOTE_TIMEOUT;
  if (typeof t !== 'number' || !Number.isFinite(t) || t < 0) throw invalid('timeout must be a non-negative number of milliseconds');
  return Math.min(t, MAX_REMOTE_TIMEOUT);
}

function crossSigningKey(body: JsonObject, field: string, userId: string, use: CrossSigningUse): JsonObject | undefined {
  const k = optObject(body, field);
  if (!k) return undefined;
  if (k.user_id !== userId) throw invalid(`${field}.user_id must be ${userId}`);
  if (!Array.isArray(k.usage) || !k.usage.includes(use)) throw invalid(`${field}.usage must include "${use}"`);
  checkSigned(field, k);
  if (Object.keys(k.keys as JsonObject).length !== 1) throw invalid(`${field}.keys must hold exactly one key`);
  return k;
}

export async function queryKeys(api: ClientApi, viewer: string, body: JsonObject): Promise<JsonObject> {
  const req = parseQueryMap(body.device_keys);
  const timeout = remoteTimeout(body);
  const local: Record<string, string[]> = {};
  for (const [u, d] of Object.entries(req)) if (u.endsWith(`:${api.serverName}`)) local[u] = d;
  const out = api.hs.e2ee.queryLocal(local, viewer) as Record<string, JsonObject>;
  const failures: JsonObject = {};
  const remote = byServer(api.hs, req);
  await Promise.all(
    [...remote].map(async ([server, users]) => {
      const r = await queryRemote(api.hs, server, users, timeout);
      if (r.failure) failures[server] = r.failure;
      for (const field of ['device_keys', 'master_keys', 'self_signing_keys'] as const) {
        const got = r.body?.[field];
        if (isJsonObject(got)) Object.assign(out[field]!, got);
      }
      // The viewer's own signatures of remote master keys (verifications) are kept here, not there.
      const masters = out.master_keys!;
      for (const u of Object.keys(users)) {
        const key = masters[u];
        if (isJsonObject(key)) masters[u] = api.hs.e2ee.masterKeyFor(u, viewer, key);
      }
    }),
  );
  return { ...out, failures };
}

export const keyRoutes: Route[] = [
  {
    method: 'POST',
    family: 'client',
    path: '/keys/upload',
    auth: 'required',
    async handle(ctx) {
      const { userId, deviceId } = ctx.session;
      const body = ctx.body();
      const e2ee = ctx.api.hs.e2ee;
      const dk = optObject(body, 'device_keys');
      const otks = keyMap('one_time_keys', body.one_time_keys);
      const fallbacks = keyMap('fallback_keys', body.fallback_keys ?? body['org.matrix.msc2732.fallback_keys']);
      if (dk) {
        const keys = checkDeviceKeys(dk, userId, deviceId);
        const held = e2ee.getDeviceKeys(userId, deviceId);
        // Spec: a device's identity keys never change; a client re-uploading different ones is confused (or worse).
        if (held && JSON.stringify(held.keys) !== JSON.stringify(keys.keys)) {
          throw invalid(`device ${deviceId} already has different identity keys; log in as a new device instead`);
        }
        await e2ee.setDeviceKeys(userId, deviceId, keys);
      }
      if (otks) {
        const clash = await e2ee.addOneTimeKeys(userId, deviceId, otks);
        if (clash) throw invalid(`one-time key ${clash} already exists with different content`);
      }
      if (fallbacks) await e2ee.setFallbackKeys(userId, deviceId, fallbacks);
      return { json: { one_time_key_counts: e2ee.oneTimeKeyCounts(userId, deviceId) } };
    },
  },
  {
    method: 'POST',
    family: 'client',
    path: '/keys/query',
    auth: 'required',
    handle: async (ctx) => ({ json: await queryKeys(ctx.api, ctx.session.userId, ctx.body()) }),
  },
  {
    method: 'POST',
    family: 'client',
    path: '/keys/claim',
    auth: 'required',
    async handle(ctx) {
      const body = ctx.body();
      const req = parseClaimMap(body.one_time_keys);
      const timeout = remoteTimeout(body);
      const api = ctx.api;
      const local: Record<string, Record<string, string>> = {};
      for (const [u, d] of Object.entries(req)) if (u.endsWith(`:${api.serverName}`) && api.hs.isLocalUser(u)) local[u] = d;
      const one_time_keys: JsonObject = (await api.hs.e2ee.claimLocal(local)) as JsonObject;
      const failures: JsonObject = {};
      await Promise.all(
        [...byServer(api.hs, req)].map(async ([server, users]) => {
          const r = await claimRemote(api.hs, server, users, timeout);
          if (r.failure) failures[server] = r.failure;
          if (r.body) Object.assign(one_time_keys, r.body);
        }),
      );
      return { json: { one_time_keys, failures } };
    },
  },
  {
    method: 'GET',
    family: 'client',
    path: '/keys/changes',
    auth: 'required',
    handle(ctx) {
      const from = ctx.query.get('from');
      const to = ctx.query.get('to');
      if (!from) throw new MatrixError('M_MISSING_PARAM', 'missing query parameter from');
      if (!to) throw new MatrixError('M_MISSING_PARAM', 'missing query parameter to');
      const since = parseSyncToken(from).pos;
      const upTo = Math.min(parseSyncToken(to).pos, ctx.api.hs.currentStream);
      return { json: deviceListChanges(ctx.api, ctx.session.userId, since, upTo) as unknown as JsonObject };
    },
  },
  {
    method: 'POST',
    family: 'client',
    path: '/keys/device_signing/upload',
    auth: 'required',
    async handle(ctx) {
      const api = ctx.api;
      const userId = ctx.session.userId;
      const body = ctx.body();
      const master = crossSigningKey(body, 'master_key', userId, 'master');
      const self = crossSigningKey(body, 'self_signing_key', userId, 'self_signing');
      const usk = crossSigningKey(body, 'user_signing_key', userId, 'user_signing');
      const e2ee = api.hs.e2ee;
      const held = e2ee.crossSigningKey(userId, 'master');
      // The first upload needs no password (a new account sets up cross-signing at once); replacing keys does,
      // and re-sending the keys already held is harmless.
      const same = (a: JsonObject | undefined, b: JsonObject | undefined) => !a || (b !== undefined && JSON.stringify(a.keys) === JSON.stringify(b.keys));
      const replaces =
        held !== undefined &&
        !(same(master, held) && same(self, e2ee.crossSigningKey(userId, 'self_signing')) && same(usk, e2ee.crossSigningKey(userId, 'user_signing')));
      if (replaces) {
        const challenge = await interactiveAuth(api, api.hs.requireLocalUser(userId), body);
        if (challenge) return challenge;
      }
      const newMaster = master ?? held;
      if (!newMaster) throw invalid('master_key is required the first time');
      const masterId = Object.keys(newMaster.keys as JsonObject)[0]!;
      for (const [name, k] of [
        ['self_signing_key', self],
        ['user_signing_key', usk],
      ] as const) {
        const sigs = k && isJsonObject(k.signatures) ? k.signatures[userId] : undefined;
        if (k && !(isJsonObject(sigs) && typeof sigs[masterId] === 'string')) throw invalid(`${name} must be signed by the master key ${masterId}`);
      }
      await e2ee.setCrossSigningKeys(userId, {
        ...(master ? { master } : {}),
        ...(self ? { self_signing: self } : {}),
        ...(usk ? { user_signing: usk } : {}),
      });
      return { json: {} };
    },
  },
  {
    method: 'POST',
    family: 'client',
    path: '/keys/signatures/upload',
    auth: 'required',
    async handle(ctx) {
      const signer = ctx.session.userId;
      const body = ctx.body();
      const failures: Record<string, JsonObject> = {};
      const fail = (user: string, key: string, errcode: string, error: string) => {
        failures[user] ??= {};
        failures[user]![key] = { errcode, error };
      };
      let n = 0;
      for (const [target, byKey] of Object.entries(body)) {
        if (!isJsonObject(byKey)) throw new MatrixError('M_BAD_JSON', `${target} must map key IDs to signed keys`);
        for (const [keyId, signed] of Object.entries(byKey)) {
          if (++n > 1000) throw new MatrixError('M_BAD_JSON', 'at most 1000 signed keys per request');
          if (!isJsonObject(signed) || signed.user_id !== target) {
            fail(target, keyId, 'M_INVALID_SIGNATURE', `the signed object must be a key of ${target}`);
            continue;
          }
          if (target !== signer && !Array.isArray(signed.usage)) {
            fail(target, keyId, 'M_INVALID_SIGNATURE', "only another user's master key can be signed");
            continue;
          }
          const problem = await ctx.api.hs.e2ee.addSignatures(signer, target, keyId, signed);
          if (problem) fail(target, keyId, 'M_INVALID_SIGNATURE', problem);
        }
      }
      return { json: { failures } };
    },
  },
];

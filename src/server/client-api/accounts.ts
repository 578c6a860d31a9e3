/**
 * Accounts and devices: registration (user-interactive auth with the one
 * stage `m.login.dummy`), password login, logout, whoami, devices, password
 * change. Several local users per homeserver; tokens are stored hashed and
 * passwords through a slow KDF (passwords.ts).
 */
import { encodeBase64Url } from '../../core/base64.ts';
import { type JsonObject, isJsonObject } from '../../core/json.ts';
import { localpartError } from '../../core/ids.ts';
import { MatrixError } from '../errors.ts';
import type { AccountRecord } from '../store/types.ts';
import type { ClientApi } from './api.ts';
import { optBool, optString, requireString } from './params.ts';
import { hashPassword, verifyPassword } from './passwords.ts';
import type { AuthedContext, Route } from './router.ts';
import type { Reply } from './types.ts';

/** Spec: passwords are the user's business, but an empty one is certainly a mistake. */
const MAX_PASSWORD = 512;

function checkPassword(pw: string): void {
  if (pw.length === 0) throw new MatrixError('M_INVALID_PARAM', 'the password must not be empty');
  if (pw.length > MAX_PASSWORD) throw new MatrixError('M_INVALID_PARAM', `the password is longer than ${MAX_PASSWORD} characters`);
}

/** The 401 that starts (or continues) user-interactive authentication. */
function uiaChallenge(api: ClientApi, stage: string, session?: string, error?: MatrixError): Reply {
  return {
    status: 401,
    json: {
      flows: [{ stages: [stage] }],
      params: {},
      session: session ?? encodeBase64Url(api.hs.random(12)),
      ...(error ? { errcode: error.errcode, error: error.reason } : {}),
    },
  };
}

/**
 * User-interactive auth for sensitive account actions: the account's
 * password (accounts without one — the tab's own person — pass with
 * `m.login.dummy`). Returns undefined when authenticated, else the 401 to send.
 */
export async function interactiveAuth(api: ClientApi, account: AccountRecord, body: JsonObject): Promise<Reply | undefined> {
  const stage = account.password_hash ? 'm.login.password' : 'm.login.dummy';
  const auth = body.auth;
  if (!isJsonObject(auth)) return uiaChallenge(api, stage);
  const session = typeof auth.session === 'string' ? auth.session : undefined;
  if (auth.type !== stage) return uiaChallenge(api, stage, session);
  if (stage === 'm.login.dummy') return undefined;
  api.limits.login.take(account.user_id, 'password attempts');
  const pw = typeof auth.password === 'string' ? auth.password : undefined;
  const id = isJsonObject(auth.identifier) ? auth.identifier.user : auth.user;
  const who = typeof id === 'string' ? fullUserId(api, id) : account.user_id;
  if (who !== account.user_id || pw === undefined || !(await verifyPassword(pw, account.password_hash!))) {
    return uiaChallenge(api, stage, session, new MatrixError('M_FORBIDDEN', 'wrong password'));
  }
  return undefined;
}

function fullUserId(api: ClientApi, user: string): string {
  return user.startsWith('@') ? user : `@${user.toLowerCase()}:${api.serverName}`;
}

function loginReply(api: ClientApi, userId: string, t: { accessToken: string; deviceId: string }): Reply {
  return {
    json: {
      user_id: userId,
      access_token: t.accessToken,
      device_id: t.deviceId,
      home_server: api.serverName,
    },
  };
}

function deviceView(d: AccountRecord['devices'][number]): JsonObject {
  return { device_id: d.device_id, display_name: d.display_name, ...(d.last_seen_ts ? { last_seen_ts: d.last_seen_ts } : {}) };
}

function account(ctx: AuthedContext): AccountRecord {
  return ctx.api.hs.requireLocalUser(ctx.session.userId);
}

export const accountRoutes: Route[] = [
  {
    method: 'POST',
    family: 'client',
    path: '/register',
    auth: 'none',
    async handle(ctx) {
      const api = ctx.api;
      const kind = ctx.query.get('kind') ?? 'user';
      if (kind === 'guest') throw new MatrixError('M_FORBIDDEN', 'guest access is not available on this homeserver');
      if (kind !== 'user') throw new MatrixError('M_INVALID_PARAM', `kind must be "user" or "guest", got ${JSON.stringify(kind)}`);
      const body = ctx.body();
      const auth = body.auth;
      if (!isJsonObject(auth) || auth.type !== 'm.login.dummy') {
        return uiaChallenge(api, 'm.login.dummy', isJsonObject(auth) && typeof auth.session === 'string' ? auth.session : undefined);
      }
      api.limits.register.take('', 'registrations');
      const password = optString(body, 'password');
      if (password !== undefined) checkPassword(password);
      let localpart = optString(body, 'username');
      if (localpart === undefined) localpart = `user-${encodeBase64Url(api.hs.random(6)).toLowerCase().replace(/[^a-z0-9]/g, '0')}`;
      const err = localpartError(localpart);
      if (err) throw new MatrixError('M_INVALID_USERNAME', err);
      // Every field is checked before the account exists: a refused request must leave the username free.
      const inhibitLogin = optBool(body, 'inhibit_login');
      const deviceId = optString(body, 'device_id');
      const deviceName = optString(body, 'initial_device_display_name');
      const hash = password === undefined ? undefined : await hashPassword(password, api.pbkdf2Iterations);
      const userId = await api.hs.register(localpart, undefined, { devices: [], ...(hash ? { password_hash: hash } : {}) });
      if (inhibitLogin) return { json: { user_id: userId, home_server: api.serverName } };
      const t = await api.issueToken(userId, deviceId, deviceName);
      return loginReply(api, userId, t);
    },
  },
  {
    method: 'GET',
    family: 'client',
    path: '/register/available',
    auth: 'none',
    handle(ctx) {
      const username = ctx.query.get('username');
      if (!username) throw new MatrixError('M_MISSING_PARAM', 'missing query parameter username');
      const err = localpartError(username);
      if (err) throw new MatrixError('M_INVALID_USERNAME', err);
      if (ctx.api.hs.accounts.has(`@${username}:${ctx.api.serverName}`)) throw new MatrixError('M_USER_IN_USE', `${username} is taken`);
      return { json: { available: true } };
    },
  },
  {
    method: 'GET',
    family: 'client',
    path: '/login',
    auth: 'none',
    handle: () => ({ json: { flows: [{ type: 'm.login.password' }] } }),
  },
  {
    method: 'POST',
    family: 'client',
    path: '/login',
    auth: 'none',
    async handle(ctx) {
      const api = ctx.api;
      const body = ctx.body();
      const type = requireString(body, 'type');
      if (type !== 'm.login.password') throw new MatrixError('M_UNKNOWN', `login type ${JSON.stringify(type)} is not supported (use m.login.password)`, { status: 400 });
      let user: string | undefined;
      if (body.identifier !== undefined && !isJsonObject(body.identifier)) throw new MatrixError('M_BAD_JSON', '"identifier" must be an object');
      if (isJsonObject(body.identifier)) {
        if (body.identifier.type !== 'm.id.user') throw new MatrixError('M_UNKNOWN', 'only m.id.user identifiers are supported', { status: 400 });
        if (typeof body.identifier.user !== 'string') throw new MatrixError('M_BAD_JSON', 'identifier.user must be a string');
        user = body.identifier.user;
      } else user = optString(body, 'user');
      if (!user) throw new MatrixError('M_MISSING_PARAM', 'missing identifier.user');
      const password = requireString(body, 'password');
      const userId = fullUserId(api, user);
      api.limits.login.take(userId, 'login attempts');
      const a = api.hs.accounts.get(userId);
      // One message for every failure: which user IDs exist is not the caller's business.
      const denied = new MatrixError('M_FORBIDDEN', 'invalid user ID or password');
      if (!a?.password_hash) throw denied;
      if (a.deactivated) throw new MatrixError('M_USER_DEACTIVATED', `${userId} has been deactivated`);
      if (!(await verifyPassword(password, a.password_hash))) throw denied;
      const t = await api.issueToken(userId, optString(body, 'device_id'), optString(body, 'initial_device_display_name'));
      return loginReply(api, userId, t);
    },
  },
  {
    method: 'POST',
    family: 'client',
    path: '/logout',
    auth: 'required',
    async handle(ctx) {
      await ctx.api.deleteDevices(ctx.session.userId, [ctx.session.deviceId]);
      return { json: {} };
    },
  },
  {
    method: 'POST',
    family: 'client',
    path: '/logout/all',
    auth: 'required',
    async handle(ctx) {
      await ctx.api.deleteDevices(
        ctx.session.userId,
        account(ctx).devices.filter((d) => d.token_hash).map((d) => d.device_id),
      );
      return { json: {} };
    },
  },
  {
    method: 'GET',
    family: 'client',
    path: '/account/whoami',
    auth: 'required',
    handle: (ctx) => ({ json: { user_id: ctx.session.userId, device_id: ctx.session.deviceId, is_guest: false } }),
  },
  {
    method: 'POST',
    family: 'client',
    path: '/account/password',
    auth: 'required',
    async handle(ctx) {
      const body = ctx.body();
      const a = account(ctx);
      const challenge = await interactiveAuth(ctx.api, a, body);
      if (challenge) return challenge;
      const pw = requireString(body, 'new_password');
      checkPassword(pw);
      const hash = await hashPassword(pw, ctx.api.pbkdf2Iterations);
      await ctx.api.saveAccount({ ...ctx.api.hs.requireLocalUser(a.user_id), password_hash: hash });
      if (optBool(body, 'logout_devices') !== false) {
        const others = ctx.api.hs.requireLocalUser(a.user_id).devices.filter((d) => d.device_id !== ctx.session.deviceId);
        await ctx.api.deleteDevices(a.user_id, others.map((d) => d.device_id));
      }
      return { json: {} };
    },
  },
  {
    method: 'GET',
    family: 'client',
    path: '/devices',
    auth: 'required',
    handle: (ctx) => ({ json: { devices: account(ctx).devices.map(deviceView) } }),
  },
  {
    method: 'GET',
    family: 'client',
    path: '/devices/:deviceId',
    auth: 'required',
    handle(ctx) {
      const d = account(ctx).devices.find((x) => x.device_id === ctx.params.deviceId);
      if (!d) throw new MatrixError('M_NOT_FOUND', `no device ${ctx.params.deviceId}`);
      return { json: deviceView(d) };
    },
  },
  {
    method: 'PUT',
    family: 'client',
    path: '/devices/:deviceId',
    auth: 'required',
    async handle(ctx) {
      const a = account(ctx);
      const name = optString(ctx.body(), 'display_name');
      if (!a.devices.some((x) => x.device_id === ctx.params.deviceId)) throw new MatrixError('M_NOT_FOUND', `no device ${ctx.params.deviceId}`);
      if (name !== undefined) {
        await ctx.api.saveAccount({
          ...a,
          devices: a.devices.map((d) => (d.device_id === ctx.params.deviceId ? { ...d, display_name: name.slice(0, 256) } : d)),
        });
        // Other people's clients show device names: a new one is a device-list change for them.
        await ctx.api.hs.e2ee.deviceRenamed(a.user_id, ctx.params.deviceId!);
      }
      return { json: {} };
    },
  },
  {
    method: 'DELETE',
    family: 'client',
    path: '/devices/:deviceId',
    auth: 'required',
    async handle(ctx) {
      const a = account(ctx);
      if (!a.devices.some((x) => x.device_id === ctx.params.deviceId)) throw new MatrixError('M_NOT_FOUND', `no device ${ctx.params.deviceId}`);
      const challenge = await interactiveAuth(ctx.api, a, ctx.body());
      if (challenge) return challenge;
      await ctx.api.deleteDevices(a.user_id, [ctx.params.deviceId!]);
      return { json: {} };
    },
  },
  {
    method: 'POST',
    family: 'client',
    path: '/delete_devices',
    auth: 'required',
    async handle(ctx) {
      const body = ctx.body();
      const ids = body.devices;
      if (!Array.isArray(ids) || !ids.every((x) => typeof x === 'string')) throw new MatrixError('M_BAD_JSON', '"devices" must be a list of device IDs');
      const challenge = await interactiveAuth(ctx.api, account(ctx), body);
      if (challenge) return challenge;
      await ctx.api.deleteDevices(ctx.session.userId, ids as string[]);
      return { json: {} };
    },
  },
];

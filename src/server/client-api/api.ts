/**
 * The Client-Server API handler: `handle(request) → response` over one
 * homeserver. It owns what the API adds to the engine — access tokens,
 * per-user data (account data, filters, transaction IDs), the sync notifier
 * — and routes each request to its endpoint family (the route tables in
 * this folder). Every refusal is a spec error body; nothing a client sends
 * can make it answer 500 except a bug, which is logged.
 */
import { encodeBase64, encodeBase64Url } from '../../core/base64.ts';
import { type JsonObject, type JsonValue, isJsonObject } from '../../core/json.ts';
import { sha256Sync } from '../../crypto/sha256.ts';
import { HomeserverClient } from '../client.ts';
import { MatrixError } from '../errors.ts';
import type { Homeserver } from '../homeserver.ts';
import type { Logger } from '../log.ts';
import type { AccountRecord, ClientDataRecord, DeviceRecord } from '../store/types.ts';
import { accountRoutes } from './accounts.ts';
import { purgeForgottenRooms } from './forget.ts';
import { DEFAULT_PBKDF2_ITERATIONS } from './passwords.ts';
import { RateLimiter } from './rate-limit.ts';
import { roomRoutes } from './rooms.ts';
import { type Route, Router } from './router.ts';
import { SyncNotifier, syncRoutes } from './sync.ts';
import type { ClientRequest, ClientResponse, Reply, Session } from './types.ts';
import { userDataRoutes } from './user-data.ts';
import { discoveryRoutes } from './discovery.ts';
import { mediaRoutes } from './media.ts';
import { keyRoutes } from './keys.ts';
import { roomKeyRoutes } from './room-keys.ts';
import { toDeviceRoutes } from './to-device.ts';

/** JSON request bodies larger than this are refused with M_TOO_LARGE (events are at most 64 KiB). */
export const MAX_JSON_BODY = 256 * 1024;

export interface ClientApiOptions {
  log?: Logger;
  /** PBKDF2 cost for new passwords (tests lower it; see passwords.ts). */
  pbkdf2Iterations?: number;
  /** The longest a /sync long-poll waits (ms): a Service Worker fetch must end well within the browser's limits. */
  maxSyncWaitMs?: number;
  /** Extra routes (tests). */
  routes?: readonly Route[];
}

/** CORS as the Client-Server API asks: any origin, the methods and headers clients use. */
export const CORS_HEADERS: Record<string, string> = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, POST, PUT, DELETE, OPTIONS',
  'access-control-allow-headers': 'X-Requested-With, Content-Type, Authorization',
};

const encoder = new TextEncoder();

function dataKey(userId: string, kind: string, key: string): string {
  return `${userId}\n${kind}\n${key}`;
}

export function tokenHash(token: string): string {
  return encodeBase64(sha256Sync(encoder.encode(token)));
}

export class ClientApi {
  readonly client: HomeserverClient;
  readonly notifier: SyncNotifier;
  readonly log: Logger;
  readonly pbkdf2Iterations: number;
  readonly maxSyncWaitMs: number;
  private readonly router: Router;
  /** Access-token hash → the device it belongs to. */
  private readonly sessions = new Map<string, Session>();
  /** Client data by `user\nkind\nkey` (loaded at start; small). */
  private readonly data = new Map<string, ClientDataRecord>();
  /** Event ID → the device and transaction ID it was sent with (for `unsigned.transaction_id`). */
  readonly sentWithTxn = new Map<string, { deviceId: string; txnId: string }>();
  /**
   * Event ID → settles once the send request that made it has been answered. A /sync that would
   * carry the sender's own event waits for this first: clients (matrix-js-sdk) expect the send's
   * answer before its remote echo, and a thread reply whose echo came first was never marked sent.
   */
  readonly sendsAnswering = new Map<string, Promise<void>>();
  readonly limits: { login: RateLimiter; register: RateLimiter; send: RateLimiter };

  private constructor(
    readonly hs: Homeserver,
    opts: ClientApiOptions,
    records: ClientDataRecord[],
  ) {
    this.client = new HomeserverClient(hs);
    this.log = opts.log ?? hs.log;
    this.pbkdf2Iterations = opts.pbkdf2Iterations ?? DEFAULT_PBKDF2_ITERATIONS;
    this.maxSyncWaitMs = opts.maxSyncWaitMs ?? 30_000;
    const now = () => hs.clock.now();
    this.limits = {
      // Per user ID: guessing passwords costs time; a person mistyping twice does not notice.
      login: new RateLimiter(5, 0.2, now),
      // Server-wide: account creation is the cheapest way to fill a server's store.
      register: new RateLimiter(20, 0.5, now),
      // Per device: a runaway bot cannot starve the room's lock for everyone else.
      send: new RateLimiter(100, 20, now),
    };
    for (const r of records) {
      // End-to-end encryption records belong to the engine (e2ee/state.ts), which loads them itself.
      if (r.kind.startsWith('e2e.')) continue;
      this.data.set(dataKey(r.user_id, r.kind, r.key), r);
      if (r.kind === 'txn' && typeof r.value === 'string') {
        const [deviceId, txnId] = splitOnce(r.key);
        this.sentWithTxn.set(r.value, { deviceId, txnId });
      }
    }
    for (const a of hs.accounts.values()) this.indexTokens(a);
    this.router = new Router([
      ...discoveryRoutes,
      ...accountRoutes,
      ...syncRoutes,
      ...roomRoutes,
      ...userDataRoutes,
      ...mediaRoutes,
      ...keyRoutes,
      ...toDeviceRoutes,
      ...roomKeyRoutes,
      ...(opts.routes ?? []),
    ]);
    this.notifier = new SyncNotifier(this);
    // To-device messages and device-list changes wake the long-polls too.
    hs.e2ee.onChange(() => this.notifier.wake());
  }

  static async open(hs: Homeserver, opts: ClientApiOptions = {}): Promise<ClientApi> {
    const api = new ClientApi(hs, opts, await hs.store.listClientData());
    // Rooms every local user forgot whose purge did not happen (cut short, or forgotten before purging existed).
    await purgeForgottenRooms(api).catch((err: unknown) => api.log('warn', 'purging forgotten rooms failed', { error: String(err) }));
    return api;
  }

  get serverName(): string {
    return this.hs.serverName;
  }

  // ---- the handler ---------------------------------------------------------

  async handle(req: ClientRequest): Promise<ClientResponse> {
    try {
      if (req.method === 'OPTIONS') return { status: 204, headers: { ...CORS_HEADERS }, body: new Uint8Array() };
      let match: ReturnType<Router['match']>;
      try {
        match = this.router.match(req.method, req.path);
      } catch {
        throw new MatrixError('M_UNRECOGNIZED', `the path ${req.path} is not validly percent-encoded`, { status: 400 });
      }
      if (!match) throw new MatrixError('M_UNRECOGNIZED', `unrecognized request: ${req.method} ${req.path}`);
      if ('methodNotAllowed' in match) {
        throw new MatrixError('M_UNRECOGNIZED', `${req.method} is not allowed here (allowed: ${match.methodNotAllowed.join(', ')})`, {
          status: 405,
        });
      }
      const { route, params } = match;
      const query = new URLSearchParams(req.query);
      let parsed: JsonObject | undefined;
      const ctx = {
        api: this,
        req,
        params,
        query,
        body: (): JsonObject => {
          parsed ??= parseJsonBody(req.body);
          return parsed;
        },
      };
      let reply: Reply;
      if (route.auth === 'none') reply = await route.handle(ctx);
      else {
        const token = accessToken(req, query);
        if (token === undefined && route.auth === 'required') {
          throw new MatrixError('M_MISSING_TOKEN', 'this endpoint needs an access token (Authorization: Bearer …)');
        }
        const session = token === undefined ? undefined : this.sessionFor(token);
        if (route.auth === 'required') reply = await route.handle({ ...ctx, session: session! });
        else reply = await route.handle({ ...ctx, ...(session ? { session } : {}) });
      }
      return toResponse(reply);
    } catch (err) {
      return errorResponse(err, req, this.log);
    }
  }

  // ---- sessions --------------------------------------------------------------

  private indexTokens(a: AccountRecord): void {
    for (const d of a.devices) if (d.token_hash) this.sessions.set(d.token_hash, { userId: a.user_id, deviceId: d.device_id });
  }

  private sessionFor(token: string): Session {
    const s = this.sessions.get(tokenHash(token));
    const account = s ? this.hs.accounts.get(s.userId) : undefined;
    if (!s || !account || account.deactivated) {
      throw new MatrixError('M_UNKNOWN_TOKEN', 'the access token is not recognised (logged out, or from another server)', {
        extra: { soft_logout: false },
      });
    }
    return s;
  }

  /** Creates (or replaces the token of) a device; returns its new access token. */
  async issueToken(userId: string, deviceId: string | undefined, displayName: string | undefined): Promise<{ accessToken: string; deviceId: string }> {
    const account = this.hs.requireLocalUser(userId);
    const id = deviceId ?? encodeBase64Url(this.hs.random(6)).toUpperCase().replace(/[^A-Z0-9]/g, 'X');
    const accessToken = `hth_${encodeBase64Url(this.hs.random(32))}`;
    const hash = tokenHash(accessToken);
    const now = this.hs.clock.now();
    const existing = account.devices.find((d) => d.device_id === id);
    const devices: DeviceRecord[] = existing
      ? account.devices.map((d) =>
          d.device_id === id ? { ...d, token_hash: hash, last_seen_ts: now, ...(displayName ? { display_name: displayName } : {}) } : d,
        )
      : [...account.devices, { device_id: id, display_name: displayName ?? id, created_ts: now, token_hash: hash, last_seen_ts: now }];
    if (existing?.token_hash) this.sessions.delete(existing.token_hash);
    await this.saveAccount({ ...account, devices });
    this.sessions.set(hash, { userId, deviceId: id });
    return { accessToken, deviceId: id };
  }

  /** Deletes devices (and so their tokens, their encryption keys and their queued to-device messages). */
  async deleteDevices(userId: string, deviceIds: readonly string[]): Promise<void> {
    const account = this.hs.requireLocalUser(userId);
    const gone = new Set(deviceIds);
    for (const d of account.devices) if (gone.has(d.device_id) && d.token_hash) this.sessions.delete(d.token_hash);
    await this.saveAccount({ ...account, devices: account.devices.filter((d) => !gone.has(d.device_id)) });
    await this.hs.e2ee.devicesDeleted(userId, [...gone]);
  }

  async saveAccount(account: AccountRecord): Promise<void> {
    await this.hs.commit({ accounts: [account] });
    this.hs.accounts.set(account.user_id, account);
  }

  // ---- client data ---------------------------------------------------------------

  getData(userId: string, kind: string, key: string): JsonValue | undefined {
    return this.data.get(dataKey(userId, kind, key))?.value;
  }

  /** Records of one user and kind (with their stream positions). */
  listData(userId: string, kind: string): ClientDataRecord[] {
    const out: ClientDataRecord[] = [];
    for (const r of this.data.values()) if (r.user_id === userId && r.kind === kind) out.push(r);
    return out;
  }

  /**
   * Writes client data through to the store; each record gets a fresh stream
   * position, so /sync sees it as a change, and long-polls wake up.
   */
  async putData(records: readonly Omit<ClientDataRecord, 'stream'>[], deletes: readonly { user_id: string; kind: string; key: string }[] = []): Promise<void> {
    const stamped = this.stampData(records);
    await this.hs.commit({ clientData: stamped, clientDataDelete: [...deletes] });
    for (const d of deletes) this.data.delete(dataKey(d.user_id, d.kind, d.key));
    this.dataWritten(stamped);
  }

  /** Records with fresh stream positions, for a caller that commits them in its own batch and then calls dataWritten. */
  stampData(records: readonly Omit<ClientDataRecord, 'stream'>[]): ClientDataRecord[] {
    return records.map((r) => ({ ...r, stream: this.hs.nextStream() }));
  }

  /** Client data a purge deleted from the store (forget.ts): forget it here too. */
  forgetData(deletes: readonly { user_id: string; kind: string; key: string }[]): void {
    for (const d of deletes) {
      const r = this.data.get(dataKey(d.user_id, d.kind, d.key));
      if (r?.kind === 'txn' && typeof r.value === 'string') this.sentWithTxn.delete(r.value);
      this.data.delete(dataKey(d.user_id, d.kind, d.key));
    }
  }

  /** Stamped records (see stampData) are committed: serve them and wake the long-polls. */
  dataWritten(stamped: readonly ClientDataRecord[]): void {
    for (const r of stamped) this.data.set(dataKey(r.user_id, r.kind, r.key), r);
    this.notifier.wake();
  }
}

function splitOnce(s: string): [string, string] {
  const i = s.indexOf('\n');
  return i < 0 ? [s, ''] : [s.slice(0, i), s.slice(i + 1)];
}

function accessToken(req: ClientRequest, query: URLSearchParams): string | undefined {
  const h = req.headers.authorization;
  if (h !== undefined) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
    if (!m) throw new MatrixError('M_MISSING_TOKEN', 'the Authorization header must be "Bearer <access token>"');
    return m[1];
  }
  return query.get('access_token') ?? undefined;
}

function parseJsonBody(body: Uint8Array | undefined): JsonObject {
  if (!body || body.length === 0) return {};
  if (body.length > MAX_JSON_BODY) throw new MatrixError('M_TOO_LARGE', `the request body is ${body.length} bytes; the limit is ${MAX_JSON_BODY}`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw new MatrixError('M_NOT_JSON', 'the request body is not UTF-8');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new MatrixError('M_NOT_JSON', 'the request body is not valid JSON');
  }
  if (!isJsonObject(value)) throw new MatrixError('M_BAD_JSON', 'the request body must be a JSON object');
  return value;
}

function toResponse(reply: Reply): ClientResponse {
  const headers: Record<string, string> = { ...CORS_HEADERS, ...(reply.headers ?? {}) };
  if ('bytes' in reply) {
    headers['content-type'] = reply.contentType;
    return { status: reply.status ?? 200, headers, body: reply.bytes };
  }
  headers['content-type'] = 'application/json';
  return { status: reply.status ?? 200, headers, body: encoder.encode(JSON.stringify(reply.json)) };
}

export function errorResponse(err: unknown, req: ClientRequest, log: Logger): ClientResponse {
  let status: number;
  let body: JsonObject;
  if (err instanceof MatrixError) {
    status = err.status;
    body = err.toBody() as unknown as JsonObject;
  } else {
    log('error', 'client API handler failed', { method: req.method, path: req.path, error: String(err), stack: (err as Error)?.stack });
    status = 500;
    body = { errcode: 'M_UNKNOWN', error: `internal error handling ${req.method} ${req.path.split('?')[0]}` };
  }
  return {
    status,
    headers: { ...CORS_HEADERS, 'content-type': 'application/json' },
    body: encoder.encode(JSON.stringify(body)),
  };
}

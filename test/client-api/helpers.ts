/**
 * Shared helpers for the Client-Server API tests: the handler driven
 * in-process (no HTTP), on servers of an in-process Cluster.
 */
import { expect } from 'vitest';
import type { JsonValue } from '../../src/core/json.ts';
import { ClientApi } from '../../src/server/client-api/api.ts';
import type { ClientResponse } from '../../src/server/client-api/types.ts';
import type { Cluster, ClusterServer } from '../../src/sim/cluster.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface CallResult {
  status: number;
  /** The body parsed as JSON (undefined when it is not JSON, e.g. media). */
  // biome-ignore lint/suspicious/noExplicitAny: tests read responses ad hoc and check their shape with expect()
  json: any;
  headers: Record<string, string>;
  body: Uint8Array;
}

export interface CallOptions {
  /** Extra request headers (lower-case names). */
  headers?: Record<string, string>;
  /** A raw body instead of JSON (media uploads). */
  raw?: Uint8Array;
}

function toResult(res: ClientResponse): CallResult {
  let json: unknown;
  if ((res.headers['content-type'] ?? '').startsWith('application/json')) json = JSON.parse(decoder.decode(res.body));
  return { status: res.status, json, headers: res.headers, body: res.body };
}

/**
 * One request through `api.handle`. `path` is relative to `/_matrix/client/v3`
 * unless it starts with `/_matrix/` or `/.well-known/`; it may carry a query
 * string. `body` is sent as JSON (a string is sent as-is, to test malformed JSON).
 */
export async function call(
  api: ClientApi,
  method: string,
  path: string,
  body?: JsonValue | string,
  token?: string,
  opts: CallOptions = {},
): Promise<CallResult> {
  const full = path.startsWith('/_matrix/') || path.startsWith('/.well-known/') ? path : `/_matrix/client/v3${path}`;
  const q = full.indexOf('?');
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  let bytes: Uint8Array | undefined = opts.raw;
  if (bytes === undefined && body !== undefined) {
    bytes = encoder.encode(typeof body === 'string' ? body : JSON.stringify(body));
    headers['content-type'] ??= 'application/json';
  }
  const res = await api.handle({
    method,
    path: q < 0 ? full : full.slice(0, q),
    query: q < 0 ? '' : full.slice(q + 1),
    headers,
    ...(bytes !== undefined ? { body: bytes } : {}),
  });
  return toResult(res);
}

/** Percent-encodes one path segment (user IDs, room IDs, aliases, event types). */
export const enc = encodeURIComponent;

export interface ApiUser {
  userId: string;
  token: string;
  deviceId: string;
}

/** Registers `username` (dummy auth) and returns its user ID and access token. */
export async function register(api: ClientApi, username: string, password = 'correct horse battery'): Promise<ApiUser> {
  const r = await call(api, 'POST', '/register', { username, password, auth: { type: 'm.login.dummy' } });
  expect(r.status, JSON.stringify(r.json)).toBe(200);
  return { userId: r.json.user_id, token: r.json.access_token, deviceId: r.json.device_id };
}

/** A cluster server with a Client-Server API over it (cheap password hashing). */
export async function apiServer(cluster: Cluster, label: string): Promise<ClusterServer & { api: ClientApi }> {
  const s = await cluster.add(label);
  return { ...s, api: await ClientApi.open(s.hs, { pbkdf2Iterations: 1000 }) };
}

/** Servers a and b, each with an API, and alice@a and bob@b registered through it. */
export async function twoApiServers(cluster: Cluster) {
  const a = await apiServer(cluster, 'a');
  const b = await apiServer(cluster, 'b');
  return { a, b, alice: await register(a.api, 'alice'), bob: await register(b.api, 'bob') };
}

/** Expects a spec error response: `status` and `errcode`. */
export function expectError(r: CallResult, status: number, errcode: string): void {
  expect({ status: r.status, errcode: r.json?.errcode }, JSON.stringify(r.json)).toEqual({ status, errcode });
}

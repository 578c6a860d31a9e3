/**
 * Malformed requests over real HTTP, against one `hearth serve --client-port`
 * process: each gets the spec's error (status + errcode, a JSON body with
 * CORS headers) and none gets a 500. After the whole table the server still
 * answers, and what was there before is still there.
 */
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HearthProcess, startHearth, stopHearth } from '../helpers/hearth-process.ts';

const PASSWORD = 'correct horse battery staple';

let server: HearthProcess;
let base: string;

interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json: Record<string, unknown> | undefined;
}

interface Req {
  method?: string;
  /** Relative to /_matrix/client/v3 unless it starts with "/_matrix" or "/."; may carry a query. */
  path: string;
  /** An object is sent as JSON; a string or bytes as they are. */
  body?: unknown;
  /** 'alice' (her token), 'bogus' (a token nobody was given), or none. */
  token?: 'alice' | 'bogus';
  headers?: Record<string, string>;
}

const tokens: Record<string, string> = { bogus: 'hth_not-a-token-anyone-was-given' };

function url(path: string): string {
  return `${base}${path.startsWith('/_matrix') || path.startsWith('/.') ? path : `/_matrix/client/v3${path}`}`;
}

async function call(r: Req): Promise<Reply> {
  const headers: Record<string, string> = { ...(r.headers ?? {}) };
  if (r.token) headers.authorization = `Bearer ${tokens[r.token]}`;
  let body: string | Uint8Array<ArrayBuffer> | undefined;
  if (typeof r.body === 'string') body = r.body;
  else if (r.body instanceof Uint8Array) body = new Uint8Array(r.body);
  else if (r.body !== undefined) body = JSON.stringify(r.body);
  if (body !== undefined) headers['content-type'] ??= 'application/json';
  const res = await fetch(url(r.path), { method: r.method ?? 'GET', headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** One request with node:http, for what fetch would not send as given (a raw path, a declared length). */
function rawRequest(method: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${path}`, { method, headers }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        data += d;
      });
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, json: JSON.parse(data) });
        } catch (err) {
          reject(new Error(`not JSON (${res.statusCode}): ${data.slice(0, 200)} (${String(err)})`));
        }
      });
    });
    req.on('error', reject);
    req.end();
  });
}

let roomId: string;
let aliceId: string;
let messageId: string;

beforeAll(async () => {
  server = await startHearth(['serve', '--client-port', '0']);
  base = server.info.client_url;
  // alice, with a room and a message in it; erin, for logins that get past the password.
  const reg = await call({ method: 'POST', path: '/register', body: { username: 'alice', password: PASSWORD, auth: { type: 'm.login.dummy' } } });
  expect(reg.status, reg.text).toBe(200);
  tokens.alice = reg.json!.access_token as string;
  aliceId = reg.json!.user_id as string;
  const erin = await call({ method: 'POST', path: '/register', body: { username: 'erin', password: PASSWORD, auth: { type: 'm.login.dummy' }, inhibit_login: true } });
  expect(erin.status, erin.text).toBe(200);
  const room = await call({ method: 'POST', path: '/createRoom', token: 'alice', body: { name: 'Kept' } });
  expect(room.status, room.text).toBe(200);
  roomId = room.json!.room_id as string;
  const sent = await call({ method: 'PUT', path: `/rooms/${encodeURIComponent(roomId)}/send/m.room.message/t0`, token: 'alice', body: { msgtype: 'm.text', body: 'still here' } });
  expect(sent.status, sent.text).toBe(200);
  messageId = sent.json!.event_id as string;
}, 60_000);

afterAll(async () => {
  if (server) await stopHearth(server);
});

const room = () => `/rooms/${encodeURIComponent(roomId)}`;
const send = (txn: string) => `${room()}/send/m.room.message/${txn}`;
const login = (extra: Record<string, unknown>) => ({ type: 'm.login.password', identifier: { type: 'm.id.user', user: 'nobody' }, password: 'x', ...extra });
const reg = (extra: Record<string, unknown>) => ({ username: 'mallory', password: PASSWORD, auth: { type: 'm.login.dummy' }, ...extra });

interface Case extends Omit<Req, 'path'> {
  name: string;
  path: string | (() => string);
  status: number;
  errcode: string;
}

const cases: Case[] = [
  // Bodies that are not a JSON object.
  { name: 'body not JSON', method: 'POST', path: '/createRoom', token: 'alice', body: '{"name": ', status: 400, errcode: 'M_NOT_JSON' },
  { name: 'body not UTF-8', method: 'POST', path: '/createRoom', token: 'alice', body: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), status: 400, errcode: 'M_NOT_JSON' },
  { name: 'body a JSON array', method: 'POST', path: '/createRoom', token: 'alice', body: [1, 2], status: 400, errcode: 'M_BAD_JSON' },
  { name: 'body a JSON string', method: 'POST', path: '/login', body: '"hello"', status: 400, errcode: 'M_BAD_JSON' },
  { name: 'send: body a JSON array', method: 'PUT', path: () => send('arr'), token: 'alice', body: [], status: 400, errcode: 'M_BAD_JSON' },
  { name: 'send: a float in content', method: 'PUT', path: () => send('float'), token: 'alice', body: { msgtype: 'm.text', body: 'x', n: 1.5 }, status: 400, errcode: 'M_BAD_JSON' },
  { name: 'send: an integer beyond 2^53', method: 'PUT', path: () => send('big'), token: 'alice', body: '{"msgtype":"m.text","body":"x","n":18446744073709551616}', status: 400, errcode: 'M_BAD_JSON' },
  { name: 'body > 256 KiB JSON', method: 'POST', path: '/createRoom', token: 'alice', body: { name: 'x'.repeat(300 * 1024) }, status: 413, errcode: 'M_TOO_LARGE' },
  { name: 'event content > 64 KiB', method: 'PUT', path: () => send('huge'), token: 'alice', body: { msgtype: 'm.text', body: 'x'.repeat(70_000) }, status: 413, errcode: 'M_TOO_LARGE' },
  { name: 'body beyond the door’s cap (2 MiB + 64 KiB)', method: 'POST', path: '/_matrix/media/v3/upload', token: 'alice', body: new Uint8Array(2 * 1024 * 1024 + 128 * 1024), headers: { 'content-type': 'application/octet-stream' }, status: 413, errcode: 'M_TOO_LARGE' },

  // register: each field of the wrong type.
  { name: 'register: username a number', method: 'POST', path: '/register', body: reg({ username: 5 }), status: 400, errcode: 'M_BAD_JSON' },
  { name: 'register: password a list', method: 'POST', path: '/register', body: reg({ password: [] }), status: 400, errcode: 'M_BAD_JSON' },
  { name: 'register: device_id an object', method: 'POST', path: '/register', body: reg({ device_id: {} }), status: 400, errcode: 'M_BAD_JSON' },
  { name: 'register: initial_device_display_name a number', method: 'POST', path: '/register', body: reg({ initial_device_display_name: 7 }), status: 400, errcode: 'M_BAD_JSON' },
  { name: 'register: inhibit_login a string', method: 'POST', path: '/register', body: reg({ inhibit_login: 'yes' }), status: 400, errcode: 'M_BAD_JSON' },
  { name: 'register: username not a valid localpart', method: 'POST', path: '/register', body: reg({ username: 'Mallory Smith!' }), status: 400, errcode: 'M_INVALID_USERNAME' },
  { name: 'register: kind unknown', method: 'POST', path: '/register?kind=admin', body: reg({}), status: 400, errcode: 'M_INVALID_PARAM' },
  { name: 'register: taken', method: 'POST', path: '/register', body: reg({ username: 'alice' }), status: 400, errcode: 'M_USER_IN_USE' },

  // login: each field of the wrong type.
  { name: 'login: type a number', method: 'POST', path: '/login', body: login({ type: 5 }), status: 400, errcode: 'M_BAD_JSON' },
  { name: 'login: type unsupported', method: 'POST', path: '/login', body: login({ type: 'm.login.token' }), status: 400, errcode: 'M_UNKNOWN' },
  { name: 'login: identifier a string', method: 'POST', path: '/login', body: login({ identifier: 'alice' }), status: 400, errcode: 'M_BAD_JSON' },
  { name: 'login: identifier.user a number', method: 'POST', path: '/login', body: login({ identifier: { type: 'm.id.user', user: 5 } }), status: 400, errcode: 'M_BAD_JSON' },
  { name: 'login: identifier.type unknown', method: 'POST', path: '/login', body: login({ identifier: { type: 'm.id.thirdparty', medium: 'email', address: 'a@b' } }), status: 400, errcode: 'M_UNKNOWN' },
  { name: 'login: password a number', method: 'POST', path: '/login', body: login({ password: 5 }), status: 400, errcode: 'M_BAD_JSON' },
  { name: 'login: password missing', method: 'POST', path: '/login', body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'nobody' } }, status: 400, errcode: 'M_MISSING_PARAM' },
  { name: 'login: device_id a number', method: 'POST', path: '/login', body: login({ identifier: { type: 'm.id.user', user: 'erin' }, password: PASSWORD, device_id: 5 }), status: 400, errcode: 'M_BAD_JSON' },
  { name: 'login: wrong password', method: 'POST', path: '/login', body: login({ identifier: { type: 'm.id.user', user: 'erin' }, password: 'wrong' }), status: 403, errcode: 'M_FORBIDDEN' },

  // createRoom: each field of the wrong type (or value).
  { name: 'createRoom: name a number', method: 'POST', path: '/createRoom', token: 'alice', body: { name: 5 }, status: 400, errcode: 'M_BAD_JSON' },
  { name: 'createRoom: topic a list', method: 'POST', path: '/createRoom', token: 'alice', body: { topic: [] }, status: 400, errcode: 'M_BAD_JSON' },
  { name: 'createRoom: visibility unknown', method: 'POST', path: '/createRoom', token: 'alice', body: { visibility: 'secret' }, status: 400, errcode: 'M_INVALID_PARAM' },
  { name: 'createRoom: preset a number', method: 'POST', path: '/createRoom', token: 'alice', body: { preset: 1 }, status: 400, errcode: 'M_BAD_JSON' },
  { name: 'createRoom: preset unknown', method: 'POST', path: '/createRoom', token: 'alice', body: { preset: 'party' }, status: 400, errcode: 'M_INVALID_PARAM' },
  { name: 'createRoom: room_version a number', method: 'POST', path: '/createRoom', token: 'alice', body: { room_version: 11 }, status: 400, errcode: 'M_BAD_JSON' },
  { name: 'createRoom: room_version unknown', method: 'POST', path: '/createRoom', token: 'alice', body: { room_version: '99' }, status: 400, errcode: 'M_UNSUPPORTED_ROOM_VERSION' },
  { name: 'createRoom: invite a string', method: 'POST', path: '/createRoom', token: 'alice', body: { invite: '@bob:x' }, status: 400, errcode: 'M_BAD_JSON' },
  { name: 'createRoom: invite not user IDs', method: 'POST', path: '/createRoom', token: 'alice', body: { invite: ['bob'] }, status: 400, errcode: 'M_INVALID_PARAM' },
  { name: 'createRoom: initial_state an object', method: 'POST', path: '/createRoom', token: 'alice', body: { initial_state: {} }, status: 400, errcode: 'M_BAD_JSON' },
  { name: 'createRoom: initial_state entry a number', method: 'POST', path: '/createRoom', token: 'alice', body: { initial_state: [5] }, status: 400, errcode: 'M_BAD_JSON' },
  { name: 'createRoom: power_level_content_override a list', method: 'POST', path: '/createRoom', token: 'alice', body: { power_level_content_override: [] }, status: 400, errcode: 'M_BAD_JSON' },
  { name: 'createRoom: creation_content a number', method: 'POST', path: '/createRoom', token: 'alice', body: { creation_content: 5 }, status: 400, errcode: 'M_BAD_JSON' },
  { name: 'createRoom: is_direct a string', method: 'POST', path: '/createRoom', token: 'alice', body: { is_direct: 'yes' }, status: 400, errcode: 'M_BAD_JSON' },
  { name: 'createRoom: room_alias_name a number', method: 'POST', path: '/createRoom', token: 'alice', body: { room_alias_name: 5 }, status: 400, errcode: 'M_BAD_JSON' },

  // send / state / redact.
  { name: 'send: room ID malformed', method: 'PUT', path: '/rooms/not-a-room/send/m.room.message/t1', token: 'alice', body: { body: 'x' }, status: 400, errcode: 'M_INVALID_PARAM' },
  { name: 'send: room unknown', method: 'PUT', path: `/rooms/${encodeURIComponent('!nope:nowhere')}/send/m.room.message/t1`, token: 'alice', body: { body: 'x' }, status: 403, errcode: 'M_FORBIDDEN' },
  { name: 'send: event type too long', method: 'PUT', path: () => `${room()}/send/${'t'.repeat(300)}/t2`, token: 'alice', body: { body: 'x' }, status: 400, errcode: 'M_INVALID_PARAM' },
  { name: 'send: a redaction whose redacts is a number', method: 'PUT', path: () => `${room()}/send/m.room.redaction/t3`, token: 'alice', body: { redacts: 5 }, status: 400, errcode: 'M_BAD_JSON' },
  { name: 'state: body a JSON array', method: 'PUT', path: () => `${room()}/state/m.room.topic/`, token: 'alice', body: [], status: 400, errcode: 'M_BAD_JSON' },
  { name: 'state: body not JSON', method: 'PUT', path: () => `${room()}/state/m.room.topic/`, token: 'alice', body: 'topic', status: 400, errcode: 'M_NOT_JSON' },
  { name: 'state: m.room.member through /state', method: 'PUT', path: () => `${room()}/state/m.room.member/${encodeURIComponent('@x:y')}`, token: 'alice', body: { membership: 'join' }, status: 403, errcode: 'M_FORBIDDEN' },
  { name: 'state: reading a missing state event', method: 'GET', path: () => `${room()}/state/m.room.nothing/`, token: 'alice', status: 404, errcode: 'M_NOT_FOUND' },
  { name: 'redact: reason a number', method: 'PUT', path: () => `${room()}/redact/${encodeURIComponent(messageId)}/t4`, token: 'alice', body: { reason: 5 }, status: 400, errcode: 'M_BAD_JSON' },

  // typing and receipts.
  { name: 'typing: for another user', method: 'PUT', path: () => `${room()}/typing/${encodeURIComponent('@bob:elsewhere')}`, token: 'alice', body: { typing: 'yes' }, status: 403, errcode: 'M_FORBIDDEN' },
  { name: 'typing: typing a string (own user)', method: 'PUT', path: () => `${room()}/typing/${encodeURIComponent(aliceId)}`, token: 'alice', body: { typing: 'yes', timeout: 1000 }, status: 400, errcode: 'M_BAD_JSON' },
  { name: 'typing: typing missing', method: 'PUT', path: () => `${room()}/typing/${encodeURIComponent(aliceId)}`, token: 'alice', body: { timeout: 1000 }, status: 400, errcode: 'M_BAD_JSON' },
  { name: 'typing: timeout a string', method: 'PUT', path: () => `${room()}/typing/${encodeURIComponent(aliceId)}`, token: 'alice', body: { typing: true, timeout: 'long' }, status: 400, errcode: 'M_BAD_JSON' },
  { name: 'typing: body a JSON array', method: 'PUT', path: () => `${room()}/typing/${encodeURIComponent(aliceId)}`, token: 'alice', body: [true], status: 400, errcode: 'M_BAD_JSON' },
  { name: 'receipt: unknown type', method: 'POST', path: () => `${room()}/receipt/m.seen/${encodeURIComponent(messageId)}`, token: 'alice', body: {}, status: 400, errcode: 'M_INVALID_PARAM' },
  { name: 'receipt: body a JSON array', method: 'POST', path: () => `${room()}/receipt/m.read/${encodeURIComponent(messageId)}`, token: 'alice', body: [], status: 400, errcode: 'M_BAD_JSON' },
  { name: 'receipt: thread_id a number', method: 'POST', path: () => `${room()}/receipt/m.read/${encodeURIComponent(messageId)}`, token: 'alice', body: { thread_id: 5 }, status: 400, errcode: 'M_BAD_JSON' },
  { name: 'receipt: unknown event', method: 'POST', path: () => `${room()}/receipt/m.read/${encodeURIComponent('$nope')}`, token: 'alice', body: {}, status: 404, errcode: 'M_NOT_FOUND' },
  { name: 'read_markers: m.fully_read a number', method: 'POST', path: () => `${room()}/read_markers`, token: 'alice', body: { 'm.fully_read': 5 }, status: 400, errcode: 'M_BAD_JSON' },

  // Profile, presence, account data, filters, push rules, media.
  { name: 'profile: displayname a number', method: 'PUT', path: () => `/profile/${encodeURIComponent(aliceId)}/displayname`, token: 'alice', body: { displayname: 5 }, status: 400, errcode: 'M_BAD_JSON' },
  { name: 'profile: someone else’s', method: 'PUT', path: () => `/profile/${encodeURIComponent('@bob:elsewhere')}/displayname`, token: 'alice', body: { displayname: 'Bob' }, status: 403, errcode: 'M_FORBIDDEN' },
  { name: 'profile: avatar_url a list', method: 'PUT', path: () => `/profile/${encodeURIComponent(aliceId)}/avatar_url`, token: 'alice', body: { avatar_url: [] }, status: 400, errcode: 'M_BAD_JSON' },
  { name: 'presence: unknown state', method: 'PUT', path: () => `/presence/${encodeURIComponent(aliceId)}/status`, token: 'alice', body: { presence: 'asleep' }, status: 400, errcode: 'M_INVALID_PARAM' },
  { name: 'presence: status_msg a number', method: 'PUT', path: () => `/presence/${encodeURIComponent(aliceId)}/status`, token: 'alice', body: { presence: 'online', status_msg: 5 }, status: 400, errcode: 'M_BAD_JSON' },
  { name: 'account data: body a JSON array', method: 'PUT', path: () => `/user/${encodeURIComponent(aliceId)}/account_data/m.direct`, token: 'alice', body: [], status: 400, errcode: 'M_BAD_JSON' },
  { name: 'account data: someone else’s', method: 'GET', path: () => `/user/${encodeURIComponent('@bob:elsewhere')}/account_data/m.direct`, token: 'alice', status: 403, errcode: 'M_FORBIDDEN' },
  { name: 'filter: body a JSON array', method: 'POST', path: () => `/user/${encodeURIComponent(aliceId)}/filter`, token: 'alice', body: [], status: 400, errcode: 'M_BAD_JSON' },
  { name: 'filter: unknown ID', method: 'GET', path: () => `/user/${encodeURIComponent(aliceId)}/filter/nope`, token: 'alice', status: 404, errcode: 'M_NOT_FOUND' },
  { name: 'sync: filter ID unknown', path: '/sync?filter=12345', token: 'alice', status: 404, errcode: 'M_NOT_FOUND' },
  { name: 'push rules: unknown rule', path: '/pushrules/global/override/no.such.rule', token: 'alice', status: 404, errcode: 'M_NOT_FOUND' },
  { name: 'push rules: actions not a list', method: 'PUT', path: '/pushrules/global/room/x/actions', token: 'alice', body: { actions: 'notify' }, status: 400, errcode: 'M_BAD_JSON' },
  { name: 'media: unknown media of this server', path: () => `/_matrix/client/v1/media/download/${aliceId.split(':')[1]}/nothing`, token: 'alice', status: 404, errcode: 'M_NOT_FOUND' },
  { name: 'media: download without a token', path: '/_matrix/client/v1/media/download/nowhere/nothing', status: 401, errcode: 'M_MISSING_TOKEN' },

  // Query parameters.
  { name: 'sync: since not a token', path: '/sync?since=yesterday', token: 'alice', status: 400, errcode: 'M_INVALID_PARAM' },
  { name: 'sync: timeout not a number', path: '/sync?timeout=soon', token: 'alice', status: 400, errcode: 'M_INVALID_PARAM' },
  { name: 'sync: set_presence unknown', path: '/sync?set_presence=asleep', token: 'alice', status: 400, errcode: 'M_INVALID_PARAM' },
  { name: 'messages: from not a token', path: () => `${room()}/messages?dir=b&from=zzz`, token: 'alice', status: 400, errcode: 'M_INVALID_PARAM' },
  { name: 'messages: limit negative', path: () => `${room()}/messages?dir=b&limit=-1`, token: 'alice', status: 400, errcode: 'M_INVALID_PARAM' },
  { name: 'messages: filter not JSON', path: () => `${room()}/messages?dir=b&filter=%7B`, token: 'alice', status: 400, errcode: 'M_INVALID_PARAM' },

  // Routing and authentication.
  { name: 'unknown endpoint', path: '/no/such/endpoint', token: 'alice', status: 404, errcode: 'M_UNRECOGNIZED' },
  { name: 'unknown endpoint outside /_matrix/client', path: '/_matrix/nothing', status: 404, errcode: 'M_UNRECOGNIZED' },
  { name: 'unknown endpoint at the root', path: '/.not-well-known', status: 404, errcode: 'M_UNRECOGNIZED' },
  { name: 'wrong method', method: 'DELETE', path: '/sync', token: 'alice', status: 405, errcode: 'M_UNRECOGNIZED' },
  { name: 'wrong method on createRoom', method: 'GET', path: '/createRoom', token: 'alice', status: 405, errcode: 'M_UNRECOGNIZED' },
  { name: 'no access token', path: '/sync', status: 401, errcode: 'M_MISSING_TOKEN' },
  { name: 'unknown access token', path: '/sync', token: 'bogus', status: 401, errcode: 'M_UNKNOWN_TOKEN' },
  { name: 'unknown access token in the query', path: '/account/whoami?access_token=nope', status: 401, errcode: 'M_UNKNOWN_TOKEN' },
  { name: 'Authorization not Bearer', path: '/account/whoami', headers: { authorization: 'Basic YWxpY2U6cHc=' }, status: 401, errcode: 'M_MISSING_TOKEN' },
];

describe('hearth serve --client-port: malformed requests get spec errors, never a 500', () => {
  it.each(cases)('$name → $status $errcode', { timeout: 15_000 }, async (c) => {
    const r = await call({ ...c, path: typeof c.path === 'function' ? c.path() : c.path });
    expect({ status: r.status, errcode: r.json?.errcode }, r.text.slice(0, 300)).toEqual({ status: c.status, errcode: c.errcode });
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    expect(typeof r.json?.error).toBe('string');
    expect(r.headers.get('access-control-allow-origin')).toBe('*');
  });

  it('a body over 256 KiB is refused however its length is declared', async () => {
    // Chunked (no content-length): the handler's own limit.
    const big = new TextEncoder().encode(JSON.stringify({ name: 'y'.repeat(270 * 1024) }));
    const stream = new ReadableStream<Uint8Array>({
      start(ctl) {
        for (let i = 0; i < big.length; i += 16 * 1024) ctl.enqueue(big.subarray(i, i + 16 * 1024));
        ctl.close();
      },
    });
    const res = await fetch(url('/createRoom'), {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.alice}`, 'content-type': 'application/json' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
    expect((await res.json()).errcode).toBe('M_TOO_LARGE');
    // A declared length over the door's cap: answered before any of it is read.
    const declared = await new Promise<{ status: number; json: Record<string, unknown> }>((resolve, reject) => {
      const req = httpRequest(url('/createRoom'), { method: 'POST', headers: { 'content-length': String(64 * 1024 * 1024), 'content-type': 'application/json' } }, (r) => {
        let data = '';
        r.on('data', (d) => {
          data += d;
        });
        r.on('end', () => resolve({ status: r.statusCode ?? 0, json: JSON.parse(data) }));
      });
      req.on('error', reject);
      req.write('{"name":"');
    });
    expect(declared).toMatchObject({ status: 413, json: { errcode: 'M_TOO_LARGE' } });
  });

  it('invalid percent-encoding in the path is a 400, not a crash', async () => {
    for (const path of ['/_matrix/client/v3/rooms/%E0%A4%A/state', '/_matrix/client/v3/profile/%ZZ', '/_matrix/client/v3/rooms/%/send/m.room.message/1']) {
      const r = await rawRequest(path.includes('/send/') ? 'PUT' : 'GET', path, { authorization: `Bearer ${tokens.alice}` });
      expect({ path, status: r.status, errcode: r.json.errcode }).toEqual({ path, status: 400, errcode: 'M_UNRECOGNIZED' });
    }
  });

  it('OPTIONS preflight answers with the CORS headers, without a token', async () => {
    const res = await fetch(url(send('pre')), {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'PUT', 'access-control-request-headers': 'authorization, content-type' },
    });
    expect(res.status).toBeLessThan(300);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-methods')).toMatch(/PUT/);
    expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toMatch(/authorization/);
    expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toMatch(/content-type/);
  });

  it('a rejected registration leaves the username free', async () => {
    const r = await call({ path: '/register/available?username=mallory' });
    expect(r.status, r.text).toBe(200);
    expect(r.json).toEqual({ available: true });
  });

  it('login attempts are rate-limited per user: 429 M_LIMIT_EXCEEDED with retry_after_ms', async () => {
    const statuses: number[] = [];
    let last: Reply | undefined;
    for (let i = 0; i < 6; i++) {
      last = await call({ method: 'POST', path: '/login', body: login({ identifier: { type: 'm.id.user', user: 'dave' }, password: `guess ${i}` }) });
      statuses.push(last.status);
    }
    expect(statuses.slice(0, 5)).toEqual([403, 403, 403, 403, 403]);
    expect(last!.status).toBe(429);
    expect(last!.json?.errcode).toBe('M_LIMIT_EXCEEDED');
    expect(last!.json?.retry_after_ms).toBeGreaterThan(0);
  });

  it('after all that, the server answers /versions and a valid sync with the room and message from before', async () => {
    const v = await call({ path: '/_matrix/client/versions' });
    expect(v.status).toBe(200);
    expect(v.json?.versions).toEqual(expect.arrayContaining(['v1.1']));
    const s = await call({ path: '/sync', token: 'alice' });
    expect(s.status, s.text.slice(0, 300)).toBe(200);
    const joined = (s.json!.rooms as { join: Record<string, { timeline: { events: { event_id: string; content: { body?: string } }[] } }> }).join;
    expect(Object.keys(joined)).toContain(roomId);
    expect(joined[roomId]!.timeline.events.find((e) => e.event_id === messageId)?.content.body).toBe('still here');
    const who = await call({ path: '/account/whoami', token: 'alice' });
    expect(who.status).toBe(200);
    expect(server.child.exitCode).toBeNull();
    expect(server.stderr()).not.toMatch(/handler failed|door failed/);
  });
});

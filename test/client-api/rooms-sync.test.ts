/**
 * Rooms and /sync through the Client-Server API handler, on two servers of
 * the in-process network: what a standard client does, request by request.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/core/json.ts';
import { ClientApi } from '../../src/server/client-api/index.ts';
import { Cluster } from '../../src/sim/cluster.ts';

let cluster: Cluster;
afterEach(async () => cluster?.stopAll());

interface Reply {
  status: number;
  json: JsonObject;
}

async function call(api: ClientApi, method: string, path: string, body?: unknown, token?: string): Promise<Reply> {
  const [p, q = ''] = path.split('?');
  const res = await api.handle({
    method,
    path: p!,
    query: q,
    headers: token ? { authorization: `Bearer ${token}` } : {},
    ...(body !== undefined ? { body: new TextEncoder().encode(JSON.stringify(body)) } : {}),
  });
  return { status: res.status, json: JSON.parse(new TextDecoder().decode(res.body)) as JsonObject };
}

async function register(api: ClientApi, username: string): Promise<{ token: string; userId: string }> {
  const r = await call(api, 'POST', '/_matrix/client/v3/register', { username, password: 'pw', auth: { type: 'm.login.dummy' } });
  expect(r.status, JSON.stringify(r.json)).toBe(200);
  return { token: r.json.access_token as string, userId: r.json.user_id as string };
}

const enc = encodeURIComponent;

function timelineOf(sync: JsonObject, roomId: string): JsonObject[] {
  const join = (sync.rooms as JsonObject).join as JsonObject;
  const room = join[roomId] as JsonObject | undefined;
  return room ? (((room.timeline as JsonObject).events as JsonObject[]) ?? []) : [];
}

async function setup() {
  cluster = new Cluster();
  const a = await cluster.add('a');
  const b = await cluster.add('b');
  const apiA = await ClientApi.open(a.hs, { pbkdf2Iterations: 1000 });
  const apiB = await ClientApi.open(b.hs, { pbkdf2Iterations: 1000 });
  const alice = await register(apiA, 'alice');
  const bob = await register(apiB, 'bob');
  return { a, b, apiA, apiB, alice, bob };
}

describe('Client-Server API: rooms and sync across two servers', () => {
  it('invite, join, send (idempotent), sync, messages, context, redaction, receipts, typing, leave', async () => {
    const { apiA, apiB, alice, bob } = await setup();
    const created = await call(apiA, 'POST', '/_matrix/client/v3/createRoom', { name: 'Tea', invite: [bob.userId] }, alice.token);
    expect(created.status, JSON.stringify(created.json)).toBe(200);
    const roomId = created.json.room_id as string;

    // Bob's initial sync shows the invite with stripped state.
    const s0 = await call(apiB, 'GET', '/_matrix/client/v3/sync', undefined, bob.token);
    expect(s0.status).toBe(200);
    await cluster.until(() => true, 10);
    let invited = ((s0.json.rooms as JsonObject).invite as JsonObject)[roomId] as JsonObject | undefined;
    let since = s0.json.next_batch as string;
    if (!invited) {
      const s1 = await call(apiB, 'GET', `/_matrix/client/v3/sync?since=${since}&timeout=5000`, undefined, bob.token);
      invited = ((s1.json.rooms as JsonObject).invite as JsonObject)[roomId] as JsonObject | undefined;
      since = s1.json.next_batch as string;
    }
    expect(invited, 'invite in sync').toBeDefined();
    const inviteState = (invited!.invite_state as JsonObject).events as JsonObject[];
    expect(inviteState.some((e) => e.type === 'm.room.name' && (e.content as JsonObject).name === 'Tea')).toBe(true);

    const joined = await call(apiB, 'POST', `/_matrix/client/v3/join/${enc(roomId)}`, {}, bob.token);
    expect(joined.status, JSON.stringify(joined.json)).toBe(200);

    // Alice sends; a retry with the same transaction ID gets the same event.
    const path = `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/txn1`;
    const sent = await call(apiA, 'PUT', path, { msgtype: 'm.text', body: 'hello bob' }, alice.token);
    expect(sent.status, JSON.stringify(sent.json)).toBe(200);
    const again = await call(apiA, 'PUT', path, { msgtype: 'm.text', body: 'hello bob' }, alice.token);
    expect(again.json.event_id).toBe(sent.json.event_id);

    // Bob's sync (long-poll) delivers it, in the joined section.
    let seen: JsonObject | undefined;
    for (let i = 0; i < 20 && !seen; i++) {
      const s = await call(apiB, 'GET', `/_matrix/client/v3/sync?since=${since}&timeout=2000`, undefined, bob.token);
      expect(s.status).toBe(200);
      since = s.json.next_batch as string;
      seen = timelineOf(s.json, roomId).find((e) => e.event_id === sent.json.event_id);
    }
    expect(seen?.content).toEqual({ msgtype: 'm.text', body: 'hello bob' });
    expect(seen?.unsigned).not.toHaveProperty('transaction_id');

    // Alice's own sync carries her transaction ID.
    const sa = await call(apiA, 'GET', '/_matrix/client/v3/sync', undefined, alice.token);
    const globalData = (sa.json.account_data as JsonObject).events as JsonObject[];
    expect(globalData.find((e) => e.type === 'm.push_rules')?.content).toHaveProperty('global.override');
    const mine = timelineOf(sa.json, roomId).find((e) => e.event_id === sent.json.event_id);
    expect((mine?.unsigned as JsonObject | undefined)?.transaction_id).toBe("txn1");

    // /messages backwards, /context and /event.
    const msgs = await call(apiB, 'GET', `/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=b&limit=3`, undefined, bob.token);
    expect(msgs.status, JSON.stringify(msgs.json)).toBe(200);
    expect((msgs.json.chunk as JsonObject[])[0]?.event_id).toBe(sent.json.event_id);
    expect(msgs.json.end).toBeDefined();
    const older = await call(apiB, 'GET', `/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=b&limit=100&from=${msgs.json.end}`, undefined, bob.token);
    const types = (older.json.chunk as JsonObject[]).map((e) => e.type);
    expect(types[types.length - 1]).toBe('m.room.create');
    expect(older.json.end).toBeUndefined();
    const ctx = await call(apiB, 'GET', `/_matrix/client/v3/rooms/${enc(roomId)}/context/${enc(sent.json.event_id as string)}?limit=4`, undefined, bob.token);
    expect(ctx.status).toBe(200);
    expect((ctx.json.event as JsonObject).event_id).toBe(sent.json.event_id);
    expect((ctx.json.events_before as JsonObject[]).length).toBe(2);

    // Receipts and typing reach alice's sync as ephemeral events.
    const rec = await call(apiB, 'POST', `/_matrix/client/v3/rooms/${enc(roomId)}/receipt/m.read/${enc(sent.json.event_id as string)}`, {}, bob.token);
    expect(rec.status, JSON.stringify(rec.json)).toBe(200);
    const typ = await call(apiB, 'PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/typing/${enc(bob.userId)}`, { typing: true, timeout: 10000 }, bob.token);
    expect(typ.status).toBe(200);
    let aliceSince = sa.json.next_batch as string;
    let gotReceipt = false;
    let gotTyping = false;
    for (let i = 0; i < 20 && !(gotReceipt && gotTyping); i++) {
      const s = await call(apiA, 'GET', `/_matrix/client/v3/sync?since=${aliceSince}&timeout=2000`, undefined, alice.token);
      aliceSince = s.json.next_batch as string;
      const room = ((s.json.rooms as JsonObject).join as JsonObject)[roomId] as JsonObject | undefined;
      for (const e of ((room?.ephemeral as JsonObject | undefined)?.events as JsonObject[] | undefined) ?? []) {
        if (e.type === 'm.receipt' && JSON.stringify(e.content).includes(bob.userId)) gotReceipt = true;
        if (e.type === 'm.typing' && ((e.content as JsonObject).user_ids as string[]).includes(bob.userId)) gotTyping = true;
      }
    }
    expect(gotReceipt && gotTyping).toBe(true);

    // Redaction: the redacted event loses its content and says why.
    const red = await call(apiA, 'PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/redact/${enc(sent.json.event_id as string)}/r1`, { reason: 'oops' }, alice.token);
    expect(red.status, JSON.stringify(red.json)).toBe(200);
    await cluster.until(() => apiB.hs.rooms.get(roomId)?.events.get(sent.json.event_id as string)?.redacted_by !== undefined, 5000);
    const ev = await call(apiB, 'GET', `/_matrix/client/v3/rooms/${enc(roomId)}/event/${enc(sent.json.event_id as string)}`, undefined, bob.token);
    expect(ev.json.content).toEqual({});
    expect(((ev.json.unsigned as JsonObject).redacted_because as JsonObject).event_id).toBe(red.json.event_id);

    // Bob leaves: his sync shows the room under leave.
    const left = await call(apiB, 'POST', `/_matrix/client/v3/rooms/${enc(roomId)}/leave`, {}, bob.token);
    expect(left.status).toBe(200);
    const sl = await call(apiB, 'GET', `/_matrix/client/v3/sync?since=${since}`, undefined, bob.token);
    expect(((sl.json.rooms as JsonObject).leave as JsonObject)[roomId]).toBeDefined();
    const joinedRooms = await call(apiB, 'GET', '/_matrix/client/v3/joined_rooms', undefined, bob.token);
    expect(joinedRooms.json.joined_rooms).toEqual([]);
  });

  it("a long-poll woken by the device's own event answers after that event's send request", async () => {
    // matrix-js-sdk never settles a thread reply whose remote echo came before the send's answer.
    const { apiA, alice } = await setup();
    const created = await call(apiA, 'POST', '/_matrix/client/v3/createRoom', { name: 'Order' }, alice.token);
    const roomId = created.json.room_id as string;
    const s0 = await call(apiA, 'GET', '/_matrix/client/v3/sync?timeout=0', undefined, alice.token);
    const order: string[] = [];
    const polled = call(apiA, 'GET', `/_matrix/client/v3/sync?timeout=20000&since=${enc(s0.json.next_batch as string)}`, undefined, alice.token).then((r) => {
      order.push('sync');
      return r;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const sent = await call(apiA, 'PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/t1`, { msgtype: 'm.text', body: 'first' }, alice.token);
    order.push('send');
    const s1 = await polled;
    expect(sent.status).toBe(200);
    expect(timelineOf(s1.json, roomId).map((e) => e.event_id)).toContain(sent.json.event_id);
    expect(order).toEqual(['send', 'sync']);
  });

  it('answers spec errors for bad requests', async () => {
    const { apiA, alice } = await setup();
    const cases: [string, string, unknown, string | undefined, number, string][] = [
      ['GET', '/_matrix/client/v3/sync', undefined, undefined, 401, 'M_MISSING_TOKEN'],
      ['GET', '/_matrix/client/v3/sync', undefined, 'nope', 401, 'M_UNKNOWN_TOKEN'],
      ['GET', '/_matrix/client/v3/sync?since=garbage', undefined, alice.token, 400, 'M_INVALID_PARAM'],
      ['GET', '/_matrix/client/v3/sync?timeout=-1', undefined, alice.token, 400, 'M_INVALID_PARAM'],
      ['GET', '/_matrix/client/v3/no/such/thing', undefined, alice.token, 404, 'M_UNRECOGNIZED'],
      ['DELETE', '/_matrix/client/v3/sync', undefined, alice.token, 405, 'M_UNRECOGNIZED'],
      ['POST', '/_matrix/client/v3/createRoom', { room_version: '99' }, alice.token, 400, 'M_UNSUPPORTED_ROOM_VERSION'],
      ['POST', '/_matrix/client/v3/createRoom', { invite: 'bob' }, alice.token, 400, 'M_BAD_JSON'],
      ['PUT', '/_matrix/client/v3/rooms/!nope:x/send/m.room.message/1', { body: 'x' }, alice.token, 403, 'M_FORBIDDEN'],
      ['PUT', '/_matrix/client/v3/rooms/not-a-room/send/m.room.message/1', { body: 'x' }, alice.token, 400, 'M_INVALID_PARAM'],
      ['GET', '/_matrix/client/v3/rooms/!nope:x/messages?dir=x', undefined, alice.token, 403, 'M_FORBIDDEN'],
      ['POST', '/_matrix/client/v3/join/%ZZ', {}, alice.token, 400, 'M_UNRECOGNIZED'],
      ['POST', '/_matrix/client/v3/join/nonsense', {}, alice.token, 400, 'M_INVALID_PARAM'],
      ['POST', '/_matrix/client/v3/login', { type: 'm.login.password', user: 'alice', password: 'wrong' }, undefined, 403, 'M_FORBIDDEN'],
      ['POST', '/_matrix/client/v3/register', { username: 'alice', password: 'x', auth: { type: 'm.login.dummy' } }, undefined, 400, 'M_USER_IN_USE'],
      ['POST', '/_matrix/client/v3/register', { username: 'Bad Name', password: 'x', auth: { type: 'm.login.dummy' } }, undefined, 400, 'M_INVALID_USERNAME'],
    ];
    for (const [method, path, body, token, status, errcode] of cases) {
      const r = await call(apiA, method, path, body, token);
      expect({ path, method, status: r.status, errcode: r.json.errcode }).toEqual({ path, method, status, errcode });
    }
    const notJson = await apiA.handle({ method: 'POST', path: '/_matrix/client/v3/createRoom', query: '', headers: { authorization: `Bearer ${alice.token}` }, body: new TextEncoder().encode('{oops') });
    expect(notJson.status).toBe(400);
    expect(JSON.parse(new TextDecoder().decode(notJson.body)).errcode).toBe('M_NOT_JSON');
  });
});

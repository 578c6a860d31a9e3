/**
 * Forgetting a room frees its space (issue 17, item 3): once every local user
 * has left and forgotten a room, the server deletes its events, state groups,
 * receipts and the client data filed under it (purge.ts, client-api/forget.ts)
 * — while a leave it could not deliver yet still reaches its peers, a purge
 * cut short by a crash is completed on the next start, and joining the room
 * again later works from scratch.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ClientApi } from '../../src/server/client-api/api.ts';
import { forgetRoom } from '../../src/server/client-api/forget.ts';
import { checkStoreConsistency } from '../../src/server/store/consistency.ts';
import type { Store, StoredEvent, WriteBatch } from '../../src/server/store/types.ts';
import { Cluster, type ClusterServer } from '../../src/sim/cluster.ts';
import { call, enc, register } from '../client-api/helpers.ts';
import { converge, outboxesDrained, waitFor } from './engine-helpers.ts';

let cluster: Cluster;
afterEach(() => cluster?.stopAll());

/** What `server`'s store still holds of `roomId`. */
async function stored(store: Store, roomId: string) {
  return {
    room: await store.getRoom(roomId),
    events: (await store.roomEvents(roomId)).length,
    groups: (await store.roomStateGroups(roomId)).length,
    receipts: (await store.roomReceipts(roomId)).length,
    clientData: (await store.listClientData()).filter((r) => r.key.includes(roomId) || r.value === roomId).length,
  };
}

const gone = { room: undefined, events: 0, groups: 0, receipts: 0, clientData: 0 };

/** b hosts a room (bob); a (alice, with a ClientApi) joins it and talks; returns after convergence. */
async function roomOnB(): Promise<{ a: ClusterServer; b: ClusterServer; api: ClientApi; alice: string; bob: string; roomId: string }> {
  cluster = new Cluster();
  const a = await cluster.add('a');
  const b = await cluster.add('b');
  const api = await ClientApi.open(a.hs, { pbkdf2Iterations: 1000 });
  const alice = (await register(api, 'alice')).userId;
  const bob = await b.hs.register('bob');
  const roomId = await b.client.createRoom(bob, { preset: 'public_chat', name: 'Purged' });
  await a.client.join(alice, roomId, [b.hs.serverName]);
  for (let i = 0; i < 20; i++) await (i % 2 ? a : b).client.sendMessage(i % 2 ? alice : bob, roomId, `message ${i}`);
  await converge(cluster, roomId);
  await outboxesDrained(cluster);
  return { a, b, api, alice, bob, roomId };
}

describe('forgetting a room purges it once no local user needs it', () => {
  it('leave → forget deletes the room from the store; the undelivered leave still reaches the peer; joining again works', async () => {
    const { a, b, api, alice, bob, roomId } = await roomOnB();
    await a.client.sendReceipt(alice, roomId, a.client.acceptedEventIds(roomId).at(-1)!);
    expect((await stored(a.store, roomId)).receipts).toBeGreaterThan(0);
    await api.putData([{ user_id: alice, kind: 'room_account_data', key: `${roomId}\nm.tag`, value: { tags: { 'u.work': {} } } }]);
    expect((await stored(a.store, roomId)).events).toBeGreaterThan(20);
    const usageBefore = await a.store.usage();

    // b is unreachable when alice leaves: her leave waits in a's outbox.
    cluster.partition([['a'], ['b']]);
    await a.client.leave(alice, roomId);
    const leaveId = a.hs.rooms.get(roomId)!.currentState().get(`m.room.member\u0000${alice}`)!;
    expect(a.hs.outbox.pendingFor([leaveId])[leaveId]).toBe(1);

    const result = await forgetRoom(api, alice, roomId);
    expect(result).toMatchObject({ roomId, deliveriesKept: 1, held: false, storageFull: false });
    expect(result!.events).toBeGreaterThan(20);
    expect(result!.bytes).toBeGreaterThan(5000);
    expect(a.hs.rooms.has(roomId)).toBe(false);
    expect(await stored(a.store, roomId)).toEqual(gone);
    expect(await checkStoreConsistency(a.store)).toEqual([]);
    const usageAfter = await a.store.usage();
    expect(usageAfter['events']!).toBeLessThan(usageBefore['events']! / 4);
    // The delivery carries the leave itself now.
    const kept = (await a.store.outbox()).filter((e) => e.event_id === leaveId);
    expect(kept).toHaveLength(1);
    expect(kept[0]!.pdu?.type).toBe('m.room.member');
    expect(await a.store.getEvent(leaveId)).toBeUndefined();
    // Forgetting again, or over the API, is harmless.
    expect(await forgetRoom(api, alice, roomId)).toBeUndefined();

    cluster.healAll();
    a.hs.outbox.peerUp(b.hs.serverName);
    await waitFor(cluster, () => b.client.membership(alice, roomId) === 'leave', 'b receives alice’s leave', 20_000);
    await waitFor(cluster, () => a.hs.outbox.totalPending() === 0, 'a’s outbox drains', 20_000);
    expect(await a.store.outbox()).toEqual([]);

    // The room goes on without her; then she joins again and gets it afresh from b.
    await b.client.sendMessage(bob, roomId, 'while alice was away');
    await a.client.join(alice, roomId, [b.hs.serverName]);
    expect(a.client.membership(alice, roomId)).toBe('join');
    await a.client.sendMessage(alice, roomId, 'back again');
    await waitFor(cluster, () => b.client.messageBodies(bob, roomId).includes('back again'), 'b sees alice’s message after her return', 20_000);
    await waitFor(cluster, () => a.client.messageBodies(alice, roomId).includes('while alice was away'), 'a backfills the room', 20_000);
    expect((await a.store.getRoom(roomId))?.room_id).toBe(roomId);
    expect(await checkStoreConsistency(a.store)).toEqual([]);

    // And it is all there after a restart.
    await cluster.crash('a');
    const a2 = await cluster.restart('a');
    expect(a2.client.membership(alice, roomId)).toBe('join');
    expect(a2.client.messageBodies(alice, roomId)).toContain('back again');
    expect(await checkStoreConsistency(a2.store)).toEqual([]);
  });

  it('a leave owed to two servers is one stored delivery row naming both, carrying the leave after the purge; both receive it', async () => {
    const { a, b, api, alice, roomId } = await roomOnB();
    const c = await cluster.add('c');
    const carol = await c.hs.register('carol');
    await c.client.join(carol, roomId, [b.hs.serverName]);
    await converge(cluster, roomId);
    await outboxesDrained(cluster);
    cluster.partition([['a'], ['b', 'c']]);
    await a.client.leave(alice, roomId);
    const leaveId = a.hs.rooms.get(roomId)!.currentState().get(`m.room.member\u0000${alice}`)!;
    const result = await forgetRoom(api, alice, roomId);
    expect(result).toMatchObject({ roomId, deliveriesKept: 2 });
    const kept = (await a.store.outbox()).filter((e) => e.event_id === leaveId);
    expect(kept).toHaveLength(1);
    expect(kept[0]!.destinations?.slice().sort()).toEqual([b.hs.serverName, c.hs.serverName].sort());
    expect(kept[0]!.pdu?.type).toBe('m.room.member');
    cluster.healAll();
    for (const peer of [b, c]) a.hs.outbox.peerUp(peer.hs.serverName);
    await waitFor(cluster, () => b.client.membership(alice, roomId) === 'leave' && c.client.membership(alice, roomId) === 'leave', 'b and c receive alice’s leave', 20_000);
    await waitFor(cluster, () => a.hs.outbox.totalPending() === 0, 'a’s outbox drains', 20_000);
    expect(await a.store.outbox()).toEqual([]);
  });

  it('keeps the room while another local user is in it; deletes the client data filed under it with it', async () => {
    const { a, api, alice, roomId } = await roomOnB();
    const amy = (await register(api, 'amy')).userId;
    await a.client.join(amy, roomId);
    const login = await call(api, 'POST', '/login', { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'alice' }, password: 'correct horse battery' });
    const aliceToken = login.json.access_token as string;
    const sent = await call(api, 'PUT', `/rooms/${enc(roomId)}/send/m.room.message/txn1`, { msgtype: 'm.text', body: 'with a txn' }, aliceToken);
    expect(sent.status).toBe(200);
    expect(api.sentWithTxn.has(sent.json.event_id)).toBe(true);
    const alias = `#purged:${a.hs.serverName}`;
    expect((await call(api, 'PUT', `/directory/room/${enc(alias)}`, { room_id: roomId }, aliceToken)).status).toBe(200);
    await api.putData([{ user_id: amy, kind: 'room_account_data', key: `${roomId}\nm.fully_read`, value: { event_id: sent.json.event_id } }]);
    const other = await a.client.createRoom(amy, { name: 'Elsewhere' });
    await api.putData([{ user_id: amy, kind: 'room_account_data', key: `${other}\nm.tag`, value: { tags: {} } }]);

    // Forgetting while joined is refused (the spec: leave first).
    expect((await call(api, 'POST', `/rooms/${enc(roomId)}/forget`, {}, aliceToken)).status).toBe(400);
    await a.client.leave(alice, roomId);
    expect((await call(api, 'POST', `/rooms/${enc(roomId)}/forget`, {}, aliceToken)).status).toBe(200);
    // amy is still in it: nothing is deleted.
    expect(a.hs.rooms.has(roomId)).toBe(true);
    expect((await stored(a.store, roomId)).events).toBeGreaterThan(20);

    await a.client.leave(amy, roomId);
    expect((await forgetRoom(api, amy, roomId))?.roomId).toBe(roomId);
    expect(await stored(a.store, roomId)).toEqual(gone);
    expect(api.getData('', 'alias', alias)).toBeUndefined();
    expect(api.getData(amy, 'room_account_data', `${roomId}\nm.fully_read`)).toBeUndefined();
    expect(api.sentWithTxn.has(sent.json.event_id)).toBe(false);
    // The other room and its data stay.
    expect(api.getData(amy, 'room_account_data', `${other}\nm.tag`)).toEqual({ tags: {} });
    expect((await a.store.roomEvents(other)).length).toBeGreaterThan(0);
    expect(await checkStoreConsistency(a.store)).toEqual([]);
    // A forgotten room is gone from the user's rooms (and the API's answers about it).
    expect((await a.client.rooms(amy)).map((r) => r.roomId)).toEqual([other]);
    expect((await call(api, 'GET', `/rooms/${enc(roomId)}/state`, undefined, aliceToken)).status).toBe(403);
  });

  it('the API keeps a left room until every local user who was in it has forgotten it', async () => {
    const { a, api, alice, roomId } = await roomOnB();
    const amy = (await register(api, 'amy')).userId;
    await a.client.join(amy, roomId);
    await a.client.leave(alice, roomId);
    await a.client.leave(amy, roomId);
    expect(await forgetRoom(api, alice, roomId)).toBeUndefined();
    expect((await stored(a.store, roomId)).events).toBeGreaterThan(0);
    // amy still sees it among her left rooms; alice's forgotten record is kept until the purge.
    expect(api.getData(alice, 'forgotten', roomId)).toBe(true);
    const result = await forgetRoom(api, amy, roomId);
    expect(result?.roomId).toBe(roomId);
    expect(await stored(a.store, roomId)).toEqual(gone);
    expect(api.getData(alice, 'forgotten', roomId)).toBeUndefined();
    expect(await checkStoreConsistency(a.store)).toEqual([]);
  });

  it('work that waited for the room while it was purged cannot write a piece of it back', async () => {
    const { a, api, alice, roomId } = await roomOnB();
    await a.client.leave(alice, roomId);
    const room = a.hs.rooms.get(roomId)!;
    // Something holds the room's lock (an ingest, say) while the forget comes in: the purge waits for it.
    let release!: () => void;
    const holding = room.lock.run(() => new Promise<void>((resolve) => (release = resolve)), 'test');
    const forgetting = forgetRoom(api, alice, roomId);
    await waitFor(cluster, () => room.lock.pending === 2, 'the purge waits for the room’s lock');
    // Queued behind the purge: a task that writes the room as it knew it (as a late ingest would).
    const late = room.lock.run(() => a.hs.commit({ rooms: [room.record()], events: [...room.events.values()].slice(0, 3) }), 'late');
    await waitFor(cluster, () => release !== undefined, 'the holder runs');
    release();
    await holding;
    expect((await forgetting)?.roomId).toBe(roomId);
    await late;
    await a.hs.flushWrites();
    expect(await stored(a.store, roomId)).toEqual(gone);
    expect(await checkStoreConsistency(a.store)).toEqual([]);
  });

  it('with the disk full, a purge goes ahead of the held write and frees the space; a leave held then still reaches the peer', async () => {
    const { a, b, api, alice, bob, roomId } = await roomOnB();
    const other = await a.client.createRoom(alice, { name: 'Elsewhere' });
    // A full disk, as Chromium over its quota: every write that puts anything is refused; deletes go through.
    const store = a.store as Store & { write: (b: WriteBatch) => Promise<void> };
    const real = store.write.bind(store);
    let full = false;
    const deleting = new Set(['purgeRooms', 'outboxDelete', 'clientDataDelete', 'mediaDelete']);
    const puts = (batch: WriteBatch) => Object.entries(batch).some(([k, v]) => !deleting.has(k) && (Array.isArray(v) ? v.length > 0 : v !== undefined));
    store.write = (batch) => (full && puts(batch) ? Promise.reject(new DOMException('the quota is exceeded', 'QuotaExceededError')) : real(batch));

    cluster.partition([['a'], ['b']]);
    // Stored, but not delivered yet (b is unreachable): its delivery is rewritten to carry it at the purge.
    await a.client.sendMessage(alice, roomId, 'last words');
    full = true;
    // Her leave is refused by the store: held in memory, written with the next write that succeeds.
    await expect(a.client.leave(alice, roomId)).rejects.toThrow(/QuotaExceededError/);
    await expect(a.client.sendMessage(alice, other, 'refused too')).rejects.toThrow(/QuotaExceededError/);
    expect(a.hs.hasUnstoredWrites).toBe(true);

    const result = await forgetRoom(api, alice, roomId);
    // Deleted now, and said to be under a full disk (a browser gives the space back only when it compacts).
    expect(result).toMatchObject({ roomId, held: false, storageFull: true });
    expect(await stored(a.store, roomId)).toEqual(gone);

    // Room again: the held writes land, without the purged room's records.
    full = false;
    await a.hs.flushWrites();
    expect(a.hs.hasUnstoredWrites).toBe(false);
    expect(await stored(a.store, roomId)).toEqual(gone);
    expect((await a.store.roomEvents(other)).some((e) => JSON.stringify(e.pdu.content).includes('refused too'))).toBe(true);
    expect(await checkStoreConsistency(a.store)).toEqual([]);
    // The held leave's delivery carries its event, and reaches b.
    cluster.healAll();
    a.hs.outbox.peerUp(b.hs.serverName);
    await waitFor(cluster, () => b.client.membership(alice, roomId) === 'leave', 'b receives alice’s held leave', 20_000);
    await waitFor(cluster, () => b.client.messageBodies(bob, roomId).includes('last words'), 'b receives her last message', 20_000);
    expect(b.client.membership(bob, roomId)).toBe('join');
  });

  it('a purge cut short by a crash leaves the room whole and consistent, and completes on the next start', async () => {
    const { a, api, alice, roomId } = await roomOnB();
    await a.client.leave(alice, roomId);
    const before = await stored(a.store, roomId);
    const eventsBefore = (await a.store.roomEvents(roomId)).map((e) => e.event_id);

    // The purge's transaction fails half-way (its range deletes already issued, then a record the
    // store refuses): the store rolls it back, and the server dies before writing anything else.
    const store = a.store as Store & { write: (b: WriteBatch) => Promise<void> };
    const real = store.write.bind(store);
    const poison = { event_id: '$poison', room_id: '!other:x', stream: 1, status: 'accepted', pdu: { content: { f: () => 1 } } } as unknown as StoredEvent;
    store.write = (b) => real(b.purgeRooms ? { ...b, events: [...(b.events ?? []), poison] } : b);
    const result = await forgetRoom(api, alice, roomId);
    expect(result?.held).toBe(true);
    await cluster.crash('a');

    const a2 = await cluster.restart('a');
    expect(await stored(a2.store, roomId)).toEqual({ ...before, clientData: before.clientData + 1 });
    expect((await a2.store.roomEvents(roomId)).map((e) => e.event_id)).toEqual(eventsBefore);
    expect(await checkStoreConsistency(a2.store)).toEqual([]);
    expect(a2.hs.rooms.has(roomId)).toBe(true);

    // The forgotten record was written first: opening the API completes the purge.
    const api2 = await ClientApi.open(a2.hs, { pbkdf2Iterations: 1000 });
    expect(api2.getData(alice, 'forgotten', roomId)).toBeUndefined();
    expect(a2.hs.rooms.has(roomId)).toBe(false);
    expect(await stored(a2.store, roomId)).toEqual(gone);
    expect(await checkStoreConsistency(a2.store)).toEqual([]);
  });
});

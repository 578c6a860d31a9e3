/**
 * A transaction is answered before the missing history of its PDUs is
 * fetched (issue 16 item 2): after a heal, the receiver used to answer only
 * once it had fetched that history, which outlived the sender's request
 * timeout, and the sender sent the whole transaction again. Now the PDUs
 * that lack history are answered as pending (HISTORY_PENDING), their history
 * is fetched and placed afterwards, and — since pending means not stored —
 * the sender keeps them queued and sends them again later, when they are
 * acknowledged as held. Nothing is acknowledged before it is stored.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { handleFederationRequest } from '../../src/server/federation-server.ts';
import { type FederationResponse, HISTORY_PENDING } from '../../src/server/federation/types.ts';
import { pduWithoutId } from '../../src/server/local-events.ts';
import { Cluster } from '../../src/sim/cluster.ts';
import { converge, waitFor } from './engine-helpers.ts';

let cluster: Cluster;
afterEach(() => cluster?.stopAll());

/** Long enough that a history fetch cannot finish while a transaction is answered locally. */
const FETCH_LATENCY_MS = 3000;

function results(res: FederationResponse): Record<string, { error?: string }> {
  expect(res.ok, JSON.stringify(res.body)).toBe(true);
  return (res.body as { pdus: Record<string, { error?: string }> }).pdus;
}

describe('a transaction whose PDUs lack history', () => {
  it('is answered at once with those PDUs pending; their history is still fetched and placed, and the sender re-sends them until held', async () => {
    cluster = new Cluster();
    const a = await cluster.add('a');
    const b = await cluster.add('b');
    const c = await cluster.add('c');
    const alice = await a.hs.register('alice');
    const bob = await b.hs.register('bob');
    const carol = await c.hs.register('carol');
    const roomId = await a.client.createRoom(alice, { preset: 'public_chat' });
    await b.client.join(bob, roomId, [a.hs.serverName]);
    await c.client.join(carol, roomId, [a.hs.serverName]);
    await converge(cluster, roomId);

    cluster.partition([['a'], ['b', 'c']]);
    // b and c take turns, so each of b's events builds on c's, which a lacks too.
    for (let n = 0; n < 20; n++) {
      const [s, user] = n % 2 === 0 ? [b, bob] : [c, carol];
      await s.client.sendMessage(user, roomId, `missed ${n}`);
      await waitFor(cluster, () => b.client.acceptedEventIds(roomId).length === c.client.acceptedEventIds(roomId).length, 'b and c in step');
    }
    const bRoom = b.hs.rooms.get(roomId)!;
    const latest = [...bRoom.extremities].find((id) => bRoom.get(id)?.sender === bob || bRoom.get(id)?.sender === carol)!;
    expect(latest).toBeDefined();

    // Every request a makes (history fetches, catch-ups) now takes FETCH_LATENCY_MS to arrive.
    cluster.net.setLatency(a.hs.serverName, b.hs.serverName, FETCH_LATENCY_MS);
    cluster.net.setLatency(a.hs.serverName, c.hs.serverName, FETCH_LATENCY_MS);
    cluster.healAll();

    const txn = (id: string) => ({
      kind: 'send' as const,
      txn_id: `t-${id}-${Math.random()}`,
      body: { origin: b.hs.serverName, origin_server_ts: Date.now(), pdus: [pduWithoutId(bRoom.get(latest)!)], edus: [] } as never,
    });
    const first = results(await handleFederationRequest(a.hs, b.hs.serverName, txn('first')));
    const aRoom = a.hs.rooms.get(roomId)!;
    // Answered before its history could arrive: pending, not stored, not acknowledged.
    expect(first[latest]?.error ?? '').toMatch(new RegExp(`^${HISTORY_PENDING}`));
    expect(aRoom.isDagNode(latest)).toBe(false);
    // Sent again while the fetch runs: still pending (and no second fetch is started).
    const again = results(await handleFederationRequest(a.hs, b.hs.serverName, txn('again')));
    expect(again[latest]?.error ?? '').toMatch(new RegExp(`^${HISTORY_PENDING}`));

    // The history is fetched and placed all the same.
    await waitFor(cluster, () => aRoom.isDagNode(latest) && aRoom.events.get(latest)?.status === 'accepted', 'a to place the event', 60_000);
    expect(a.client.messageBodies(alice, roomId).filter((m) => m.startsWith('missed ')).length).toBe(20);
    // Sent once more, it is acknowledged: it is stored now.
    const last = results(await handleFederationRequest(a.hs, b.hs.serverName, txn('last')));
    expect(last[latest]).toEqual({});

    // b's own outbox met the same answers after the heal: it kept those entries and sent them
    // again until a held them — its queue for a drains, nothing dropped on a pending answer.
    await converge(cluster, roomId, undefined, 60_000);
    expect(b.hs.outbox.stats.pdusPending).toBeGreaterThan(0);
    await waitFor(cluster, () => b.hs.outbox.totalPending() === 0 && c.hs.outbox.totalPending() === 0, 'b and c to drain their outboxes', 60_000);
  }, 180_000);
});

/**
 * A received event reaches the app's page before the receiver's store write (Update 'placed'):
 * the page's timeline reads the room in memory, so waiting for the write only delayed the
 * screen (issue 16's latency breakdown: B's IndexedDB commit sat between placement and the
 * page). The 'event' update — what the Client-Server API's /sync and the rest act on — still
 * comes only once the event is stored; an encrypted event is not told early (it waits for its
 * decryption, which follows the stored update).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Update } from '../../src/server/updates.ts';
import { Cluster } from '../../src/sim/cluster.ts';
import { addThreeServers, converge, slowStorage, waitFor } from './engine-helpers.ts';

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.stopAll();
  cluster = undefined;
});

/** Alice on a and Carl on c in one public room, both servers converged. */
async function aliceAndCarl() {
  const net = new Cluster();
  cluster = net;
  const { a, c, alice } = await addThreeServers(net);
  const carl = await c.hs.register('carl');
  const roomId = await a.client.createRoom(alice, { preset: 'public_chat' });
  await c.client.join(carl, roomId, [a.hs.serverName]);
  await converge(net, roomId, ['a', 'c']);
  return { net, a, c, alice, carl, roomId };
}

describe("the 'placed' update", () => {
  it('tells of a received message before its write lands; the stored update follows the write', async () => {
    const { net, a, c, alice, carl, roomId } = await aliceAndCarl();

    const updates: Update[] = [];
    c.hs.subscribe((u) => updates.push(u));
    // c's disk is slow: its writes wait until released.
    const release = slowStorage(c);

    const eventId = await a.client.sendMessage(alice, roomId, 'told early');
    await waitFor(net, () => updates.some((u) => u.kind === 'placed' && u.eventIds.includes(eventId)), 'c to tell of the placed message');
    // Shown from memory already; not announced as stored.
    expect(c.client.timeline(carl, roomId).items.some((i) => i.event_id === eventId)).toBe(true);
    expect(updates.some((u) => u.kind === 'event' && u.eventId === eventId)).toBe(false);

    release();
    await waitFor(net, () => updates.some((u) => u.kind === 'event' && u.eventId === eventId), 'the stored update');
    const placedAt = updates.findIndex((u) => u.kind === 'placed' && u.eventIds.includes(eventId));
    const storedAt = updates.findIndex((u) => u.kind === 'event' && u.eventId === eventId);
    expect(placedAt).toBeLessThan(storedAt);
    expect((await c.store.roomEvents(roomId)).some((e) => e.event_id === eventId)).toBe(true);
  });

  it('is not sent for an encrypted event, nor for a server’s own', async () => {
    const { net, a, c, alice, roomId } = await aliceAndCarl();
    const onC: Update[] = [];
    const onA: Update[] = [];
    c.hs.subscribe((u) => onC.push(u));
    a.hs.subscribe((u) => onA.push(u));

    const sealed = await a.client.sendEvent(alice, roomId, 'm.room.encrypted', { algorithm: 'm.megolm.v1.aes-sha2', ciphertext: 'AAAA', session_id: 's', sender_key: 'k', device_id: 'D' });
    const plain = await a.client.sendMessage(alice, roomId, 'after the sealed one');
    await waitFor(net, () => onC.some((u) => u.kind === 'event' && u.eventId === plain), 'c to store both');
    const told = onC.flatMap((u) => (u.kind === 'placed' ? u.eventIds : []));
    expect(told).toContain(plain);
    expect(told).not.toContain(sealed);
    expect(onA.some((u) => u.kind === 'placed')).toBe(false);
  });
});

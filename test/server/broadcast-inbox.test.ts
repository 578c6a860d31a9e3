/**
 * Room broadcasts that arrive while a server is busy wait in a per-room
 * inbox and are ingested together; beyond the inbox's bound they are shed,
 * and the senders' outboxes still deliver every event.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster } from '../../src/sim/cluster.ts';
import { converge, twoServersInRoom } from './engine-helpers.ts';

let cluster: Cluster;
afterEach(() => cluster?.stopAll());

function twoServers(opts: ConstructorParameters<typeof Cluster>[0] = {}) {
  cluster = new Cluster(opts);
  return twoServersInRoom(cluster);
}

describe('broadcast inbox', () => {
  it('broadcasts that arrive together are ingested as a batch', async () => {
    const { a, b, alice, bob, roomId } = await twoServers();
    const before = b.hs.gossipStats.batches;
    // A frozen tab: everything sent to b waits, then arrives at once.
    cluster.pause('b');
    for (let i = 0; i < 30; i++) await a.client.sendMessage(alice, roomId, `m${i}`);
    cluster.resume('b');
    await converge(cluster, roomId);
    expect(b.client.messageBodies(bob, roomId)).toEqual(Array.from({ length: 30 }, (_, i) => `m${i}`));
    expect(b.hs.gossipStats.batches - before).toBeLessThanOrEqual(3);
    expect(b.hs.gossipStats.shed).toBe(0);
  });

  it('beyond its bound the inbox sheds broadcasts, and the outbox still delivers every event', async () => {
    const { a, b, alice, bob, roomId } = await twoServers({ limits: { broadcastInbox: 5 } });
    cluster.pause('b');
    for (let i = 0; i < 20; i++) await a.client.sendMessage(alice, roomId, `m${i}`);
    cluster.resume('b');
    await converge(cluster, roomId);
    expect(b.hs.gossipStats.shed).toBeGreaterThan(0);
    expect(b.client.messageBodies(bob, roomId)).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`));
  });
});

/**
 * The outbox does not send a PDU again to a destination that demonstrably
 * holds it (its own later event descends from it), and still delivers
 * everything it cannot prove held.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster } from '../../src/sim/cluster.ts';
import { addThreeServers, converge, outboxesDrained, waitFor } from './engine-helpers.ts';

let cluster: Cluster;
afterEach(() => cluster?.stopAll());

async function threeServers() {
  cluster = new Cluster();
  const { a, b, c, alice, bob, carol } = await addThreeServers(cluster);
  const roomId = await a.client.createRoom(alice, { preset: 'public_chat' });
  await b.client.join(bob, roomId, [a.hs.serverName]);
  await c.client.join(carol, roomId, [a.hs.serverName]);
  await converge(cluster, roomId);
  await outboxesDrained(cluster);
  return { a, b, c, alice, bob, carol, roomId };
}

describe('outbox: PDUs the destination already holds', () => {
  it('an event the destination has built on is acknowledged without being sent again', async () => {
    const { a, b, c, alice, bob, carol, roomId } = await threeServers();
    // a cannot reach b (b still reaches a): a's event waits in a's outbox for b.
    cluster.net.cut(a.hs.serverName, b.hs.serverName, true);
    const e1 = await a.client.sendMessage(alice, roomId, 'from a');
    expect(a.hs.outbox.depth()[b.hs.serverName]).toBe(1);
    // b gets it another way: c builds on it, and b fetches the missing prev from c.
    await waitFor(cluster, () => c.hs.rooms.get(roomId)!.isDagNode(e1), 'c to receive e1');
    await c.client.sendMessage(carol, roomId, 'from c');
    await waitFor(cluster, () => b.hs.rooms.get(roomId)!.isDagNode(e1), 'b to fetch e1 through c');
    // b's own next event descends from e1, and it reaches a.
    const e3 = await b.client.sendMessage(bob, roomId, 'from b');
    await waitFor(cluster, () => a.hs.rooms.get(roomId)!.isDagNode(e3), 'a to receive b’s event');
    const room = a.hs.rooms.get(roomId)!;
    expect([...room.heldBy(b.hs.serverName, [e1])]).toEqual([e1]);
    // An event of a that b has not built on is not taken as held.
    const e4 = await a.client.sendMessage(alice, roomId, 'later from a');
    expect([...room.heldBy(b.hs.serverName, [e1, e4])]).toEqual([e1]);
    cluster.net.heal(a.hs.serverName, b.hs.serverName, true);
    await waitFor(cluster, () => a.hs.outbox.totalPending() === 0, 'a to drain its outbox');
    expect(a.hs.outbox.stats.pdusSkipped).toBeGreaterThanOrEqual(1);
    await converge(cluster, roomId);
    expect(b.client.messageBodies(bob, roomId)).toEqual(expect.arrayContaining(['from a', 'later from a']));
  });

  it('what the destination has not built on is still delivered after a partition', async () => {
    const { a, b, alice, bob, roomId } = await threeServers();
    cluster.partition([['a', 'c'], ['b']]);
    const e1 = await a.client.sendMessage(alice, roomId, 'from a during the partition');
    await b.client.sendMessage(bob, roomId, 'from b during the partition');
    // Nothing b created descends from e1.
    expect(a.hs.rooms.get(roomId)!.heldBy(b.hs.serverName, [e1]).size).toBe(0);
    cluster.healAll();
    await converge(cluster, roomId);
    await waitFor(cluster, () => a.hs.outbox.totalPending() === 0, 'a to drain its outbox');
    expect(b.client.messageBodies(bob, roomId)).toContain('from a during the partition');
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { Cluster } from '../../src/sim/cluster.ts';
import { expectRefused } from './engine-helpers.ts';

let cluster: Cluster;
afterEach(async () => cluster?.stopAll());

describe('a local event too large for the network', () => {
  it('is refused with M_TOO_LARGE before anything is stored or queued, for messages and state alike', async () => {
    cluster = new Cluster();
    const a = await cluster.add('a');
    const b = await cluster.add('b');
    const alice = await a.hs.register('alice');
    const bob = await b.hs.register('bob');
    const roomId = await a.client.createRoom(alice, { preset: 'public_chat' });
    await b.client.join(bob, roomId, [a.hs.serverName]);
    const before = a.client.acceptedEventIds(roomId);
    const outboxBefore = a.hs.outbox.depth();
    await expectRefused(a.client.sendMessage(alice, roomId, 'x'.repeat(70_000)), 'M_TOO_LARGE', /limited to 65536 bytes/);
    await expectRefused(a.client.setState(alice, roomId, 'm.room.topic', '', { topic: 'y'.repeat(70_000) }), 'M_TOO_LARGE');
    expect(a.client.acceptedEventIds(roomId)).toEqual(before);
    expect(a.hs.outbox.depth()).toEqual(outboxBefore);
    // The room still works, and a message just under the limit goes through to the peer.
    const ok = await a.client.sendMessage(alice, roomId, 'z'.repeat(60_000));
    await cluster.until(() => b.client.acceptedEventIds(roomId).includes(ok), 5000);
  });
});

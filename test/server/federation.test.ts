import { afterEach, describe, expect, it } from 'vitest';
import { Cluster } from '../../src/sim/cluster.ts';

let net: Cluster;
afterEach(async () => net?.stopAll());

describe('two servers in process', () => {
  it('a public room: remote join, messages both ways, convergence', async () => {
    net = new Cluster();
    const a = await net.add('a');
    const b = await net.add('b');
    const alice = await a.hs.register('alice', 'Alice');
    const bob = await b.hs.register('bob', 'Bob');
    const roomId = await a.client.createRoom(alice, { preset: 'public_chat', name: 'Lobby' });
    await a.client.sendMessage(alice, roomId, 'hello before bob');
    await b.client.join(bob, roomId, [a.hs.serverName]);
    expect(b.client.membership(bob, roomId)).toBe('join');
    await a.client.sendMessage(alice, roomId, 'hi bob');
    // Bob answers what he has read: both servers then agree on the order.
    await net.until(() => b.client.messageBodies(bob, roomId).includes('hi bob'));
    await b.client.sendMessage(bob, roomId, 'hi alice');
    await net.until(() => net.converged(roomId), 5000, () => 'convergence');
    await net.until(() => b.client.messageBodies(bob, roomId).length === 3);
    expect(a.client.messageBodies(alice, roomId)).toEqual(b.client.messageBodies(bob, roomId));
    expect(b.client.messageBodies(bob, roomId)).toContain('hello before bob');
    expect(b.client.state(roomId)['m.room.name']?.['']).toEqual({ name: 'Lobby' });
  });
});

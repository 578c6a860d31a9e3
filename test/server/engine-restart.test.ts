/**
 * Crash and restart without loss: a crashed server restarts from its
 * IndexedDB with the same identity, accounts and rooms, catches up with what
 * it missed, and delivers the outbox entries it queued while its peers were
 * unreachable.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster } from '../../src/sim/cluster.ts';
import { converge, waitFor } from './engine-helpers.ts';

let cluster: Cluster;
afterEach(() => cluster?.stopAll());

describe('crash and restart', () => {
  it('a restarted server keeps its identity, accounts and rooms, catches up, and drains its outbox', async () => {
    cluster = new Cluster();
    const a = await cluster.add('a');
    let b = await cluster.add('b');
    const c = await cluster.add('c');
    const alice = await a.hs.register('alice');
    const bob = await b.hs.register('bob', 'Bob');
    const carol = await c.hs.register('carol');
    const roomId = await a.client.createRoom(alice, { preset: 'public_chat', name: 'Durable' });
    await b.client.join(bob, roomId, [a.hs.serverName]);
    await c.client.join(carol, roomId, [a.hs.serverName]);
    await a.client.sendMessage(alice, roomId, 'one');
    // Bob answers what he has read, so every server holds the two in this order.
    await waitFor(cluster, () => b.client.messageBodies(bob, roomId).includes('one'), 'b to receive one');
    await b.client.sendMessage(bob, roomId, 'two');
    await converge(cluster, roomId);
    const nameB = b.hs.serverName;
    const seedB = [...b.hs.identity.seed];

    // b loses its peers, keeps talking (queued in its durable outbox), then crashes.
    cluster.net.partition([[nameB], [a.hs.serverName, c.hs.serverName]]);
    await b.client.sendMessage(bob, roomId, 'queued while alone 1');
    await b.client.sendMessage(bob, roomId, 'queued while alone 2');
    expect(b.hs.outbox.depth()[a.hs.serverName]).toBeGreaterThan(0);
    expect(b.hs.outbox.depth()[c.hs.serverName]).toBeGreaterThan(0);
    await cluster.crash('b');

    // the others keep talking while b is down
    await a.client.sendMessage(alice, roomId, 'while b was down');
    await c.client.sendMessage(carol, roomId, 'carol too');
    await converge(cluster, roomId, ['a', 'c']);

    b = await cluster.restart('b');
    expect(b.hs.serverName).toBe(nameB);
    expect([...b.hs.identity.seed]).toEqual(seedB);
    expect(b.hs.accounts.get(bob)?.display_name).toBe('Bob');
    expect(b.client.membership(bob, roomId)).toBe('join');
    expect((await b.client.rooms(bob)).map((r) => r.name)).toEqual(['Durable']);
    expect(b.client.messageBodies(bob, roomId)).toEqual(['one', 'two', 'queued while alone 1', 'queued while alone 2']);
    // its queued entries survived the crash
    expect(b.hs.outbox.depth()[a.hs.serverName]).toBeGreaterThan(0);

    cluster.net.healAll();
    await converge(cluster, roomId);
    const all = ['one', 'two', 'queued while alone 1', 'queued while alone 2', 'while b was down', 'carol too'].sort();
    expect(a.client.messageBodies(alice, roomId).sort()).toEqual(all);
    expect(b.client.messageBodies(bob, roomId).sort()).toEqual(all);
    expect(c.client.messageBodies(carol, roomId).sort()).toEqual(all);
    await waitFor(cluster, () => b.hs.outbox.totalPending() === 0, 'b to drain its outbox');
    // and it still works: a new message reaches everyone
    await b.client.sendMessage(bob, roomId, 'after restart');
    await converge(cluster, roomId);
    await waitFor(cluster, () => a.client.messageBodies(alice, roomId).includes('after restart'), 'a to get the new message');
  });

  it('a server crashed while others queue for it gets everything when it comes back', async () => {
    cluster = new Cluster();
    const a = await cluster.add('a');
    await cluster.add('b');
    const alice = await a.hs.register('alice');
    const bob = await cluster.get('b').hs.register('bob');
    const roomId = await a.client.createRoom(alice, { preset: 'public_chat' });
    await cluster.get('b').client.join(bob, roomId, [a.hs.serverName]);
    await converge(cluster, roomId);
    await cluster.crash('b');
    for (let i = 0; i < 5; i++) await a.client.sendMessage(alice, roomId, `m${i}`);
    await a.client.setState(alice, roomId, 'm.room.topic', '', { topic: 'changed while b was down' });
    expect(a.hs.outbox.depth()[cluster.name('b')]).toBeGreaterThan(0);
    const b = await cluster.restart('b');
    await converge(cluster, roomId);
    expect(b.client.messageBodies(bob, roomId)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    expect(b.client.state(roomId)['m.room.topic']?.['']).toEqual({ topic: 'changed while b was down' });
    await waitFor(cluster, () => a.hs.outbox.totalPending() === 0, 'a to drain its outbox');
  });

  it('a restart keeps a pending invite, and the room state on the inviting server', async () => {
    cluster = new Cluster();
    const a = await cluster.add('a');
    let b = await cluster.add('b');
    const alice = await a.hs.register('alice');
    const bob = await b.hs.register('bob');
    const roomId = await a.client.createRoom(alice, { preset: 'private_chat', name: 'Invite only' });
    await a.client.invite(alice, roomId, bob);
    await cluster.crash('b');
    b = await cluster.restart('b');
    expect((await b.client.rooms(bob)).find((r) => r.roomId === roomId)?.membership).toBe('invite');
    await b.client.join(bob, roomId);
    await converge(cluster, roomId);
    const stateBefore = JSON.stringify(a.client.stateIds(roomId));
    await cluster.crash('a');
    const a2 = await cluster.restart('a');
    expect(JSON.stringify(a2.client.stateIds(roomId))).toBe(stateBefore);
    await a2.client.sendMessage(alice, roomId, 'still here');
    await converge(cluster, roomId);
    expect(b.client.messageBodies(bob, roomId)).toEqual(['still here']);
  });

  it('a backlog larger than one transaction (50 PDUs) is delivered in order after a restart', async () => {
    cluster = new Cluster();
    const a = await cluster.add('a');
    await cluster.add('b');
    const alice = await a.hs.register('alice');
    const bob = await cluster.get('b').hs.register('bob');
    const roomId = await a.client.createRoom(alice, { preset: 'public_chat' });
    await cluster.get('b').client.join(bob, roomId, [a.hs.serverName]);
    await converge(cluster, roomId);
    await cluster.crash('b');
    const n = 120;
    for (let i = 0; i < n; i++) await a.client.sendMessage(alice, roomId, `m${i}`);
    expect(a.hs.outbox.depth()[cluster.name('b')]).toBe(n);
    const b = await cluster.restart('b');
    await converge(cluster, roomId, undefined, 8000);
    expect(b.client.messageBodies(bob, roomId)).toEqual(Array.from({ length: n }, (_, i) => `m${i}`));
    await waitFor(cluster, () => a.hs.outbox.totalPending() === 0, 'a to drain its outbox');
  });
});

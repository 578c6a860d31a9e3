/**
 * Room version 12 in the engine: a room whose ID is its create event's
 * reference hash, created on one server and joined from another, with the
 * creator's infinite power and no create event among auth_events.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster } from '../../src/sim/cluster.ts';
import { addThreeServers, converge, expectRefused, waitFor } from './engine-helpers.ts';

let cluster: Cluster;
afterEach(() => cluster?.stopAll());

describe('room version 12 across two servers', () => {
  it('creates a room named by its create event, joins it remotely and converges', async () => {
    cluster = new Cluster();
    const a = await cluster.add('a');
    const b = await cluster.add('b');
    const alice = await a.hs.register('alice');
    const bob = await b.hs.register('bob');
    const roomId = await a.client.createRoom(alice, { roomVersion: '12', preset: 'public_chat' });
    expect(roomId).toMatch(/^![A-Za-z0-9_-]{43}$/);
    // The room ID names no server: joining needs one to go through.
    await b.client.join(bob, roomId, [a.hs.serverName]);
    await converge(cluster, roomId);
    const createId = `$${roomId.slice(1)}`;
    const ids = a.client.stateIds(roomId);
    expect(ids['m.room.create']).toEqual({ '': createId });
    expect(b.client.stateIds(roomId)['m.room.create']).toEqual({ '': createId });
    await b.client.sendMessage(bob, roomId, 'hello from b');
    await a.client.sendMessage(alice, roomId, 'hello from a');
    await converge(cluster, roomId);
    expect(b.client.messageBodies(bob, roomId)).toEqual(['hello from b', 'hello from a']);
    // No event cites the create event; the creator is not listed in the power levels.
    const room = a.hs.requireRoom(roomId);
    for (const id of a.client.acceptedEventIds(roomId)) {
      const ev = room.get(id)!;
      expect(ev.auth_events).not.toContain(createId);
      if (ev.type === 'm.room.create') expect('room_id' in ev).toBe(false);
      if (ev.type === 'm.room.power_levels') expect(Object.keys((ev.content.users ?? {}) as object)).not.toContain(alice);
    }
  });
});

describe('room version 12: a partition race against the creator', () => {
  it('the creator’s demotion of an admin beats the admin’s concurrent promotion, on every server', async () => {
    cluster = new Cluster();
    const { a, b, c, alice, bob, carol } = await addThreeServers(cluster);
    const roomId = await a.client.createRoom(alice, { roomVersion: '12', preset: 'public_chat' });
    await b.client.join(bob, roomId, [a.hs.serverName]);
    await c.client.join(carol, roomId, [a.hs.serverName]);
    type Pl = { users: Record<string, number> };
    const pl0 = a.client.state(roomId)['m.room.power_levels']![''] as Pl;
    await a.client.setState(alice, roomId, 'm.room.power_levels', '', { ...pl0, users: { ...pl0.users, [bob]: 100 } });
    await converge(cluster, roomId);
    cluster.net.partition([[a.hs.serverName], [b.hs.serverName, c.hs.serverName]]);
    const pl1 = a.client.state(roomId)['m.room.power_levels']![''] as Pl;
    const demote = await a.client.setState(alice, roomId, 'm.room.power_levels', '', { ...pl1, users: { ...pl1.users, [bob]: 0 } });
    const promote = await b.client.setState(bob, roomId, 'm.room.power_levels', '', { ...pl1, users: { ...pl1.users, [carol]: 100 } });
    await waitFor(cluster, () => c.client.stateIds(roomId)['m.room.power_levels']?.[''] === promote, 'c to see the promotion');
    cluster.net.healAll();
    await converge(cluster, roomId);
    // Alice is a creator (infinite power): her change sorts first, and bob's, re-checked
    // after it, no longer has the power to change users (v12 rule 10.9/10.10).
    for (const srv of [a, b, c]) {
      expect(srv.client.stateIds(roomId)['m.room.power_levels']!['']).toBe(demote);
      expect(srv.client.acceptedEventIds(roomId)).toContain(promote);
    }
  });
});

describe('room version 12: creator power as the engine reports it', () => {
  it('members() gives creators Infinity and others their listed level; a power levels event listing a creator is refused before it is built', async () => {
    cluster = new Cluster();
    const { a, b, alice, bob } = await addThreeServers(cluster);
    const roomId = await a.client.createRoom(alice, { roomVersion: '12', preset: 'public_chat' });
    await b.client.join(bob, roomId, [a.hs.serverName]);
    await converge(cluster, roomId, ['a', 'b']);
    expect(a.client.creators(roomId)).toEqual([alice]);
    for (const srv of [a, b]) {
      const levels = Object.fromEntries(srv.client.members(roomId).map((m) => [m.userId, m.powerLevel]));
      expect(levels).toEqual({ [alice]: Number.POSITIVE_INFINITY, [bob]: 0 });
    }
    const pl = a.client.state(roomId)['m.room.power_levels']![''] as { users: Record<string, number> };
    const before = a.client.acceptedEventIds(roomId).length;
    const err = await expectRefused(
      a.client.setState(alice, roomId, 'm.room.power_levels', '', { ...pl, users: { ...pl.users, [alice]: 100 } }),
      'M_INVALID_PARAM',
      /creators .*may not be listed/,
    );
    expect(err.message).toContain(alice);
    expect(a.client.acceptedEventIds(roomId).length).toBe(before);
    // Listing someone else is an ordinary change.
    await a.client.setState(alice, roomId, 'm.room.power_levels', '', { ...pl, users: { ...pl.users, [bob]: 50 } });
    expect(a.client.members(roomId).find((m) => m.userId === bob)?.powerLevel).toBe(50);
  });

  it('before v12 the creator is an ordinary user with the level the power levels give (and no creators are reported)', async () => {
    cluster = new Cluster();
    const a = await cluster.add('a');
    const alice = await a.hs.register('alice');
    const roomId = await a.client.createRoom(alice, { roomVersion: '11' });
    expect(a.client.creators(roomId)).toEqual([]);
    expect(a.client.members(roomId)).toEqual([expect.objectContaining({ userId: alice, powerLevel: 100 })]);
  });
});

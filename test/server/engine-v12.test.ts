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

describe('room version 12: membership and power races across a partition', () => {
  /** A public v12 room alice created on a, with bob (b: level 100, or an additional creator) and carol (c) joined; converged. */
  async function roomWithAdminBob(bobCreator = false) {
    cluster = new Cluster();
    const s = await addThreeServers(cluster);
    const creationContent = bobCreator ? { additional_creators: [s.bob] } : undefined;
    const roomId = await s.a.client.createRoom(s.alice, { roomVersion: '12', preset: 'public_chat', ...(creationContent ? { creationContent } : {}) });
    await s.b.client.join(s.bob, roomId, [s.a.hs.serverName]);
    await s.c.client.join(s.carol, roomId, [s.a.hs.serverName]);
    if (!creationContent) {
      const pl = s.a.client.state(roomId)['m.room.power_levels']![''] as { users: Record<string, number> };
      await s.a.client.setState(s.alice, roomId, 'm.room.power_levels', '', { ...pl, users: { ...pl.users, [s.bob]: 100 } });
    }
    await converge(cluster, roomId);
    return { ...s, roomId };
  }

  it('the creator bans an admin while the admin kicks a member on the other side: the ban wins and the kick is undone, everywhere', async () => {
    const { a, b, c, alice, bob, carol, roomId } = await roomWithAdminBob();
    // An admin cannot touch the creator even with the top integer level.
    await expectRefused(b.client.ban(bob, roomId, alice), 'M_FORBIDDEN');
    cluster.net.partition([[a.hs.serverName], [b.hs.serverName, c.hs.serverName]]);
    await a.client.ban(alice, roomId, bob);
    await b.client.setState(bob, roomId, 'm.room.topic', '', { topic: 'bob was here' });
    // (Kicked last: c, left without a member on its side, gets nothing sent after the kick until it
    // is back in the room — what b sends meanwhile does not reach it even after the heal.)
    await b.client.kick(bob, roomId, carol);
    await waitFor(cluster, () => c.client.membership(carol, roomId) === 'leave', 'c to see the kick');
    cluster.net.healAll();
    await converge(cluster, roomId, undefined, 15_000);
    // The creator's ban sorts first; bob's kick and topic, re-checked after it, fail (he is banned).
    for (const srv of [a, b, c]) {
      expect(srv.client.membership(bob, roomId)).toBe('ban');
      expect(srv.client.membership(carol, roomId)).toBe('join');
      expect(srv.client.state(roomId)['m.room.topic']).toBeUndefined();
      expect(srv.client.stateIds(roomId)).toEqual(a.client.stateIds(roomId));
    }
  });

  it('two creators change the power levels on both sides at once: both are above everyone, the servers agree on one', async () => {
    const { a, b, c, alice, bob, carol, roomId } = await roomWithAdminBob(true);
    expect(a.client.creators(roomId).sort()).toEqual([alice, bob].sort());
    cluster.net.partition([[a.hs.serverName], [b.hs.serverName, c.hs.serverName]]);
    const pl = a.client.state(roomId)['m.room.power_levels']![''] as { users: Record<string, number>; state_default: number };
    const byAlice = await a.client.setState(alice, roomId, 'm.room.power_levels', '', { ...pl, users: { [carol]: 50 } });
    const byBob = await b.client.setState(bob, roomId, 'm.room.power_levels', '', { ...pl, state_default: 100 });
    // Neither creator can demote or ban the other.
    await expectRefused(b.client.ban(bob, roomId, alice), 'M_FORBIDDEN');
    cluster.net.healAll();
    await converge(cluster, roomId, undefined, 15_000);
    const winner = a.client.stateIds(roomId)['m.room.power_levels']!['']!;
    expect([byAlice, byBob]).toContain(winner);
    for (const srv of [a, b, c]) {
      expect(srv.client.stateIds(roomId)).toEqual(a.client.stateIds(roomId));
      expect(srv.client.acceptedEventIds(roomId)).toEqual(expect.arrayContaining([byAlice, byBob]));
      expect(srv.client.members(roomId).filter((m) => m.powerLevel === Number.POSITIVE_INFINITY).map((m) => m.userId).sort()).toEqual([alice, bob].sort());
    }
  });
});

/**
 * Room upgrades in the engine: every pair of supported versions, what the
 * new room's create event and state carry, the tombstone, the old room's
 * restricted power levels, refusals, and following the upgrade from another
 * server — also when the upgrade happened on the other side of a partition.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SUPPORTED_ROOM_VERSIONS } from '../../src/core/room-versions/registry.ts';
import { Cluster } from '../../src/sim/cluster.ts';
import { addThreeServers, converge, expectRefused, waitFor } from './engine-helpers.ts';

let cluster: Cluster;
afterEach(() => cluster?.stopAll());

type Pl = { users?: Record<string, number>; events_default?: number; invite?: number; events?: Record<string, number> };

describe('upgrading a room, for every pair of room versions', () => {
  for (const from of SUPPORTED_ROOM_VERSIONS) {
    for (const to of SUPPORTED_ROOM_VERSIONS) {
      it(`${from} → ${to}`, async () => {
        cluster = new Cluster();
        const a = await cluster.add('a');
        const b = await cluster.add('b');
        const alice = await a.hs.register('alice');
        const bob = await b.hs.register('bob');
        const old = await a.client.createRoom(alice, { roomVersion: from, preset: 'private_chat', name: 'Kitchen', topic: 'recipes' });
        await a.client.setState(alice, old, 'm.room.avatar', '', { url: 'mxc://a/avatar' });
        await a.client.setState(alice, old, 'm.room.guest_access', '', { guest_access: 'can_join' });
        await a.client.setState(alice, old, 'm.room.encryption', '', { algorithm: 'm.megolm.v1.aes-sha2' });
        await a.client.setState(alice, old, 'm.room.server_acl', '', { allow: ['*'], deny: ['evil.example'], allow_ip_literals: false });
        const pl0 = a.client.state(old)['m.room.power_levels']![''] as Pl;
        await a.client.setState(alice, old, 'm.room.power_levels', '', { ...pl0, users: { ...pl0.users, [bob]: 40 }, events: { ...pl0.events, 'm.room.topic': 75 } });
        await a.client.invite(alice, old, bob);
        await b.client.join(bob, old, [a.hs.serverName]);
        await a.client.sendMessage(alice, old, 'before the upgrade');
        await converge(cluster, old);

        const result = await a.client.upgradeRoom(alice, old, to);
        const neu = result.replacementRoom;
        expect(result.invited).toEqual([bob]);
        expect(result.notInvited).toEqual([]);
        expect(result.oldRoomRestricted).toBe(true);
        if (to === '12') expect(neu).toMatch(/^![A-Za-z0-9_-]{43}$/);
        else expect(neu.endsWith(`:${a.hs.serverName}`)).toBe(true);

        // The new room: its version, the predecessor (with event_id before v12 only), the copied state.
        const state = a.client.state(neu);
        const create = state['m.room.create']![''] as { room_version: string; predecessor: { room_id: string; event_id?: string } };
        expect(create.room_version).toBe(to);
        expect(create.predecessor.room_id).toBe(old);
        if (to === '12') expect(create.predecessor.event_id).toBeUndefined();
        else expect(a.hs.requireRoom(old).get(create.predecessor.event_id!)).toBeDefined();
        expect(state['m.room.name']!['']).toEqual({ name: 'Kitchen' });
        expect(state['m.room.topic']!['']).toEqual({ topic: 'recipes' });
        expect(state['m.room.avatar']!['']).toEqual({ url: 'mxc://a/avatar' });
        expect(state['m.room.guest_access']!['']).toEqual({ guest_access: 'can_join' });
        expect(state['m.room.encryption']!['']).toEqual({ algorithm: 'm.megolm.v1.aes-sha2' });
        expect(state['m.room.server_acl']!['']).toMatchObject({ deny: ['evil.example'] });
        expect(state['m.room.join_rules']!['']).toEqual({ join_rule: 'invite' });
        expect(state['m.room.history_visibility']!['']).toEqual({ history_visibility: 'shared' });
        const pl = state['m.room.power_levels']![''] as Pl;
        expect(pl.events?.['m.room.topic']).toBe(75);
        expect(pl.users?.[bob]).toBe(40);
        // The upgrader can act in the new room: a creator in v12, the top level before.
        if (to === '12') {
          expect(pl.users?.[alice]).toBeUndefined();
          expect(a.client.creators(neu)).toEqual([alice]);
        } else expect(pl.users?.[alice]).toBe(100);
        expect(a.client.members(neu).find((m) => m.userId === alice)!.powerLevel).toBeGreaterThanOrEqual(100);
        expect(a.client.membership(bob, neu)).toBe('invite');

        // The old room: the tombstone, and members can no longer talk there.
        await converge(cluster, old);
        for (const srv of [a, b]) {
          expect(srv.client.state(old)['m.room.tombstone']!['']).toEqual({ body: 'This room has been replaced', replacement_room: neu });
          const restricted = srv.client.state(old)['m.room.power_levels']![''] as Pl;
          expect(restricted.events_default).toBe(50);
          expect(restricted.invite).toBe(50);
        }
        await expectRefused(b.client.sendMessage(bob, old, 'still here?'), 'M_FORBIDDEN');
        const summary = (await b.client.rooms(bob)).find((r) => r.roomId === old)!;
        expect(summary.replacement).toEqual({ roomId: neu, via: [a.hs.serverName] });

        // Bob follows: his server joins the new room through the tombstone's sender.
        expect(await b.client.followUpgrade(bob, old)).toBe(neu);
        await converge(cluster, neu);
        expect(b.client.membership(bob, neu)).toBe('join');
        expect((await b.client.rooms(bob)).find((r) => r.roomId === neu)?.predecessor).toBe(old);
        await b.client.sendMessage(bob, neu, 'in the new room');
        await converge(cluster, neu);
        expect(a.client.messageBodies(alice, neu)).toEqual(['in the new room']);
      });
    }
  }
});

/** A v12 room alice (its creator) made on a, with bob from b joined at level 100. */
async function v12RoomWithAdminBob() {
  cluster = new Cluster();
  const { a, b, alice, bob } = await addThreeServers(cluster);
  const old = await a.client.createRoom(alice, { roomVersion: '12', preset: 'public_chat' });
  await b.client.join(bob, old, [a.hs.serverName]);
  const pl0 = a.client.state(old)['m.room.power_levels']![''] as Pl;
  await a.client.setState(alice, old, 'm.room.power_levels', '', { ...pl0, users: { [bob]: 100 } });
  await converge(cluster, old, ['a', 'b']);
  return { a, b, alice, bob, old };
}

describe('upgrade refusals and edge cases', () => {
  it('refuses an unknown version and a member without the power to send a tombstone; no room is made', async () => {
    cluster = new Cluster();
    const a = await cluster.add('a');
    const alice = await a.hs.register('alice');
    const bob = await a.hs.register('bob');
    const old = await a.client.createRoom(alice, { preset: 'public_chat' });
    await a.client.join(bob, old);
    const before = a.hs.rooms.size;
    await expectRefused(a.client.upgradeRoom(alice, old, '99'), 'M_UNSUPPORTED_ROOM_VERSION', /99/);
    await expectRefused(a.client.upgradeRoom(bob, old, '11'), 'M_FORBIDDEN', /m\.room\.tombstone needs power 100/);
    expect(a.hs.rooms.size).toBe(before);
    expect(a.client.state(old)['m.room.tombstone']).toBeUndefined();
  });

  it('v12 → v12 with additional creators: they are creators of the new room and not listed in its power levels', async () => {
    const { a, b, alice, bob, old } = await v12RoomWithAdminBob();
    // Bob (100, not a creator) upgrades and names alice an additional creator.
    const { replacementRoom: neu } = await b.client.upgradeRoom(bob, old, '12', { additionalCreators: [alice] });
    expect(b.client.creators(neu).sort()).toEqual([alice, bob].sort());
    const pl = b.client.state(neu)['m.room.power_levels']![''] as Pl;
    expect(pl.users).toEqual({});
    await a.client.followUpgrade(alice, old);
    await converge(cluster, neu, ['a', 'b']);
    expect(a.client.members(neu).every((m) => m.powerLevel === Number.POSITIVE_INFINITY)).toBe(true);
  });

  it('v12 → 11: the old room’s creator, infinite there, gets the top level in the new room', async () => {
    const { b, alice, bob, old } = await v12RoomWithAdminBob();
    const { replacementRoom: neu } = await b.client.upgradeRoom(bob, old, '11');
    const pl = b.client.state(neu)['m.room.power_levels']![''] as Pl;
    expect(pl.users).toEqual({ [alice]: 100, [bob]: 100 });
  });
});

describe('an upgrade across a partition', () => {
  it('happens on one side; the other side heals, sees the tombstone and follows to the new room', async () => {
    cluster = new Cluster();
    const { a, b, c, alice, bob, carol } = await addThreeServers(cluster);
    const old = await a.client.createRoom(alice, { roomVersion: '11', preset: 'public_chat', name: 'Town square' });
    await b.client.join(bob, old, [a.hs.serverName]);
    await c.client.join(carol, old, [a.hs.serverName]);
    await converge(cluster, old);
    cluster.net.partition([[a.hs.serverName, b.hs.serverName], [c.hs.serverName]]);
    // Carol keeps talking in the old room, unaware; alice upgrades on her side.
    const unaware = await c.client.sendMessage(carol, old, 'anyone there?');
    const result = await a.client.upgradeRoom(alice, old, '12');
    const neu = result.replacementRoom;
    // Bob is reachable and invited; carol's server is not, so her invite fails — she can still follow (public room).
    expect(result.invited).toEqual([bob]);
    expect(result.notInvited.map((n) => n.userId)).toEqual([carol]);
    await b.client.followUpgrade(bob, old);
    expect(c.client.state(old)['m.room.tombstone']).toBeUndefined();
    cluster.net.healAll();
    await converge(cluster, old);
    // After the heal every server has the tombstone; carol's message, sent before she knew, is in
    // every server's copy of the old room (soft-failed against the restricted power levels).
    for (const srv of [a, b, c]) {
      expect(srv.client.state(old)['m.room.tombstone']!['']!.replacement_room).toBe(neu);
      expect(srv.client.acceptedEventIds(old)).toContain(unaware);
    }
    const summary = (await c.client.rooms(carol)).find((r) => r.roomId === old)!;
    expect(summary.replacement?.roomId).toBe(neu);
    expect(await c.client.followUpgrade(carol, old)).toBe(neu);
    await converge(cluster, neu);
    for (const srv of [a, b, c]) expect(srv.client.members(neu).filter((m) => m.membership === 'join').map((m) => m.userId).sort()).toEqual([alice, bob, carol].sort());
    await c.client.sendMessage(carol, neu, 'found you');
    await waitFor(cluster, () => a.client.messageBodies(alice, neu).includes('found you'), 'a to see carol in the new room');
  });
});

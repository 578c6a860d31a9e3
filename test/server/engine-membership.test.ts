/**
 * Every membership transition across servers (Server-Server API: joins,
 * invites, knocks, leaves; auth rules 4.x), for room versions 10, 11 and I.1.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster, type ClusterServer } from '../../src/sim/cluster.ts';
import { ROOM_VERSIONS, converge, expectRefused, waitFor } from './engine-helpers.ts';

let cluster: Cluster;
afterEach(() => cluster?.stopAll());

async function twoServers(): Promise<{ a: ClusterServer; b: ClusterServer; alice: string; bob: string }> {
  cluster = new Cluster();
  const a = await cluster.add('a');
  const b = await cluster.add('b');
  const alice = await a.hs.register('alice', 'Alice');
  const bob = await b.hs.register('bob', 'Bob');
  return { a, b, alice, bob };
}

describe.each(ROOM_VERSIONS)('membership across servers, room version %s', (version) => {
  it('invite → accept: bob joins remotely through the inviter', async () => {
    const { a, b, alice, bob } = await twoServers();
    const roomId = await a.client.createRoom(alice, { roomVersion: version, preset: 'private_chat', name: 'Private' });
    await a.client.invite(alice, roomId, bob);
    expect(a.client.membership(bob, roomId)).toBe('invite');
    const rooms = await b.client.rooms(bob);
    expect(rooms.find((r) => r.roomId === roomId)).toMatchObject({ membership: 'invite', name: 'Private', inviter: alice });
    await b.client.join(bob, roomId);
    expect(b.client.membership(bob, roomId)).toBe('join');
    await waitFor(cluster, () => a.client.membership(bob, roomId) === 'join', 'a to see bob joined');
    await b.client.sendMessage(bob, roomId, 'thanks for the invite');
    await converge(cluster, roomId);
    expect(a.client.messageBodies(alice, roomId)).toEqual(['thanks for the invite']);
    // the invite is no longer pending once joined
    expect((await b.client.rooms(bob)).filter((r) => r.roomId === roomId).map((r) => r.membership)).toEqual(['join']);
  });

  it('invite → reject: a remote leave through make_leave/send_leave; the inviter sees leave', async () => {
    const { a, b, alice, bob } = await twoServers();
    const roomId = await a.client.createRoom(alice, { roomVersion: version, preset: 'private_chat' });
    await a.client.invite(alice, roomId, bob);
    await waitFor(cluster, () => a.client.membership(bob, roomId) === 'invite', 'invite on a');
    await b.client.leave(bob, roomId);
    expect(a.client.membership(bob, roomId)).toBe('leave');
    const leave = a.client.members(roomId).find((m) => m.userId === bob);
    expect(leave?.membership).toBe('leave');
    // bob's server holds no pending invite any more
    expect((await b.client.rooms(bob)).some((r) => r.roomId === roomId)).toBe(false);
    // and cannot join without a new invite
    await expectRefused(b.client.join(bob, roomId), 'M_FORBIDDEN');
  });

  it('public join, then join → leave', async () => {
    const { a, b, alice, bob } = await twoServers();
    const roomId = await a.client.createRoom(alice, { roomVersion: version, preset: 'public_chat' });
    await a.client.sendMessage(alice, roomId, 'before');
    await b.client.join(bob, roomId);
    await converge(cluster, roomId);
    expect(a.client.membership(bob, roomId)).toBe('join');
    expect(b.client.messageBodies(bob, roomId)).toEqual(['before']);
    await b.client.leave(bob, roomId, 'bye');
    await waitFor(cluster, () => a.client.membership(bob, roomId) === 'leave', 'a to see bob leave');
    expect(b.client.membership(bob, roomId)).toBe('leave');
    await converge(cluster, roomId);
    // leaving twice is refused with a clear message
    await expectRefused(b.client.leave(bob, roomId), 'M_FORBIDDEN', /not in/);
  });

  it('knock (join rule knock) → invite → join', async () => {
    const { a, b, alice, bob } = await twoServers();
    const roomId = await a.client.createRoom(alice, { roomVersion: version, preset: 'private_chat', joinRule: 'knock', name: 'Door' });
    await b.client.knock(bob, roomId, [], 'let me in');
    await waitFor(cluster, () => a.client.membership(bob, roomId) === 'knock', 'a to see the knock');
    expect((await b.client.rooms(bob)).find((r) => r.roomId === roomId)?.membership).toBe('knock');
    await a.client.invite(alice, roomId, bob);
    await b.client.join(bob, roomId);
    expect(b.client.membership(bob, roomId)).toBe('join');
    await waitFor(cluster, () => a.client.membership(bob, roomId) === 'join', 'a to see bob join');
    await converge(cluster, roomId);
  });

  it('knock → withdraw (remote leave)', async () => {
    const { a, b, alice, bob } = await twoServers();
    const roomId = await a.client.createRoom(alice, { roomVersion: version, preset: 'private_chat', joinRule: 'knock' });
    await b.client.knock(bob, roomId);
    await waitFor(cluster, () => a.client.membership(bob, roomId) === 'knock', 'a to see the knock');
    await b.client.leave(bob, roomId);
    expect(a.client.membership(bob, roomId)).toBe('leave');
    expect((await b.client.rooms(bob)).some((r) => r.roomId === roomId)).toBe(false);
  });

  it('knock is refused when the join rule is not knock', async () => {
    const { a, b, alice, bob } = await twoServers();
    const roomId = await a.client.createRoom(alice, { roomVersion: version, preset: 'private_chat' });
    await expectRefused(b.client.knock(bob, roomId), 'M_FORBIDDEN');
    expect(a.client.membership(bob, roomId)).toBe('leave');
  });

  it('kick: the kicked user leaves on both servers', async () => {
    const { a, b, alice, bob } = await twoServers();
    const roomId = await a.client.createRoom(alice, { roomVersion: version, preset: 'public_chat' });
    await b.client.join(bob, roomId);
    await a.client.kick(alice, roomId, bob, 'out');
    await waitFor(cluster, () => b.client.membership(bob, roomId) === 'leave', 'b to see the kick');
    await converge(cluster, roomId);
    await expectRefused(b.client.sendMessage(bob, roomId, 'still here?'), 'M_FORBIDDEN');
    // a kicked user of a public room may join again
    await b.client.join(bob, roomId);
    await waitFor(cluster, () => a.client.membership(bob, roomId) === 'join', 'a to see bob rejoin');
  });

  it('ban → rejoin refused naming the ban → unban → rejoin; a banned user cannot send', async () => {
    const { a, b, alice, bob } = await twoServers();
    const roomId = await a.client.createRoom(alice, { roomVersion: version, preset: 'public_chat' });
    await b.client.join(bob, roomId);
    await a.client.ban(alice, roomId, bob, 'spam');
    await waitFor(cluster, () => b.client.membership(bob, roomId) === 'ban', 'b to see the ban');
    await expectRefused(b.client.join(bob, roomId), 'M_FORBIDDEN', /banned/);
    await expectRefused(b.client.sendMessage(bob, roomId, 'let me talk'), 'M_FORBIDDEN');
    await converge(cluster, roomId);
    expect(a.client.membership(bob, roomId)).toBe('ban');
    // a user who is not banned cannot be unbanned; a user without power cannot unban
    await expectRefused(a.client.unban(alice, roomId, alice), 'M_FORBIDDEN');
    await a.client.unban(alice, roomId, bob);
    await waitFor(cluster, () => b.client.membership(bob, roomId) === 'leave', 'b to see the unban');
    await b.client.join(bob, roomId);
    await waitFor(cluster, () => a.client.membership(bob, roomId) === 'join', 'a to see bob rejoin');
    await b.client.sendMessage(bob, roomId, 'back');
    await converge(cluster, roomId);
    expect(a.client.messageBodies(alice, roomId)).toEqual(['back']);
  });

  it('a banned user of a server that left is refused a remote rejoin naming the ban', async () => {
    const { a, b, alice, bob } = await twoServers();
    const roomId = await a.client.createRoom(alice, { roomVersion: version, preset: 'public_chat' });
    // bob never joined: banned pre-emptively, b is not in the room at all
    await a.client.ban(alice, roomId, bob);
    await expectRefused(b.client.join(bob, roomId), 'M_FORBIDDEN', /banned/);
    expect(a.client.membership(bob, roomId)).toBe('ban');
  });
});

describe.each(['10', '11'] as const)('restricted joins, room version %s', (version) => {
  it('a member of the allowed room joins via the resident server; a non-member is refused', async () => {
    cluster = new Cluster();
    const a = await cluster.add('a');
    const b = await cluster.add('b');
    const alice = await a.hs.register('alice');
    const bob = await b.hs.register('bob');
    const carol = await b.hs.register('carol');
    const space = await a.client.createRoom(alice, { roomVersion: version, preset: 'public_chat', name: 'Space' });
    await b.client.join(bob, space);
    const roomId = await a.client.createRoom(alice, { roomVersion: version, preset: 'private_chat', name: 'Members only' });
    await a.client.setState(alice, roomId, 'm.room.join_rules', '', {
      join_rule: 'restricted',
      allow: [{ type: 'm.room_membership', room_id: space }],
    });
    // carol is in no allowed room
    await expectRefused(b.client.join(carol, roomId), 'M_FORBIDDEN');
    expect(a.client.membership(carol, roomId)).toBe('leave');
    await b.client.join(bob, roomId);
    expect(b.client.membership(bob, roomId)).toBe('join');
    const join = a.client.members(roomId).find((m) => m.userId === bob);
    expect(join?.membership).toBe('join');
    const ev = a.client.event(roomId, a.client.stateIds(roomId)['m.room.member']![bob]!);
    expect((ev.event.content as { join_authorised_via_users_server?: string }).join_authorised_via_users_server).toBe(alice);
    // the join carries the authorising server's signature too
    expect(Object.keys(ev.event.signatures as object).sort()).toEqual([a.hs.serverName, b.hs.serverName].sort());
    await converge(cluster, roomId);
    // carol, now on a server in the room, is still refused (locally, by the same rule)
    await expectRefused(b.client.join(carol, roomId), 'M_FORBIDDEN');
  });
});

describe.each(['10', '11'] as const)('knock_restricted, room version %s', (version) => {
  it('a member of the allowed room joins; anyone else may knock, and joins once invited', async () => {
    cluster = new Cluster();
    const a = await cluster.add('a');
    const b = await cluster.add('b');
    const alice = await a.hs.register('alice');
    const bob = await b.hs.register('bob');
    const carol = await b.hs.register('carol');
    const space = await a.client.createRoom(alice, { roomVersion: version, preset: 'public_chat' });
    await b.client.join(bob, space);
    const roomId = await a.client.createRoom(alice, { roomVersion: version, preset: 'private_chat' });
    await a.client.setState(alice, roomId, 'm.room.join_rules', '', {
      join_rule: 'knock_restricted',
      allow: [{ type: 'm.room_membership', room_id: space }],
    });
    await expectRefused(b.client.join(carol, roomId), 'M_FORBIDDEN');
    await b.client.join(bob, roomId);
    await waitFor(cluster, () => a.client.membership(bob, roomId) === 'join', 'a to see bob join');
    // b is in the room now: carol knocks locally, alice invites, carol joins
    await b.client.knock(carol, roomId);
    await waitFor(cluster, () => a.client.membership(carol, roomId) === 'knock', 'a to see carol knock');
    await a.client.invite(alice, roomId, carol);
    await waitFor(cluster, () => b.client.membership(carol, roomId) === 'invite', 'b to see the invite');
    await b.client.join(carol, roomId);
    await converge(cluster, roomId);
    expect(a.client.membership(carol, roomId)).toBe('join');
  });
});

describe('accepting an invite while the inviter’s server is down', () => {
  it('joins through another server in the room, and the inviter catches up on restart', async () => {
    cluster = new Cluster();
    const a = await cluster.add('a');
    const b = await cluster.add('b');
    const d = await cluster.add('d');
    const alice = await a.hs.register('alice');
    const bob = await b.hs.register('bob');
    const dave = await d.hs.register('dave');
    const roomId = await a.client.createRoom(alice, { preset: 'private_chat' });
    await a.client.invite(alice, roomId, bob);
    await b.client.join(bob, roomId);
    await a.client.invite(alice, roomId, dave);
    await waitFor(cluster, () => b.client.membership(dave, roomId) === 'invite', 'b to see dave invited');
    await cluster.crash('a');
    // the inviter's server is gone: without a via, joining fails clearly
    await expectRefused(d.client.join(dave, roomId), 'M_UNAVAILABLE');
    await d.client.join(dave, roomId, [b.hs.serverName]);
    expect(d.client.membership(dave, roomId)).toBe('join');
    await d.client.sendMessage(dave, roomId, 'joined via b');
    await cluster.restart('a');
    await converge(cluster, roomId);
    expect(cluster.get('a').client.messageBodies(alice, roomId)).toEqual(['joined via b']);
  });
});

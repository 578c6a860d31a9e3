/**
 * Concurrent conflicting state on both sides of a partition: three servers,
 * [[a],[b,c]], act on both sides, heal, converge, and check that every
 * server agrees — and on what state resolution v2 says the state is.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster, type ClusterServer } from '../../src/sim/cluster.ts';
import { ROOM_VERSIONS, type ThreeServers, addThreeServers, converge, waitFor } from './engine-helpers.ts';

let cluster: Cluster;
afterEach(() => cluster?.stopAll());

interface Setup extends ThreeServers {
  roomId: string;
}

/** alice@a creates a public room with the given power levels for bob; bob@b and carol@c join. */
async function threeServers(version: string, bobLevel: number, plEventLevel = 100): Promise<Setup> {
  cluster = new Cluster();
  const { a, b, c, alice, bob, carol } = await addThreeServers(cluster);
  const roomId = await a.client.createRoom(alice, { roomVersion: version, preset: 'public_chat', topic: 'initial' });
  await b.client.join(bob, roomId);
  await c.client.join(carol, roomId);
  const pl = a.client.state(roomId)['m.room.power_levels']![''] as { users: Record<string, number>; events: Record<string, number> };
  await a.client.setState(alice, roomId, 'm.room.power_levels', '', {
    ...pl,
    users: { ...pl.users, [bob]: bobLevel },
    events: { ...pl.events, 'm.room.power_levels': plEventLevel },
  });
  await converge(cluster, roomId);
  return { a, b, c, alice, bob, carol, roomId };
}

function partition(s: Setup): void {
  cluster.net.partition([[s.a.hs.serverName], [s.b.hs.serverName, s.c.hs.serverName]]);
}

function sortKey(s: ClusterServer, roomId: string, id: string): [number, string] {
  const ev = s.client.event(roomId, id).event as { origin_server_ts: number };
  return [ev.origin_server_ts, id];
}

describe.each(ROOM_VERSIONS)('partitions, room version %s', (version) => {
  it('topic race: every server ends on the same topic, the one mainline ordering applies last', async () => {
    const s = await threeServers(version, 50);
    const { a, b, c, alice, bob, carol, roomId } = s;
    partition(s);
    const onA = await a.client.setState(alice, roomId, 'm.room.topic', '', { topic: 'from a' });
    await a.client.sendMessage(alice, roomId, 'a1');
    const onB = await b.client.setState(bob, roomId, 'm.room.topic', '', { topic: 'from b' });
    await b.client.sendMessage(bob, roomId, 'b1');
    await c.client.sendMessage(carol, roomId, 'c1');
    await converge(cluster, roomId, ['b', 'c']);
    expect(a.client.state(roomId)['m.room.topic']?.['']).toEqual({ topic: 'from a' });
    expect(c.client.state(roomId)['m.room.topic']?.['']).toEqual({ topic: 'from b' });
    cluster.net.healAll();
    await converge(cluster, roomId);
    // Neither topic is a power event and both have the same mainline position
    // (the same power levels event), so they are ordered by origin_server_ts,
    // then event ID; the last applied wins.
    const [ka, kb] = [sortKey(a, roomId, onA), sortKey(a, roomId, onB)];
    const winner = ka[0] !== kb[0] ? (ka[0] > kb[0] ? onA : onB) : ka[1] > kb[1] ? onA : onB;
    for (const srv of [a, b, c]) expect(srv.client.stateIds(roomId)['m.room.topic']?.['']).toBe(winner);
    // every message from both sides is everywhere
    for (const [srv, user] of [
      [a, alice],
      [b, bob],
      [c, carol],
    ] as const) {
      expect(srv.client.messageBodies(user, roomId).sort()).toEqual(['a1', 'b1', 'c1']);
    }
  });

  it('ban vs power-level change: the higher-powered ban is applied first and the banned sender’s change is dropped', async () => {
    // bob (90) may change power levels (event level 50); alice (100) may ban him.
    const s = await threeServers(version, 90, 50);
    const { a, b, c, alice, bob, carol, roomId } = s;
    const plBefore = a.client.stateIds(roomId)['m.room.power_levels']![''];
    partition(s);
    const ban = await a.client.ban(alice, roomId, bob, 'coup attempt');
    const pl = b.client.state(roomId)['m.room.power_levels']![''] as { users: Record<string, number> };
    const promote = await b.client.setState(bob, roomId, 'm.room.power_levels', '', { ...pl, users: { ...pl.users, [carol]: 80 } });
    await waitFor(cluster, () => c.client.members(roomId).find((m) => m.userId === carol)?.powerLevel === 80, 'c to see the promotion');
    const during = await a.client.sendMessage(alice, roomId, 'during');
    cluster.net.healAll();
    // b's only user is banned: b gets the ban and nothing after it (not 'during'), and
    // converges on the state; a and c converge on everything.
    await converge(cluster, roomId, ['a', 'c']);
    await waitFor(cluster, () => b.client.stateIds(roomId)['m.room.member']?.[bob] === ban, 'b to learn of the ban');
    await waitFor(cluster, () => JSON.stringify(b.client.stateIds(roomId)) === JSON.stringify(a.client.stateIds(roomId)), 'b to converge on the state');
    expect(b.client.acceptedEventIds(roomId)).not.toContain(during);
    // State res v2: both are power events; reverse topological power ordering
    // puts alice's ban (sender power 100) before bob's change (sender power 90).
    // Iterative auth then checks bob's change against a state where bob is
    // banned: rule 4.x "sender not joined" rejects it, so the power levels stay
    // as they were and bob stays banned.
    for (const srv of [a, b, c]) {
      expect(srv.client.membership(bob, roomId)).toBe('ban');
      expect(srv.client.stateIds(roomId)['m.room.member']![bob]).toBe(ban);
      expect(srv.client.stateIds(roomId)['m.room.power_levels']!['']).toBe(plBefore);
      expect(srv.client.members(roomId).find((m) => m.userId === carol)?.powerLevel).toBe(0);
    }
    // bob's change is still part of the replicated DAG on every server
    for (const srv of [a, b, c]) expect(srv.client.acceptedEventIds(roomId)).toContain(promote);
    expect(c.client.messageBodies(carol, roomId)).toContain('during');
  });

  it('concurrent power-level edits by equal-powered admins: both pass auth, the one ordered last is the state', async () => {
    const s = await threeServers(version, 100);
    const { a, b, c, alice, bob, carol, roomId } = s;
    partition(s);
    const pl = a.client.state(roomId)['m.room.power_levels']![''] as { users: Record<string, number> };
    const byAlice = await a.client.setState(alice, roomId, 'm.room.power_levels', '', { ...pl, users: { ...pl.users, [carol]: 50 } });
    const byBob = await b.client.setState(bob, roomId, 'm.room.power_levels', '', { ...pl, users: { ...pl.users, [carol]: 75 } });
    cluster.net.healAll();
    await converge(cluster, roomId);
    // Reverse topological power ordering: same sender power (100), so by
    // origin_server_ts, then event ID. Both pass iterative auth (each sender
    // keeps power 100 and carol is below it), so the one applied last wins.
    const [ka, kb] = [sortKey(a, roomId, byAlice), sortKey(a, roomId, byBob)];
    const last = ka[0] !== kb[0] ? (ka[0] > kb[0] ? byAlice : byBob) : ka[1] > kb[1] ? byAlice : byBob;
    for (const srv of [a, b, c]) {
      expect(srv.client.stateIds(roomId)['m.room.power_levels']!['']).toBe(last);
      expect(srv.client.members(roomId).find((m) => m.userId === carol)?.powerLevel).toBe(last === byAlice ? 50 : 75);
    }
  });

  it('join-rule change vs join: the join re-authorised against invite-only is not in the resolved state', async () => {
    const s = await threeServers(version, 0);
    const { a, b, c, alice, bob, carol, roomId } = s;
    const dave = await c.hs.register('dave');
    partition(s);
    await a.client.setState(alice, roomId, 'm.room.join_rules', '', { join_rule: 'invite' });
    await a.client.sendMessage(alice, roomId, 'closing the door');
    // c still sees a public room: dave joins there, and talks
    await c.client.join(dave, roomId);
    expect(c.client.membership(dave, roomId)).toBe('join');
    await c.client.sendMessage(dave, roomId, 'made it in');
    await b.client.sendMessage(bob, roomId, 'hello from b');
    await converge(cluster, roomId, ['b', 'c']);
    cluster.net.healAll();
    await converge(cluster, roomId);
    // The join_rules change is a power event and sorted first; dave's join is
    // then checked against join_rule invite and fails (4.3.7), so the
    // resolved state does not have dave joined, on any server.
    for (const srv of [a, b, c]) {
      expect(srv.client.state(roomId)['m.room.join_rules']?.['']).toEqual({ join_rule: 'invite' });
      expect(srv.client.membership(dave, roomId)).not.toBe('join');
    }
    // messages from before the resolution from both sides are everywhere
    expect(a.client.messageBodies(alice, roomId)).toEqual(expect.arrayContaining(['closing the door', 'hello from b']));
    expect(c.client.messageBodies(carol, roomId)).toEqual(expect.arrayContaining(['closing the door', 'hello from b']));
    // dave is not in the room: he sees what he saw while joined, not what the resolution shut him out of
    expect(c.client.messageBodies(dave, roomId)).toEqual(expect.arrayContaining(['made it in']));
    expect(c.client.messageBodies(dave, roomId)).not.toContain('closing the door');
  });
});

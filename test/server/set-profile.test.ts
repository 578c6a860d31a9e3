import { afterEach, describe, expect, it } from 'vitest';
import { Cluster } from '../../src/sim/cluster.ts';
import { converge } from './engine-helpers.ts';

let cluster: Cluster;
afterEach(async () => cluster?.stopAll());

describe('HomeserverClient.setProfile', () => {
  it('changes the account and the member event in every joined room, which other servers see', async () => {
    cluster = new Cluster();
    const a = await cluster.add('a');
    const b = await cluster.add('b');
    const alice = await a.hs.register('alice', 'Alice');
    const bob = await b.hs.register('bob', 'Bob');
    const shared = await a.client.createRoom(alice, { preset: 'public_chat' });
    const alone = await a.client.createRoom(alice, { preset: 'private_chat' });
    const left = await a.client.createRoom(alice, { preset: 'public_chat' });
    await a.client.leave(alice, left);
    await b.client.join(bob, shared, [a.hs.serverName]);
    await converge(cluster, shared);

    const { failed } = await a.client.setProfile(alice, { displayname: 'Alicia', avatar_url: 'mxc://a/face' });
    expect(failed).toEqual([]);
    expect(a.hs.accounts.get(alice)).toMatchObject({ display_name: 'Alicia', avatar_url: 'mxc://a/face' });
    for (const roomId of [shared, alone]) {
      expect(a.client.state(roomId)['m.room.member']?.[alice]).toMatchObject({ membership: 'join', displayname: 'Alicia', avatar_url: 'mxc://a/face' });
    }
    expect(a.client.state(left)['m.room.member']?.[alice]).toMatchObject({ membership: 'leave' });
    await converge(cluster, shared);
    expect(b.client.members(shared).find((m) => m.userId === alice)).toMatchObject({ displayName: 'Alicia', avatarUrl: 'mxc://a/face' });

    // No change, no event; an empty name goes back to the localpart, an empty avatar removes it.
    const before = a.client.dag(shared).length;
    await a.client.setProfile(alice, { displayname: 'Alicia' });
    expect(a.client.dag(shared).length).toBe(before);
    await a.client.setProfile(alice, { displayname: '', avatar_url: '' });
    const member = a.client.state(shared)['m.room.member']?.[alice];
    expect(member).toMatchObject({ displayname: 'alice' });
    expect(member).not.toHaveProperty('avatar_url');
  });
});

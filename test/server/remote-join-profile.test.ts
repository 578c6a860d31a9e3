import { afterEach, describe, expect, it } from 'vitest';
import { Cluster } from '../../src/sim/cluster.ts';
import { converge } from './engine-helpers.ts';

let cluster: Cluster;
afterEach(async () => cluster?.stopAll());

describe('a join through another server carries the joiner profile', () => {
  it('the resident server sees the display name and avatar of a remote joiner', async () => {
    cluster = new Cluster();
    const a = await cluster.add('a');
    const b = await cluster.add('b');
    const alice = await a.hs.register('alice', 'Alice');
    const bob = await b.hs.register('bob', 'Bob Builder');
    b.hs.accounts.set(bob, { ...b.hs.accounts.get(bob)!, avatar_url: 'mxc://b/avatar' });
    const roomId = await a.client.createRoom(alice, { preset: 'public_chat' });
    await b.client.join(bob, roomId, [a.hs.serverName]);
    await converge(cluster, roomId);
    const onA = a.client.members(roomId).find((m) => m.userId === bob);
    expect(onA?.displayName).toBe('Bob Builder');
    expect(a.client.state(roomId)['m.room.member']?.[bob]).toMatchObject({ membership: 'join', displayname: 'Bob Builder', avatar_url: 'mxc://b/avatar' });
  });
});

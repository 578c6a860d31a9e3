/**
 * The simulator's SQLite store option (Cluster `store: 'sqlite'`, used by
 * bench/sim-scale.ts --store sqlite): servers keep their rooms on disk,
 * survive a crash and restart from their own database, a wipe starts an
 * empty one, and stopAll removes the databases.
 */
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster } from '../../src/sim/cluster.ts';
import { converge } from '../server/engine-helpers.ts';

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.stopAll();
  cluster = undefined;
});

describe('Cluster with the SQLite store', () => {
  it('replicates, restarts from disk after a crash, wipes, and cleans up', async () => {
    cluster = new Cluster({ store: 'sqlite' });
    const a = await cluster.add('a');
    const b = await cluster.add('b');
    const dir = a.store.name;
    expect(existsSync(dir)).toBe(true);
    const alice = await a.hs.register('alice');
    const bob = await b.hs.register('bob');
    const roomId = await a.client.createRoom(alice, { preset: 'public_chat' });
    await b.client.join(bob, roomId, [a.hs.serverName]);
    const sent = await a.client.sendMessage(alice, roomId, 'kept on disk');
    await converge(cluster, roomId, undefined, 20_000);

    // Written through: the database holds the event, not only the engine's memory.
    expect((await b.store.getEvent(sent))?.event_id).toBe(sent);
    await cluster.crash('b');
    const b2 = await cluster.restart('b');
    expect(b2.hs.serverName).toBe(b.hs.serverName);
    expect(b2.client.acceptedEventIds(roomId)).toContain(sent);
    const after = await a.client.sendMessage(alice, roomId, 'after the restart');
    await converge(cluster, roomId, undefined, 20_000);
    expect(b2.client.acceptedEventIds(roomId)).toContain(after);

    const wiped = await cluster.wipe('b');
    expect(wiped.hs.serverName).not.toBe(b.hs.serverName);
    expect(wiped.store.name).not.toBe(b2.store.name);
    expect(wiped.hs.rooms.size).toBe(0);

    await cluster.stopAll();
    cluster = undefined;
    expect(existsSync(dir)).toBe(false);
  }, 120_000);
});

/**
 * checkStoreConsistency: a store the engine wrote (two servers, a room both
 * joined, messages both ways) is consistent on both sides; each kind of
 * partial write — an event without its state group, without a prev event, a
 * room whose extremity or current state group is missing, a group whose prev
 * is gone — is reported, naming the room and what is missing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster } from '../../src/sim/cluster.ts';
import { checkStoreConsistency } from '../../src/server/store/consistency.ts';
import { openNodeStore } from '../../src/server/store/node.ts';
import type { StoredEvent } from '../../src/server/store/types.ts';
import { converge, twoServersInRoom } from './engine-helpers.ts';

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.stopAll();
  cluster = undefined;
});

describe('checkStoreConsistency', () => {
  it('finds nothing wrong in stores the engine wrote (creator and remote joiner)', async () => {
    cluster = new Cluster();
    const { a, b, alice, bob, roomId } = await twoServersInRoom(cluster);
    for (let i = 0; i < 5; i++) {
      await a.client.sendMessage(alice, roomId, `a${i}`);
      await b.client.sendMessage(bob, roomId, `b${i}`);
    }
    await converge(cluster, roomId);
    expect(await checkStoreConsistency(a.store)).toEqual([]);
    expect(await checkStoreConsistency(b.store)).toEqual([]);
  });

  it('reports each kind of partial write', async () => {
    const store = await openNodeStore(`consistency-${Date.now()}`);
    const roomId = '!r:x';
    const ev = (id: string, prev: string[], extra: Partial<StoredEvent> = {}): StoredEvent =>
      ({
        event_id: id,
        room_id: roomId,
        stream: Number(id.slice(2)),
        status: 'accepted',
        state_group: 1,
        pdu: { room_id: roomId, type: 'm.room.message', prev_events: prev, auth_events: [] },
        ...extra,
      }) as unknown as StoredEvent;
    await store.write({
      rooms: [{ room_id: roomId, room_version: '11', extremities: ['$e3', '$gone'], state_group: 7, servers: [] }],
      stateGroups: [
        { id: 1, room_id: roomId, delta: { 'm.room.create\u0000': '$e1' }, chain: 0 },
        { id: 2, room_id: roomId, prev: 5, delta: { 'm.room.topic\u0000': '$nope' }, chain: 1 },
      ],
      events: [
        ev('$e1', []),
        ev('$e2', ['$e1', '$missing'], { state_group: 2 }),
        ev('$e3', ['$e2'], { state_group: undefined }),
        ev('$e4', ['$absent'], { status: 'outlier', state_group: 9 }),
      ],
    });
    const found = await checkStoreConsistency(store);
    expect(found).toEqual(
      expect.arrayContaining([
        { room_id: roomId, subject: 'group 2', problem: 'its prev group 5 is missing' },
        { room_id: roomId, subject: 'group 2', problem: 'state "m.room.topic\\u0000" names $nope, which is missing' },
        { room_id: roomId, subject: '$e2', problem: 'its prev event $missing is missing' },
        { room_id: roomId, subject: '$e3', problem: 'accepted but has no state group' },
        { room_id: roomId, subject: '$e4', problem: 'its state group 9 is missing' },
        { room_id: roomId, subject: 'room', problem: 'its current state group 7 is missing' },
        { room_id: roomId, subject: 'room', problem: 'its forward extremity $gone is missing' },
      ]),
    );
    // An outlier's missing prev is not an edge the store promised.
    expect(found.filter((f) => f.subject === '$e4')).toHaveLength(1);
    expect(found).toHaveLength(7);
    await store.close();
  });
});

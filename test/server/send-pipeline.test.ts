/**
 * Transactions from several origins at once: signatures are checked before
 * the room's lock is taken, and the lock is released once a batch is placed
 * and its write requested — but a response still means "stored", and writes
 * land in the order the batches were placed. Writes requested while one is
 * in flight go together in the next.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { handleFederationRequest } from '../../src/server/federation-server.ts';
import type { WriteBatch } from '../../src/server/store/types.ts';
import { Cluster, type ClusterServer } from '../../src/sim/cluster.ts';
import { addThreeServers, converge, waitFor } from './engine-helpers.ts';

let cluster: Cluster;
afterEach(() => cluster?.stopAll());

/** PDUs (without event_id) of the messages `s` sent, in the order sent. */
function pdusOf(s: ClusterServer, roomId: string, ids: string[]): unknown[] {
  return ids.map((id) => {
    const { event_id: _id, ...pdu } = s.client.event(roomId, id).event;
    return pdu;
  });
}

function send(to: ClusterServer, from: ClusterServer, txn: string, pdus: unknown[]) {
  return handleFederationRequest(to.hs, from.hs.serverName, {
    kind: 'send',
    txn_id: txn,
    body: { origin: from.hs.serverName, origin_server_ts: Date.now(), pdus: pdus as never[], edus: [] },
  });
}

describe('transactions from several origins at once', () => {
  it('a second origin’s batch is placed while the first one’s write is in flight; each answer waits for its own write', async () => {
    cluster = new Cluster();
    const { a, b, c, alice, bob } = await addThreeServers(cluster);
    const roomId = await a.client.createRoom(alice, { preset: 'public_chat' });
    await b.client.join(bob, roomId, [a.hs.serverName]);
    await c.client.join(await c.hs.register('carl'), roomId, [a.hs.serverName]);
    await converge(cluster, roomId);
    // Everyone cut off: a and b each write a fork, delivered to c by hand below.
    cluster.partition([['a'], ['b'], ['c']]);
    const fromA: string[] = [];
    const fromB: string[] = [];
    for (let i = 0; i < 30; i++) fromA.push(await a.client.sendMessage(alice, roomId, `a${i}`));
    for (let i = 0; i < 30; i++) fromB.push(await b.client.sendMessage(bob, roomId, `b${i}`));

    // Hold c's store writes until released, recording the events of each write in the order issued.
    const issued: string[][] = [];
    const gates: (() => void)[] = [];
    const write = c.store.write.bind(c.store);
    c.store.write = (batch: WriteBatch) => {
      issued.push((batch.events ?? []).map((e) => e.event_id));
      const p = write(batch);
      return new Promise<void>((resolve, reject) => gates.push(() => p.then(resolve, reject)));
    };
    let answeredA = false;
    let answeredB = false;
    const resA = send(c, a, 'ta', pdusOf(a, roomId, fromA)).then((r) => {
      answeredA = true;
      return r;
    });
    const resB = send(c, b, 'tb', pdusOf(b, roomId, fromB)).then((r) => {
      answeredB = true;
      return r;
    });
    const room = c.hs.rooms.get(roomId)!;
    // Both batches placed in memory while a's write has not completed: the lock did not wait for it.
    await waitFor(cluster, () => [...fromA, ...fromB].every((id) => room.isDagNode(id)), 'both batches placed', 5000);
    // b's batch waits to be written after a's (writes are grouped: one in flight at a time).
    expect(issued).toHaveLength(1);
    expect(issued[0]).toEqual(expect.arrayContaining(fromA));
    await new Promise((r) => setTimeout(r, 20));
    expect(answeredA || answeredB, 'a response came before its write completed').toBe(false);
    gates[0]!();
    await waitFor(cluster, () => issued.length === 2, 'b’s write to be issued', 5000);
    expect(issued[1]).toEqual(expect.arrayContaining(fromB));
    expect(answeredB, 'b answered before its write completed').toBe(false);
    gates[1]!();
    const [ra, rb] = await Promise.all([resA, resB]);
    expect(ra.ok && Object.values(ra.body.pdus as object).every((r) => !('error' in r))).toBe(true);
    expect(rb.ok && Object.values(rb.body.pdus as object).every((r) => !('error' in r))).toBe(true);

    // Everything acknowledged survives an abrupt stop.
    c.store.write = write;
    await cluster.crash('c');
    const c2 = await cluster.restart('c');
    const accepted = c2.client.acceptedEventIds(roomId);
    for (const id of [...fromA, ...fromB]) expect(accepted).toContain(id);
  });

  it('a failed write is not acknowledged, and the retry stores what the failed write held', async () => {
    cluster = new Cluster();
    const { a, c, alice } = await addThreeServers(cluster);
    const roomId = await a.client.createRoom(alice, { preset: 'public_chat' });
    await c.client.join(await c.hs.register('carl'), roomId, [a.hs.serverName]);
    await converge(cluster, roomId, ['a', 'c']);
    cluster.partition([['a'], ['b'], ['c']]);
    const id = await a.client.sendMessage(alice, roomId, 'lost on the way to disk');
    const write = c.store.write.bind(c.store);
    c.store.write = async () => {
      throw new Error('QuotaExceededError: the disk is full');
    };
    const failed = await send(c, a, 't1', pdusOf(a, roomId, [id]));
    // Internals stay private: the origin learns the transaction failed, and retries it.
    expect(failed.ok).toBe(false);
    expect(c.hs.hasUnstoredWrites).toBe(true);
    c.store.write = write;
    const retried = await send(c, a, 't1', pdusOf(a, roomId, [id]));
    expect(retried.ok && retried.body.pdus).toEqual({ [id]: {} });
    expect(c.hs.hasUnstoredWrites).toBe(false);
    await cluster.crash('c');
    const c2 = await cluster.restart('c');
    expect(c2.client.acceptedEventIds(roomId)).toContain(id);
  });
});

describe('grouped writes', () => {
  it('batches committed while a write is in flight go together in the next write, in order', async () => {
    cluster = new Cluster();
    const a = await cluster.add('a');
    const issued: string[][] = [];
    const gates: (() => void)[] = [];
    const write = a.store.write.bind(a.store);
    a.store.write = (batch: WriteBatch) => {
      issued.push(Object.keys(batch.meta ?? {}).filter((k) => k.startsWith('test_')));
      const p = write(batch);
      return new Promise<void>((resolve, reject) => gates.push(() => p.then(resolve, reject)));
    };
    let done = 0;
    const commits = [1, 2, 3].map((i) => a.hs.commit({ meta: { [`test_${i}`]: i } }).then(() => done++));
    expect(issued).toEqual([['test_1']]);
    gates[0]!();
    await waitFor(cluster, () => issued.length === 2, 'the second write');
    expect(issued[1]).toEqual(['test_2', 'test_3']);
    expect(done).toBe(1);
    gates[1]!();
    await Promise.all(commits);
    a.store.write = write;
    for (const i of [1, 2, 3]) expect(await a.store.getMeta(`test_${i}`)).toBe(i);
  });
});

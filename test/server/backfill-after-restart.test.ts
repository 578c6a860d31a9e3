/**
 * A backfill cut short by a crash is finished after the restart. The flag
 * that says a room's history has gaps lived only in memory, so a server that
 * crashed while the history before its join was being fetched (or written)
 * restarted without it and never fetched that history: its replica stayed
 * short for good (seen as `crash-restart.json` failing to converge under load).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster } from '../../src/sim/cluster.ts';

let cluster: Cluster;
afterEach(async () => cluster?.stopAll());

describe('backfill after a restart', () => {
  it('a join whose history backfill failed is backfilled once the server restarts', async () => {
    cluster = new Cluster({ antiEntropyMs: 100 });
    const a = await cluster.add('a');
    await cluster.add('b');
    const alice = await a.hs.register('alice');
    const roomId = await a.client.createRoom(alice, { preset: 'public_chat' });
    for (let i = 0; i < 30; i++) await a.client.sendMessage(alice, roomId, `before the join #${i}`);
    // a refuses every backfill request: b's join succeeds, the history before it does not come.
    cluster.net.answerFor(a.hs.serverName, (_from, req) =>
      req.kind === 'backfill' ? { ok: false, status: 503, body: { errcode: 'M_UNAVAILABLE', error: 'refused by the test' } } : undefined,
    );
    const b = cluster.get('b');
    const bob = await b.hs.register('bob');
    await b.client.join(bob, roomId, [a.hs.serverName]);
    await new Promise((r) => setTimeout(r, 300));
    expect(b.client.messageBodies(bob, roomId)).toHaveLength(0);
    expect(b.hs.rooms.get(roomId)!.needsBackfill).toBe(true);

    // b crashes before any retry succeeds; a answers backfills again; b restarts from its store.
    await cluster.crash('b');
    cluster.net.answerFor(a.hs.serverName, undefined);
    const b2 = await cluster.restart('b');
    expect(b2.hs.rooms.get(roomId)!.needsBackfill).toBe(true);
    await cluster.until(() => cluster.converged(roomId, ['a', 'b']), 10_000, () => 'b to fetch the history before its join');
    expect(b2.client.messageBodies(bob, roomId)).toHaveLength(30);
    // ...and the backfill, done, says so (it is cleared once its placement has finished).
    await cluster.until(() => !b2.hs.rooms.get(roomId)!.needsBackfill, 5_000, () => 'the backfill to be marked done');
  });
});

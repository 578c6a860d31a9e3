/**
 * History beyond get_missing_events' reach: the receiving server takes the
 * state at the missing prev from a peer (state_ids/state), places the event,
 * then backfills the gap so its replica ends up complete.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { HISTORY_PENDING } from '../../src/server/federation/types.ts';
import { Cluster } from '../../src/sim/cluster.ts';

let cluster: Cluster;
afterEach(async () => cluster?.stopAll());

describe('gaps in history', () => {
  it('falls back to state_ids when get_missing_events cannot reach known history, then backfills', async () => {
    // One round of 100 events: a gap of 250 cannot be bridged by get_missing_events alone.
    cluster = new Cluster({ limits: { missingEventRounds: 1 }, outbox: { baseBackoffMs: 60_000, maxBackoffMs: 60_000 } });
    const a = await cluster.add('a');
    const b = await cluster.add('b');
    const alice = await a.hs.register('alice');
    const bob = await b.hs.register('bob');
    const roomId = await a.client.createRoom(alice, { preset: 'public_chat' });
    await b.client.join(bob, roomId, [a.hs.serverName]);
    await cluster.until(() => cluster.converged(roomId, ['a', 'b']));
    // Cut a→b, send 250 messages and a topic change on a; they queue in a's outbox (long backoff).
    cluster.net.cut(a.hs.serverName, b.hs.serverName);
    for (let i = 0; i < 250; i++) await a.client.sendMessage(alice, roomId, `m${i}`);
    await a.client.setState(alice, roomId, 'm.room.topic', '', { topic: 'after the gap' });
    const last = await a.client.sendMessage(alice, roomId, 'the latest');
    cluster.net.heal(a.hs.serverName, b.hs.serverName);
    // Deliver only the latest event to b, as a fresh transaction (the outbox is still backing off).
    const { handleFederationRequest } = await import('../../src/server/federation-server.ts');
    const pdu = a.client.event(roomId, last).event;
    const { event_id: _id, ...body } = pdu;
    const res = await handleFederationRequest(b.hs, a.hs.serverName, {
      kind: 'send',
      txn_id: 't1',
      body: { origin: a.hs.serverName, origin_server_ts: Date.now(), pdus: [body as never], edus: [] },
    });
    expect(res.ok).toBe(true);
    // Answered at once, the event pending while its history is fetched after the answer.
    expect(res.ok && (res.body.pdus as Record<string, { error?: string }>)[last]?.error).toMatch(new RegExp(`^${HISTORY_PENDING}`));
    await cluster.until(() => b.hs.rooms.get(roomId)!.events.get(last)?.status === 'accepted', 10_000, () => 'b to place the latest event');
    // b placed the event with the state a reported: the topic is already right.
    expect(b.client.state(roomId)['m.room.topic']?.['']).toEqual({ topic: 'after the gap' });
    // ...and the background backfill completes the replica.
    await cluster.until(() => cluster.converged(roomId, ['a', 'b']), 10_000, () => 'a complete replica on b');
    expect(b.client.messageBodies(bob, roomId)).toHaveLength(251);
  });
});

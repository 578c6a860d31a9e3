/**
 * A stretch of missed history longer than one round's fetch budget
 * (FETCH_EVENTS) is walked to its end with get_missing_events, round after
 * round, and placed on our own history — not cut at the budget and placed on
 * the state a peer reports at the gap (state_ids), which left a 1,001-event
 * stretch after a heal one event short (issue 16 item 2). Each event is
 * fetched once: a round goes on from where the last one stopped.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { FederationRequest } from '../../src/server/federation/types.ts';
import { FETCH_EVENTS, fetchStats } from '../../src/server/ingest-fetch.ts';
import { Cluster } from '../../src/sim/cluster.ts';
import { converge } from './engine-helpers.ts';

let cluster: Cluster;
afterEach(() => cluster?.stopAll());

describe('a missed stretch longer than the fetch budget', () => {
  it('is walked to its end and placed on our history, each event fetched once', async () => {
    cluster = new Cluster();
    const a = await cluster.add('a');
    const b = await cluster.add('b');
    const alice = await a.hs.register('alice');
    const bob = await b.hs.register('bob');
    const roomId = await a.client.createRoom(alice, { preset: 'public_chat' });
    await b.client.join(bob, roomId, [a.hs.serverName]);
    await converge(cluster, roomId);

    cluster.partition([['a'], ['b']]);
    const missed = FETCH_EVENTS + 50;
    for (let n = 0; n < missed; n++) await b.client.sendMessage(bob, roomId, `missed ${n}`);
    const latest = b.hs.rooms.get(roomId)!.extremities;

    // a learns of b's newest event only, by anti-entropy (the catch-up on reconnection): b's
    // transactions to a are answered without reaching a, so b's outbox, whose oldest-first
    // transactions would hand a the stretch in order, stays out of it.
    cluster.net.answerFor(a.hs.serverName, (from, req) =>
      from === b.hs.serverName && req.kind === 'send' ? { ok: false, status: 400, body: { errcode: 'M_UNKNOWN', error: 'left out by the test' } } : undefined,
    );
    const kinds: Record<string, number> = {};
    const request = a.hs.transport.request.bind(a.hs.transport);
    a.hs.transport.request = (destination: string, req: FederationRequest, opts?: { timeoutMs?: number }) => {
      kinds[req.kind] = (kinds[req.kind] ?? 0) + 1;
      return request(destination, req, opts);
    };
    const fetchedBefore = fetchStats.eventsFetched;
    cluster.healAll();
    await cluster.until(
      () => [...latest].every((id) => a.hs.rooms.get(roomId)!.isDagNode(id)),
      120_000,
      () => `a to place b’s newest event (requests ${JSON.stringify(kinds)}, events fetched ${fetchStats.eventsFetched - fetchedBefore})`,
    );

    const room = a.hs.rooms.get(roomId)!;
    expect(a.client.messageBodies(alice, roomId).filter((m) => m.startsWith('missed ')).length).toBe(missed);
    // Placed as accepted history, none of it on a peer's word for the state at a gap.
    expect(kinds.state_ids ?? 0, JSON.stringify(kinds)).toBe(0);
    expect([...room.events.values()].filter((e) => e.status === 'outlier').length).toBe(0);
    // Each missed event fetched about once (the walk's pages overlap a little at their edges).
    const fetched = fetchStats.eventsFetched - fetchedBefore;
    expect(fetched).toBeGreaterThanOrEqual(missed - 1);
    expect(fetched).toBeLessThanOrEqual(missed + 100);

    await converge(cluster, roomId, undefined, 30_000);
  }, 180_000);
});

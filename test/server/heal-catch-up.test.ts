/**
 * After a heal, the senders' outboxes do not send their backlog beside the
 * history the healed server fetches (outbox.ts, catch-up): each sends the
 * newest of its queued events, the receiver walks the history it lacks, and
 * the sender then asks which of the rest it holds (`holds`) and sends only
 * what it does not. Every event still arrives, and every outbox drains.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_HOLDS_IDS, handleFederationRequest } from '../../src/server/federation-server.ts';
import { Cluster } from '../../src/sim/cluster.ts';
import { converge, serversInRoom, twoServersInRoom } from './engine-helpers.ts';

let cluster: Cluster;
afterEach(() => cluster?.stopAll());

const MISSED = 120;

describe('catching up after a partition', () => {
  it('sends the missed events once, by the history walk, and still drains every outbox', async () => {
    cluster = new Cluster();
    const { a, alice, roomId, others, users } = await serversInRoom(cluster, 2);

    cluster.net.partition([[a.hs.serverName], others.map((s) => s.hs.serverName)]);
    for (let n = 0; n < MISSED; n++) await others[n % 2]!.client.sendMessage(users[n % 2]!, roomId, `missed ${n}`);
    await converge(cluster, roomId, ['b', 'c'], 30_000);
    // Both outboxes have tried a, failed, and hold their share for it.
    await cluster.until(() => others.every((s) => s.hs.outbox.stats.failures > 0), 10_000, () => 'a failed transaction to a');
    const sentBefore = others.map((s) => s.hs.outbox.stats.pdusSent);

    cluster.net.healAll();
    await converge(cluster, roomId, undefined, 60_000);
    expect(a.client.messageBodies(alice, roomId).filter((b) => b.startsWith('missed ')).length).toBe(MISSED);
    // The outboxes answer for the rest once the newest is placed (re-sent after the receiver's
    // history fetch: PENDING_RECHECK_MS), then ask about the others.
    await cluster.until(() => others.every((s) => s.hs.outbox.totalPending() === 0), 30_000, () => 'the outboxes to drain');

    const sentAfter = others.map((s, i) => s.hs.outbox.stats.pdusSent - sentBefore[i]!);
    const caughtUp = others.map((s) => s.hs.outbox.stats.pdusCaughtUp);
    // Each sender owed a its 60 events. Sent one by one, that was 60 PDUs each beside the walk; now
    // the newest (sent again after the answer "pending") and whatever a did not hold when asked.
    for (const n of sentAfter) expect(n, `PDUs sent after the heal (${sentAfter}; caught up ${caughtUp})`).toBeLessThanOrEqual(5);
    for (const n of caughtUp) expect(n).toBeGreaterThanOrEqual(MISSED / 2 - 5);
  }, 120_000);

  it('`holds` answers a server in the room about that room only, within bounds', async () => {
    cluster = new Cluster();
    const { a, b, alice, roomId } = await twoServersInRoom(cluster);
    const other = await a.client.createRoom(alice, { preset: 'private_chat' });
    const ids = a.client.acceptedEventIds(roomId);
    const ask = (origin: string, room: string, eventIds: unknown) =>
      handleFederationRequest(a.hs, origin, { kind: 'holds', room_id: room, event_ids: eventIds as string[] });

    const res = await ask(b.hs.serverName, roomId, [...ids, '$unknown', a.client.acceptedEventIds(other)[0]]);
    expect(res).toEqual({ ok: true, body: { held: ids } });
    // Not in the room: nothing said about it (not even which events exist).
    const outsider = await ask(b.hs.serverName, other, a.client.acceptedEventIds(other));
    expect(outsider.ok).toBe(false);
    if (!outsider.ok) expect(outsider.body.errcode).toBe('M_FORBIDDEN');
    for (const bad of [Array(MAX_HOLDS_IDS + 1).fill('$x'), [1, 2], 'not a list']) {
      const r = await ask(b.hs.serverName, roomId, bad);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.body.errcode).toBe('M_BAD_JSON');
    }
    const unknownRoom = await ask(b.hs.serverName, '!nowhere:a', ids);
    expect(unknownRoom.ok).toBe(false);
  });

  it('get_missing_events leaves out what the caller holds: after a partition, only the stretch it missed', async () => {
    cluster = new Cluster();
    const { a, b, alice, bob, roomId } = await twoServersInRoom(cluster);
    for (let n = 0; n < 20; n++) await b.client.sendMessage(bob, roomId, `before ${n}`);
    await converge(cluster, roomId);
    await a.client.sendMessage(alice, roomId, 'alice before');
    await converge(cluster, roomId);

    cluster.net.partition([[a.hs.serverName], [b.hs.serverName]]);
    const missed: string[] = [];
    for (let n = 0; n < 5; n++) missed.push(await b.client.sendMessage(bob, roomId, `missed ${n}`));
    // a's side moves on too: its forward extremities are events b never saw.
    for (let n = 0; n < 3; n++) await a.client.sendMessage(alice, roomId, `alice during ${n}`);
    const room = a.hs.rooms.get(roomId)!;
    const walk = async (earliest: string[]) => {
      const res = await handleFederationRequest(b.hs, a.hs.serverName, {
        kind: 'get_missing_events',
        room_id: roomId,
        body: { earliest_events: earliest, latest_events: [missed[4]!], limit: 500, min_depth: 0 },
      });
      expect(res.ok).toBe(true);
      return res.ok ? (res.body.events as { body?: unknown; content?: { body?: string } }[]).map((ev) => ev.content?.body) : [];
    };
    // Stopping only at the IDs given, b walked on into the whole shared history (31 events here).
    // From the latest event a's users created, b knows a holds everything before it.
    expect(await walk([...room.extremities])).toEqual(['missed 0', 'missed 1', 'missed 2', 'missed 3']);
    // An earliest event b knows leaves out its ancestors too.
    expect(await walk([missed[1]!])).toEqual(['missed 2', 'missed 3']);
    cluster.net.healAll();
    await converge(cluster, roomId, undefined, 30_000);
  });
});

/**
 * Concurrency without partitions (forks from simultaneous sends), a kick
 * racing the kicked user's messages across a partition, history visibility
 * for late joiners, and what a server outside the room may ask for.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { handleFederationRequest } from '../../src/server/federation-server.ts';
import { Cluster } from '../../src/sim/cluster.ts';
import { addThreeServers, converge, expectRefused, waitFor } from './engine-helpers.ts';

let cluster: Cluster;
afterEach(() => cluster?.stopAll());

async function three(historyVisibility?: string) {
  cluster = new Cluster();
  const { a, b, c, alice, bob, carol } = await addThreeServers(cluster);
  const roomId = await a.client.createRoom(alice, { preset: 'public_chat', ...(historyVisibility ? { historyVisibility } : {}) });
  return { a, b, c, alice, bob, carol, roomId };
}

describe('concurrency', () => {
  it('simultaneous sends on three servers fork and merge: everyone ends with every message', async () => {
    const { a, b, c, alice, bob, carol, roomId } = await three();
    await b.client.join(bob, roomId, [a.hs.serverName]);
    await c.client.join(carol, roomId, [a.hs.serverName]);
    await converge(cluster, roomId);
    const n = 8;
    await Promise.all([
      ...Array.from({ length: n }, (_, i) => a.client.sendMessage(alice, roomId, `a${i}`)),
      ...Array.from({ length: n }, (_, i) => b.client.sendMessage(bob, roomId, `b${i}`)),
      ...Array.from({ length: n }, (_, i) => c.client.sendMessage(carol, roomId, `c${i}`)),
    ]);
    await converge(cluster, roomId);
    for (const [s, u] of [
      [a, alice],
      [b, bob],
      [c, carol],
    ] as const) {
      expect(s.client.messageBodies(u, roomId)).toHaveLength(3 * n);
      // each sender's own messages stay in the order sent
      for (const p of ['a', 'b', 'c']) {
        expect(s.client.messageBodies(u, roomId).filter((m) => m.startsWith(p))).toEqual(Array.from({ length: n }, (_, i) => `${p}${i}`));
      }
    }
    // a server merges the forks with its next event
    await a.client.sendMessage(alice, roomId, 'merge');
    await converge(cluster, roomId);
    expect(a.hs.rooms.get(roomId)!.extremities.size).toBe(1);
  });

  it('a kick on one side of a partition beats the kicked user’s messages on the other', async () => {
    const { a, b, c, alice, bob, carol, roomId } = await three();
    await b.client.join(bob, roomId, [a.hs.serverName]);
    await c.client.join(carol, roomId, [a.hs.serverName]);
    await converge(cluster, roomId);
    cluster.net.partition([[a.hs.serverName], [b.hs.serverName, c.hs.serverName]]);
    const kick = await a.client.kick(alice, roomId, bob, 'go');
    await b.client.sendMessage(bob, roomId, 'not yet kicked, as far as I know');
    await waitFor(cluster, () => c.client.messageBodies(carol, roomId).length === 1, 'c to get bob’s message');
    cluster.net.healAll();
    await converge(cluster, roomId);
    for (const s of [a, b, c]) {
      expect(s.client.membership(bob, roomId)).toBe('leave');
      expect(s.client.stateIds(roomId)['m.room.member']![bob]).toBe(kick);
    }
    await expectRefused(b.client.sendMessage(bob, roomId, 'after'), 'M_FORBIDDEN');
    // bob's message was authorised by the state before it: it stays in the DAG everywhere
    const id = c.client.dag(roomId).find((n) => n.type !== 'm.room.member' && n.sender === bob)?.eventId;
    expect(id).toBeDefined();
    for (const s of [a, b, c]) expect(s.client.acceptedEventIds(roomId)).toContain(id);
  });
});

describe('history visibility and access', () => {
  it('history_visibility joined: a late joiner’s server gets earlier messages without their content', async () => {
    const { a, b, alice, bob, roomId } = await three('joined');
    await a.client.sendMessage(alice, roomId, 'secret before bob');
    await b.client.join(bob, roomId, [a.hs.serverName]);
    await a.client.sendMessage(alice, roomId, 'after bob joined');
    await converge(cluster, roomId, ['a', 'b']);
    expect(b.client.messageBodies(bob, roomId)).not.toContain('secret before bob');
    expect(b.client.messageBodies(bob, roomId)).toContain('after bob joined');
  });

  it('history_visibility shared: a late joiner sees the earlier messages', async () => {
    const { a, b, alice, bob, roomId } = await three('shared');
    await a.client.sendMessage(alice, roomId, 'shared before bob');
    await b.client.join(bob, roomId, [a.hs.serverName]);
    await converge(cluster, roomId, ['a', 'b']);
    expect(b.client.messageBodies(bob, roomId)).toEqual(['shared before bob']);
  });

  it('a server with no user in the room may not read it', async () => {
    const { a, c, alice, roomId } = await three();
    const id = await a.client.sendMessage(alice, roomId, 'members only');
    const asC = (req: Parameters<typeof handleFederationRequest>[2]) => handleFederationRequest(a.hs, c.hs.serverName, req);
    for (const req of [
      { kind: 'event', event_id: id },
      { kind: 'state', room_id: roomId, event_id: id },
      { kind: 'state_ids', room_id: roomId, event_id: id },
      { kind: 'event_auth', room_id: roomId, event_id: id },
      { kind: 'backfill', room_id: roomId, v: [id], limit: 10 },
      { kind: 'get_missing_events', room_id: roomId, body: { earliest_events: [], latest_events: [id] } },
    ] as const) {
      const res = await asC(req as Parameters<typeof handleFederationRequest>[2]);
      expect(res, req.kind).toMatchObject({ ok: false, body: { errcode: 'M_FORBIDDEN' } });
    }
    const ext = await asC({ kind: 'extremities', room_ids: [roomId] });
    expect(ext).toEqual({ ok: true, body: { rooms: {} } });
  });
});

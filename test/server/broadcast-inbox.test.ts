/**
 * Room broadcasts that arrive while a server is busy wait in a per-room
 * inbox and are ingested together; beyond the inbox's bound they are shed,
 * and the senders' outboxes still deliver every event.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { handleFederationRequest } from '../../src/server/federation-server.ts';
import { PREPARE_AHEAD } from '../../src/server/homeserver.ts';
import { Cluster, type ClusterServer } from '../../src/sim/cluster.ts';
import { converge, twoServersInRoom, waitFor } from './engine-helpers.ts';

let cluster: Cluster;
afterEach(() => cluster?.stopAll());

function twoServers(opts: ConstructorParameters<typeof Cluster>[0] = {}) {
  cluster = new Cluster(opts);
  return twoServersInRoom(cluster);
}

/** A frozen tab: b is paused while alice sends n messages, so everything sent to b arrives at once; then converge. */
async function burstToFrozenB(s: Awaited<ReturnType<typeof twoServers>>, n: number): Promise<string[]> {
  const bodies = Array.from({ length: n }, (_, i) => `m${i}`);
  cluster.pause('b');
  for (const body of bodies) await s.a.client.sendMessage(s.alice, s.roomId, body);
  cluster.resume('b');
  await converge(cluster, s.roomId);
  return bodies;
}

/** Counts the signature verifications `server` makes from now on. */
function countVerifications(server: ClusterServer): { count: number } {
  const verifier = server.hs.identity.verifier;
  const counter = { count: 0 };
  (server.hs.identity as { verifier: typeof verifier }).verifier = {
    name: 'counting',
    verify: (...args) => {
      counter.count++;
      return verifier.verify(...args);
    },
  };
  return counter;
}

/** Holds `server`'s room lock until `release` (the lock may still be finishing earlier work, such as the join's catch-up: this waits until the test holds it). */
async function holdRoom(server: ClusterServer, roomId: string): Promise<{ release: () => void; busy: Promise<void> }> {
  let release: (() => void) | undefined;
  const busy = server.hs.rooms.get(roomId)!.lock.run(() => new Promise<void>((r) => (release = r)), 'test holds the room');
  await waitFor(cluster, () => release !== undefined, 'the test to hold the room');
  return { release: () => release!(), busy };
}

/** Hands a broadcast to `server` as its transport would. */
function broadcastTo(server: ClusterServer): (from: string, msg: unknown) => Promise<void> {
  return (server.hs as unknown as { onBroadcast(from: string, msg: unknown): Promise<void> }).onBroadcast.bind(server.hs);
}

describe('broadcast inbox', () => {
  it('broadcasts that arrive together are ingested as a batch', async () => {
    const s = await twoServers();
    const { b, bob, roomId } = s;
    const before = b.hs.gossipStats.batches;
    const bodies = await burstToFrozenB(s, 30);
    expect(b.client.messageBodies(bob, roomId)).toEqual(bodies);
    expect(b.hs.gossipStats.batches - before).toBeLessThanOrEqual(3);
    expect(b.hs.gossipStats.shed).toBe(0);
  });

  it('a broadcast’s signature is checked as it arrives, while its room is busy', async () => {
    const s = await twoServers();
    const { a, b, alice, bob, roomId } = s;
    const verifications = countVerifications(b);
    // A message b has not seen (a is cut off from b), handed to b as a broadcast while b's room is busy.
    cluster.net.cut(a.hs.serverName, b.hs.serverName);
    const id = await a.client.sendMessage(alice, roomId, 'while b is busy');
    const { event_id: _id, ...pdu } = a.client.event(roomId, id).event;
    const { release, busy } = await holdRoom(b, roomId);
    const onBroadcast = broadcastTo(b);
    const handled = onBroadcast(a.hs.serverName, { room_id: roomId, origin: a.hs.serverName, pdus: [pdu] });
    await waitFor(cluster, () => verifications.count > 0, 'the broadcast to be verified');
    expect(b.client.messageBodies(bob, roomId)).toEqual([]);
    release();
    await Promise.all([busy, handled]);
    expect(b.client.messageBodies(bob, roomId)).toEqual(['while b is busy']);
    expect(verifications.count).toBe(1);
  });

  it('a flood into a busy room has only a window of its checks in flight, and every event is ingested', async () => {
    const s = await twoServers();
    const { a, b, alice, bob, roomId } = s;
    const verifications = countVerifications(b);
    // Messages b has not seen (a is cut off from b), then handed to b as broadcasts while b's room is busy.
    cluster.net.cut(a.hs.serverName, b.hs.serverName);
    const n = PREPARE_AHEAD * 2 + 50;
    const bodies = Array.from({ length: n }, (_, i) => `flood ${i}`);
    const pdus: unknown[] = [];
    for (const body of bodies) {
      const { event_id: _id, ...pdu } = a.client.event(roomId, await a.client.sendMessage(alice, roomId, body)).event;
      pdus.push(pdu);
    }
    const { release, busy } = await holdRoom(b, roomId);
    const onBroadcast = broadcastTo(b);
    const handled = pdus.map((pdu) => onBroadcast(a.hs.serverName, { room_id: roomId, origin: a.hs.serverName, pdus: [pdu] }));
    await waitFor(cluster, () => verifications.count >= PREPARE_AHEAD, 'the first broadcasts to be verified');
    await new Promise((r) => setTimeout(r, 100));
    // Only the window's checks started; the rest wait as received (each one would hold its buffers).
    expect(verifications.count).toBe(PREPARE_AHEAD);
    expect(b.hs.inboxSize(roomId)).toBe(n);
    release();
    await Promise.all([busy, ...handled]);
    await waitFor(cluster, () => b.client.messageBodies(bob, roomId).length === n, 'every flooded message on b');
    expect(b.client.messageBodies(bob, roomId)).toEqual(bodies);
    expect(verifications.count).toBe(n);
    expect(b.hs.gossipStats.shed).toBe(0);
  });

  it('beyond its bound the inbox sheds broadcasts, and the outbox still delivers every event', async () => {
    const s = await twoServers({ limits: { broadcastInbox: 5 } });
    const bodies = await burstToFrozenB(s, 20);
    expect(s.b.hs.gossipStats.shed).toBeGreaterThan(0);
    expect(s.b.client.messageBodies(s.bob, s.roomId)).toEqual(bodies);
  });
});

describe('transactions after broadcasts', () => {
  it('a transaction whose PDUs are all held is acknowledged without a store write', async () => {
    const { a, b, alice, roomId } = await twoServers();
    const id = await a.client.sendMessage(alice, roomId, 'already there');
    await converge(cluster, roomId);
    const { event_id: _id, ...pdu } = a.client.event(roomId, id).event;
    let writes = 0;
    const write = b.store.write.bind(b.store);
    b.store.write = (batch) => {
      writes++;
      return write(batch);
    };
    const send = (pdus: unknown[]) =>
      handleFederationRequest(b.hs, a.hs.serverName, {
        kind: 'send',
        txn_id: `t${pdus.length}`,
        body: { origin: a.hs.serverName, origin_server_ts: Date.now(), pdus: pdus as never[], edus: [] },
      });
    const res = await send([pdu]);
    expect(res.ok && res.body.pdus).toEqual({ [id]: {} });
    expect(writes).toBe(0);
  });

  it('a transaction waiting behind queued broadcasts holds their copies, not its own, and is answered once they are placed', async () => {
    const s = await twoServers();
    const { a, b, alice, bob, roomId } = s;
    const verifications = countVerifications(b);
    cluster.net.cut(a.hs.serverName, b.hs.serverName);
    const ids: string[] = [];
    const pdus: Record<string, unknown>[] = [];
    for (let i = 0; i < 3; i++) {
      const id = await a.client.sendMessage(alice, roomId, `queued ${i}`);
      const { event_id: _id, ...pdu } = a.client.event(roomId, id).event;
      ids.push(id);
      pdus.push(pdu);
    }
    const { release, busy } = await holdRoom(b, roomId);
    const onBroadcast = broadcastTo(b);
    // Each side parses its own copy from the wire.
    const wire = (x: unknown) => JSON.parse(JSON.stringify(x));
    const broadcasts = pdus.slice(0, 2).map((pdu) => wire({ room_id: roomId, origin: a.hs.serverName, pdus: [pdu] }));
    const handled = broadcasts.map((msg) => onBroadcast(a.hs.serverName, msg));
    // The third is not queued (the broadcast was lost): the transaction keeps its own copy of it.
    const [queued0, queued1] = [broadcasts[0].pdus[0], broadcasts[1].pdus[0]];
    const body = { origin: a.hs.serverName, origin_server_ts: Date.now(), pdus: wire([pdus[0], pdus[1], { ...pdus[2], unsigned: { age: 1 } }]), edus: [] };
    const own = body.pdus[2];
    await new Promise((r) => setTimeout(r, 0));
    const answered = handleFederationRequest(b.hs, a.hs.serverName, { kind: 'send', txn_id: 't1', body });
    await new Promise((r) => setTimeout(r, 50));
    expect(body.pdus[0]).toBe(queued0);
    expect(body.pdus[1]).toBe(queued1);
    expect(body.pdus[2]).toBe(own);
    release();
    await Promise.all([busy, ...handled]);
    const res = await answered;
    expect(res.ok && res.body.pdus).toEqual({ [ids[0]!]: {}, [ids[1]!]: {}, [ids[2]!]: {} });
    expect(b.client.messageBodies(bob, roomId).slice(-3)).toEqual(['queued 0', 'queued 1', 'queued 2']);
    expect(verifications.count).toBe(3);
  });

  it('an unverified broadcast carrying hundreds of made-up signatures is indexed under two of them', async () => {
    const { a, b, alice, roomId } = await twoServers();
    cluster.net.cut(a.hs.serverName, b.hs.serverName);
    const { event_id: _id, ...pdu } = a.client.event(roomId, await a.client.sendMessage(alice, roomId, 'many signatures')).event;
    const forged = structuredClone(pdu) as Record<string, unknown> & { signatures: Record<string, Record<string, string>> };
    for (let i = 0; i < 500; i++) forged.signatures[a.hs.serverName]![`ed25519:made${i}`] = `sig${i}`;
    const { release, busy } = await holdRoom(b, roomId);
    const handled = broadcastTo(b)(a.hs.serverName, { room_id: roomId, origin: a.hs.serverName, pdus: [forged] });
    const inbox = (b.hs as unknown as { inbox: Map<string, { bySignature: Map<string, unknown> }> }).inbox.get(roomId)!;
    expect(inbox.bySignature.size).toBe(2);
    release();
    await Promise.all([busy, handled]);
  });

  it('broadcasts and transactions arriving together: every event ingested once, nothing fetched as missing', async () => {
    const s = await twoServers();
    const fetches = s.b.hs.stats.missingFetches;
    const bodies = await burstToFrozenB(s, 20);
    expect(s.b.client.messageBodies(s.bob, s.roomId)).toEqual(bodies);
    expect(s.b.hs.stats.missingFetches - fetches).toBe(0);
  });
});

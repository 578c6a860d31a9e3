/**
 * Homeservers over real libp2p on 127.0.0.1: three over TCP (join, talk,
 * partition with block/unblock, converge), two that can only meet through a
 * relay (circuit addresses: federation and gossip), and hostile peers
 * (malformed frames, oversize frames, a forged origin, garbage gossip) —
 * each refused, the target still working afterwards. Prints the measured
 * latency and throughput figures.
 */
import { randomBytes } from 'node:crypto';
import { gossipsub } from '@libp2p/gossipsub';
import { identify } from '@libp2p/identify';
import type { Stream } from '@libp2p/interface';
import { noise } from '@libp2p/noise';
import { peerIdFromString } from '@libp2p/peer-id';
import { tcp } from '@libp2p/tcp';
import { lpStream } from '@libp2p/utils';
import { yamux } from '@libp2p/yamux';
import { multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Libp2pTransport } from '../../src/net/libp2p-transport.ts';
import { createNodeTransport } from '../../src/net/node.ts';
import { protocolFor, roomTopic } from '../../src/net/protocol.ts';
import { type Relay, startRelay } from '../../src/net/relay.ts';
import type { JsonObject } from '../../src/core/json.ts';
import type { FederationResponse } from '../../src/server/federation/types.ts';
import type { RoomBroadcast } from '../../src/server/transport/types.ts';
import { typingUsers } from '../../src/server/edus.ts';
import { identityFromSeed } from '../../src/server/identity.ts';
import { type NetServer, converge, startServer, tcpAddr, until } from './helpers.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

async function server(label: string, opts: Parameters<typeof startServer>[1] = {}): Promise<NetServer> {
  const s = await startServer(label, opts);
  cleanups.push(() => s.hs.stop());
  return s;
}

/** Open connections `from` holds to `to`. */
function connectionsBetween(from: NetServer, to: NetServer): number {
  return from.transport.node.getConnections(peerIdFromString(to.hs.serverName)).filter((c) => c.status === 'open').length;
}

function p50(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Milliseconds from sending a message on `from` until `to` reports the event. */
async function messageLatency(from: NetServer, user: string, to: NetServer, roomId: string, body: string): Promise<number> {
  const t0 = performance.now();
  let eventId: string | undefined;
  const seen = new Set<string>();
  const got = new Promise<void>((resolve) => {
    const off = to.hs.subscribe((u) => {
      if (u.kind !== 'event' || u.roomId !== roomId) return;
      seen.add(u.eventId);
      if (eventId && seen.has(eventId)) {
        off();
        resolve();
      }
    });
    from.client.sendMessage(user, roomId, body).then((id) => {
      eventId = id;
      if (seen.has(id)) {
        off();
        resolve();
      }
    });
  });
  await got;
  return performance.now() - t0;
}

describe('three homeservers over TCP', () => {
  let a: NetServer;
  let b: NetServer;
  let c: NetServer;
  let alice: string;
  let bob: string;
  let carol: string;
  let roomId: string;

  beforeAll(async () => {
    a = await server('a');
    // b and c only know a: they find each other through the discovery topic a carries.
    b = await server('b', { bootstrap: [tcpAddr(a)] });
    c = await server('c', { bootstrap: [tcpAddr(a)] });
    alice = await a.hs.register('alice');
    bob = await b.hs.register('bob');
    carol = await c.hs.register('carol');
  });

  it('uses the server key as the libp2p identity and sees the others as homeservers', async () => {
    for (const s of [a, b, c]) expect(s.transport.node.peerId.toString()).toBe(s.hs.serverName);
    await until(
      () => [a, b, c].every((s) => s.transport.reachablePeers().length === 2),
      () => `full mesh: ${[a, b, c].map((s) => `${s.label}→${s.transport.reachablePeers().length}`).join(' ')}`,
    );
  });

  it('joins over libp2p, talks, and measures request and message latency', async () => {
    roomId = await a.client.createRoom(alice, { preset: 'public_chat', name: 'net' });
    await b.client.join(bob, roomId, [a.hs.serverName]);
    await c.client.join(carol, roomId, [a.hs.serverName]);
    await a.client.sendMessage(alice, roomId, 'hello from a');
    await b.client.sendMessage(bob, roomId, 'hello from b');
    await converge([a, b, c], roomId);
    expect(c.client.messageBodies(carol, roomId)).toEqual(expect.arrayContaining(['hello from a', 'hello from b']));

    // Request/response on a fresh stream each time (what every federation call costs).
    const rtts: number[] = [];
    for (let i = 0; i < 30; i++) {
      const t0 = performance.now();
      const res = await b.transport.request(a.hs.serverName, { kind: 'extremities', room_ids: [roomId] });
      rtts.push(performance.now() - t0);
      expect(res.ok).toBe(true);
    }
    const lat: number[] = [];
    for (let i = 0; i < 15; i++) lat.push(await messageLatency(a, alice, b, roomId, `m${i}`));
    console.log(
      `[net] TCP: federation request p50 ${p50(rtts).toFixed(1)} ms; message a→b (sign, commit, gossip, verify, commit) p50 ${p50(lat).toFixed(1)} ms`,
    );
    await converge([a, b, c], roomId);
  });

  it('partitions with block, both sides keep talking, and converges after unblock', async () => {
    for (const s of [b, c]) {
      a.transport.block(s.hs.serverName);
      s.transport.block(a.hs.serverName);
    }
    await until(
      () => a.transport.reachablePeers().length === 0 && !b.transport.reachablePeers().includes(a.hs.serverName),
      () => `partition: a→${a.transport.reachablePeers()} b→${b.transport.reachablePeers()}`,
    );
    await expect(b.transport.request(a.hs.serverName, { kind: 'publicRooms' })).rejects.toThrow(/unreachable|blocked/);
    await a.client.sendMessage(alice, roomId, 'a during partition');
    await b.client.sendMessage(bob, roomId, 'b during partition');
    await c.client.sendMessage(carol, roomId, 'c during partition');
    await converge([b, c], roomId);
    await new Promise((r) => setTimeout(r, 300));
    expect(a.client.messageBodies(alice, roomId)).not.toContain('b during partition');
    expect(b.client.messageBodies(bob, roomId)).not.toContain('a during partition');

    const t0 = performance.now();
    for (const s of [b, c]) {
      a.transport.unblock(s.hs.serverName);
      s.transport.unblock(a.hs.serverName);
    }
    await converge([a, b, c], roomId, 15_000);
    console.log(`[net] TCP: 3 servers converged ${(performance.now() - t0).toFixed(0)} ms after unblock`);
    for (const s of [a, b, c]) {
      const user = s === a ? alice : s === b ? bob : carol;
      expect(s.client.messageBodies(user, roomId)).toEqual(
        expect.arrayContaining(['a during partition', 'b during partition', 'c during partition']),
      );
    }
  });

  it('goes offline and back online', async () => {
    c.transport.setOffline(true);
    await until(() => c.transport.reachablePeers().length === 0, () => 'c offline');
    await a.client.sendMessage(alice, roomId, 'while c was offline');
    await converge([a, b], roomId);
    c.transport.setOffline(false);
    await converge([a, b, c], roomId, 15_000);
    expect(c.client.messageBodies(carol, roomId)).toContain('while c was offline');
  });

  it('reconnects after a one-sided block is lifted, whichever side lifts it', async () => {
    // The side with the higher PeerId waits for the other to dial first; here the other side never
    // blocked, so nothing may come and it must dial itself after the grace period.
    const [low, high] = [b, c].sort((x, y) => (x.hs.serverName < y.hs.serverName ? -1 : 1)) as [NetServer, NetServer];
    for (const [blocker, other] of [
      [high, low],
      [low, high],
    ] as const) {
      blocker.transport.block(other.hs.serverName);
      await until(() => !blocker.transport.reachablePeers().includes(other.hs.serverName), () => `${blocker.label} cut from ${other.label}`);
      blocker.transport.unblock(other.hs.serverName);
      await until(
        () => blocker.transport.reachablePeers().includes(other.hs.serverName) && other.transport.reachablePeers().includes(blocker.hs.serverName),
        () => `${blocker.label} and ${other.label} back in touch after ${blocker.label} unblocked`,
      );
    }
  });

  it('keeps one connection per link when both sides lift a partition at once', async () => {
    // Two servers sharing no room: nothing but the unblock itself dials (no outbox, no catch-up).
    const x = await server('x');
    const y = await server('y');
    await x.transport.dial(tcpAddr(y));
    await until(() => x.transport.reachablePeers().includes(y.hs.serverName) && y.transport.reachablePeers().includes(x.hs.serverName), () => 'x and y connected');
    x.transport.block(y.hs.serverName);
    y.transport.block(x.hs.serverName);
    await until(() => connectionsBetween(x, y) + connectionsBetween(y, x) === 0, () => 'x and y cut');
    x.transport.unblock(y.hs.serverName);
    y.transport.unblock(x.hs.serverName);
    await until(() => x.transport.reachablePeers().includes(y.hs.serverName) && y.transport.reachablePeers().includes(x.hs.serverName), () => 'x and y back');
    // Past the grace period after which the higher PeerId would dial if nothing had come.
    await new Promise((r) => setTimeout(r, 2_500));
    // Both dialling at once made two connections per link (62 of 100 links after libp2p-10-heal).
    expect([connectionsBetween(x, y), connectionsBetween(y, x)]).toEqual([1, 1]);
  });

  describe('hostile peers', () => {
    /** A bare libp2p node that speaks our protocols by hand. */
    async function hostile() {
      const node = await createLibp2p({
        addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
        transports: [tcp()],
        connectionEncrypters: [noise()],
        streamMuxers: [yamux()],
        services: {
          identify: identify(),
          pubsub: gossipsub({ globalSignaturePolicy: 'StrictSign', allowPublishToZeroTopicPeers: true, floodPublish: true }),
        },
      });
      cleanups.push(async () => {
        await node.stop();
      });
      await node.dial(multiaddr(tcpAddr(a)));
      return node;
    }

    async function exchange(stream: Stream, payload: Uint8Array): Promise<FederationResponse> {
      const lp = lpStream(stream, { maxDataLength: 8 * 1024 * 1024 });
      await lp.write(payload);
      return JSON.parse(new TextDecoder().decode((await lp.read()).subarray())) as FederationResponse;
    }

    it('refuses malformed, oversize, mis-routed and forged requests with error bodies, and keeps the connection', async () => {
      const h = await hostile();
      const target = peerIdFromString(a.hs.serverName);
      const open = (kind: Parameters<typeof protocolFor>[0]) => h.dialProtocol(target, protocolFor(kind));

      const notJson = await exchange(await open('event'), new TextEncoder().encode('{"kind": "event", oops'));
      expect(notJson).toMatchObject({ ok: false, body: { errcode: 'M_NOT_JSON' } });

      const notUtf8 = await exchange(await open('event'), new Uint8Array([0xff, 0xfe, 0x00]));
      expect(notUtf8).toMatchObject({ ok: false, body: { errcode: 'M_NOT_JSON' } });

      // An oversize frame: the length prefix alone is enough to refuse it, before the body is read.
      const big = await open('send');
      const lpBig = lpStream(big, { maxDataLength: 8 * 1024 * 1024 });
      const writing = lpBig.write(randomBytes(2 * 1024 * 1024)).catch(() => undefined);
      const tooLarge = JSON.parse(new TextDecoder().decode((await lpBig.read()).subarray())) as FederationResponse;
      expect(tooLarge).toMatchObject({ ok: false, status: 413, body: { errcode: 'M_TOO_LARGE' } });
      await writing;

      const misrouted = await exchange(await open('event'), new TextEncoder().encode(JSON.stringify({ kind: 'publicRooms' })));
      expect(misrouted).toMatchObject({ ok: false, body: { errcode: 'M_UNRECOGNIZED' } });

      // A transaction claiming to come from b, sent by someone else.
      const forged = await exchange(
        await open('send'),
        new TextEncoder().encode(
          JSON.stringify({ kind: 'send', txn_id: 'x', body: { origin: b.hs.serverName, origin_server_ts: Date.now(), pdus: [], edus: [] } }),
        ),
      );
      expect(forged).toMatchObject({ ok: false, status: 403, body: { errcode: 'M_FORBIDDEN' } });
      expect((forged as { body: { error: string } }).body.error).toContain(h.peerId.toString());

      // Closing a stream half-way through a frame breaks only that stream.
      const cut = await open('event');
      cut.send(new Uint8Array([0x80, 0x80]));
      await cut.close();

      // The connection survived all of that, and the hostile node is not taken for a homeserver.
      expect(h.getConnections(target).length).toBeGreaterThan(0);
      const ok = await exchange(await open('publicRooms'), new TextEncoder().encode(JSON.stringify({ kind: 'publicRooms' })));
      expect(ok.ok).toBe(true);
      expect(a.transport.reachablePeers()).not.toContain(h.peerId.toString());
      expect(a.transport.stats.federation.refused).toBeGreaterThanOrEqual(5);
    });

    it('rejects a flood of garbage gossip, hangs up on the flooder, and keeps federating', async () => {
      const h = await hostile();
      const topic = roomTopic(roomId);
      h.services.pubsub.subscribe(topic);
      await until(
        () => h.services.pubsub.getSubscribers(topic).some((p) => p.toString() === a.hs.serverName),
        () => 'the hostile node sees a on the room topic',
      );
      const before = a.transport.stats.gossip.rejected;
      const garbage = [
        new TextEncoder().encode('not json'),
        new TextEncoder().encode(JSON.stringify({ room_id: roomId, origin: b.hs.serverName, pdus: [] })), // forged origin
        new TextEncoder().encode(JSON.stringify({ room_id: '!other:x', origin: h.peerId.toString() })), // wrong room
        new TextEncoder().encode(JSON.stringify([1, 2, 3])),
      ];
      for (let i = 0; i < 60; i++) {
        await h.services.pubsub.publish(topic, garbage[i % garbage.length]!).catch(() => undefined);
      }
      await until(
        () => a.transport.stats.gossip.rejected - before >= 20 && h.getConnections(peerIdFromString(a.hs.serverName)).length === 0,
        () => `a rejects the garbage (${a.transport.stats.gossip.rejected - before}) and hangs up on the flooder`,
      );
      // The flooder is refused for a while: a's gater drops its new connection once Noise names it.
      await h.dial(multiaddr(tcpAddr(a))).catch(() => undefined);
      await until(
        () => a.transport.node.getConnections(h.peerId).length === 0,
        () => 'a refuses the flooder\'s new connection',
      );
      await a.client.sendMessage(alice, roomId, 'after the flood');
      await c.client.sendMessage(carol, roomId, 'c after the flood');
      await converge([a, b, c], roomId);
      expect(b.client.messageBodies(bob, roomId)).toEqual(expect.arrayContaining(['after the flood', 'c after the flood']));
    });
  });
});

describe('through a relay only', () => {
  let relay: Relay;
  beforeAll(async () => {
    relay = await startRelay({ port: 0, gossipHeartbeatMs: 200 });
    cleanups.push(() => relay.stop());
  });

  /** No listener of their own: the relay's circuit is the only way in. */
  const relayedOnly = () => ({ listen: ['/p2p-circuit'], bootstrap: [relay.tcpAddr] });

  it('two homeservers find each other through the relay and federate over the circuit', async () => {
    const d = await server('d', relayedOnly());
    const e = await server('e', relayedOnly());
    await until(
      () => d.transport.reachablePeers().includes(e.hs.serverName) && e.transport.reachablePeers().includes(d.hs.serverName),
      () => `d and e meet: d=${d.transport.multiaddrs()} e=${e.transport.multiaddrs()}`,
    );
    const link = d.transport.node.getConnections(peerIdFromString(e.hs.serverName));
    expect(link.length).toBeGreaterThan(0);
    expect(link.every((conn) => conn.remoteAddr.toString().includes('/p2p-circuit'))).toBe(true);
    // The relay is a peer, but not a homeserver.
    expect(d.transport.reachablePeers()).not.toContain(relay.peerId);

    const dave = await d.hs.register('dave');
    const erin = await e.hs.register('erin');
    const roomId = await d.client.createRoom(dave, { preset: 'public_chat' });
    await e.client.join(erin, roomId, [d.hs.serverName]); // make_join/send_join over the circuit
    const gossipBefore = e.transport.stats.gossip.received;
    const lat: number[] = [];
    for (let i = 0; i < 10; i++) lat.push(await messageLatency(d, dave, e, roomId, `relayed ${i}`));
    expect(e.transport.stats.gossip.received).toBeGreaterThan(gossipBefore);
    await converge([d, e], roomId);
    console.log(`[net] relayed: message d→e p50 ${p50(lat).toFixed(1)} ms`);
  });

  it('carries a 1 MiB response and gossip over the circuit (relay limits lifted)', async () => {
    const mk = async () => {
      const id = await identityFromSeed(randomBytes(32));
      const t = await createNodeTransport(id, { ...relayedOnly(), announceMs: 500, bootstrapRetryMs: 500 });
      cleanups.push(() => t.stop());
      return t;
    };
    const big = 'x'.repeat(1024 * 1024);
    const server1: Libp2pTransport = await mk();
    const client1: Libp2pTransport = await mk();
    let onBroadcast: ((from: string, m: RoomBroadcast) => void) | undefined;
    await server1.start(async (_origin, req) => ({ ok: true, body: (req.kind === 'backfill' ? { pdus: [big] } : { rooms: [] }) as JsonObject }), { onBroadcast: (from, m) => onBroadcast?.(from, m) });
    await client1.start(async () => ({ ok: false, status: 404, body: { errcode: 'M_NOT_FOUND', error: '' } }), {});
    await until(
      () => client1.reachablePeers().includes(server1.serverName),
      () => 'the bare transports meet through the relay',
    );
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      const res = await client1.request(server1.serverName, { kind: 'backfill', room_id: '!r:x', v: [], limit: 100 });
      times.push(performance.now() - t0);
      expect(res.ok && (res.body.pdus as string[])[0]!.length).toBe(big.length);
    }
    const conn = client1.node.getConnections(peerIdFromString(server1.serverName));
    expect(conn.every((x) => x.remoteAddr.toString().includes('/p2p-circuit'))).toBe(true);
    console.log(`[net] relayed: 1 MiB backfill response p50 ${p50(times).toFixed(0)} ms = ${(1000 / p50(times)).toFixed(1)} MiB/s`);

    const small: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      expect((await client1.request(server1.serverName, { kind: 'publicRooms' })).ok).toBe(true);
      small.push(performance.now() - t0);
    }
    console.log(`[net] relayed: federation request (new stream) p50 ${p50(small).toFixed(1)} ms`);

    // Gossip alone (publish → validator → onBroadcast), over the circuit.
    const room = '!gossip:x';
    server1.subscribe(room);
    client1.subscribe(room);
    await until(
      () => client1.node.services.pubsub.getSubscribers(roomTopic(room)).some((p) => p.toString() === server1.serverName),
      () => 'the client sees the server on the room topic',
    );
    const gossip: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      const got = new Promise<RoomBroadcast>((resolve) => {
        onBroadcast = (from, m) => {
          if (from === client1.serverName && m.edus?.[0]?.content.i === i) resolve(m);
        };
      });
      client1.broadcast({ room_id: room, origin: client1.serverName, edus: [{ edu_type: 'm.typing', content: { i } }] });
      await got;
      gossip.push(performance.now() - t0);
    }
    console.log(`[net] relayed: gossip publish→onBroadcast p50 ${p50(gossip).toFixed(1)} ms`);
  });
});

describe('gossip with no stream to write to', () => {
  it('a subscriber whose gossip stream is gone is not counted as reached: a typing change goes to it by request', async () => {
    const f = await server('f');
    const g = await server('g', { bootstrap: [tcpAddr(f)] });
    const fred = await f.hs.register('fred');
    const gina = await g.hs.register('gina');
    const roomId = await f.client.createRoom(fred, { preset: 'public_chat', name: 'typing' });
    await g.client.join(gina, roomId, [f.hs.serverName]);
    const topic = roomTopic(roomId);
    const pubsub = f.transport.node.services.pubsub;
    const gSubscribed = () => pubsub.getSubscribers(topic).some((p) => p.toString() === g.hs.serverName);
    /** f's outbound gossipsub streams to g: where everything f publishes for g is written. */
    const outboundGossip = (): Stream[] =>
      f.transport.node
        .getConnections(peerIdFromString(g.hs.serverName))
        .flatMap((c) => c.streams)
        .filter((st) => st.direction === 'outbound' && st.protocol?.startsWith('/meshsub/'));
    await until(
      () => gSubscribed() && outboundGossip().length > 0,
      () => `g subscribed (${gSubscribed()}) and f has a gossip stream to it (${outboundGossip().length})`,
    );

    // The stream goes; the connection, and g's subscription (which came over g's own stream), stay.
    // Gossipsub opens no new stream until a connection is reported again, and drops what it cannot write.
    for (const st of outboundGossip()) st.abort(new Error('test: the gossip stream is cut'));
    await until(() => outboundGossip().length === 0, () => 'the gossip stream closed');
    expect(gSubscribed()).toBe(true);
    expect(connectionsBetween(f, g)).toBeGreaterThan(0);

    await f.client.setTyping(fred, roomId, true);
    await until(
      () => typingUsers(g.hs, roomId).includes(fred),
      () => `g learns that fred is typing (g sees ${JSON.stringify(typingUsers(g.hs, roomId))})`,
    );
  });
});

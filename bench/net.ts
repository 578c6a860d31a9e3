/**
 * Network benchmarks in Node over real libp2p on 127.0.0.1:
 * - benchRelayedBackfill: two homeservers that can reach each other only
 *   through a circuit relay (no listener of their own but `/p2p-circuit`);
 *   A holds ~1 MiB of room history, B joins and backfills it over the
 *   relayed connection.
 * - benchLibp2pHeal: three homeservers over TCP, one partitioned away with
 *   the transport's `block`, 100 messages on each side, `unblock`, time until
 *   all three hold the same accepted events and the same state.
 *
 * Homeservers run with the engine's defaults (outbox backoff, anti-entropy
 * every 5 s, 10 s announcements): the figures are what a deployment sees,
 * not what the shortened test timers give.
 */
import { IDBFactory } from 'fake-indexeddb';
import type { Libp2pTransport } from '../src/net/libp2p-transport.ts';
import { type NodeTransportOptions, nodeTransportFactory } from '../src/net/node.ts';
import { type Relay, startRelay } from '../src/net/relay.ts';
import { HomeserverClient } from '../src/server/client.ts';
import { Homeserver } from '../src/server/homeserver.ts';
import { openNodeStore } from '../src/server/store/node.ts';

interface Server {
  label: string;
  hs: Homeserver;
  client: HomeserverClient;
  transport: Libp2pTransport;
}

let seq = 0;

async function startServer(label: string, opts: NodeTransportOptions): Promise<Server> {
  const store = await openNodeStore(`hearth-bench-net-${label}-${++seq}`, { indexedDB: new IDBFactory() });
  let transport: Libp2pTransport | undefined;
  const hs = await Homeserver.open({
    store,
    transport: nodeTransportFactory(opts, (t) => {
      transport = t;
    }),
  });
  return { label, hs, client: new HomeserverClient(hs), transport: transport! };
}

function tcpAddr(s: Server): string {
  const a = s.transport.multiaddrs().find((m) => m.includes('/tcp/') && !m.includes('/ws') && !m.includes('p2p-circuit'));
  if (!a) throw new Error(`${s.label} has no TCP address`);
  return a;
}

async function until(check: () => boolean, what: () => string, timeoutMs: number): Promise<void> {
  const start = performance.now();
  while (!check()) {
    if (performance.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function count(s: Server, roomId: string): number {
  try {
    return s.client.acceptedEventIds(roomId).length;
  } catch {
    return 0;
  }
}

function signature(s: Server, roomId: string): string {
  try {
    return JSON.stringify([s.client.acceptedEventIds(roomId), s.client.stateIds(roomId)]);
  } catch (err) {
    return `error: ${(err as Error).message}`;
  }
}

async function stopAll(servers: Server[], relay?: Relay): Promise<void> {
  await Promise.all(servers.map((s) => s.hs.stop().catch(() => undefined)));
  await relay?.stop().catch(() => undefined);
}

export interface BackfillResult {
  /** Events B pulled by backfill (and catch-up) after its join. */
  events: number;
  /** Canonical JSON size of the history B pulled (what the room holds). */
  historyBytes: number;
  /** Federation response bytes B received from join to done (what crossed the circuit). */
  wireBytes: number;
  /** ms from B's join returning until B holds every event A holds. */
  backfillMs: number;
  /** ms for make_join + send_join (room state only) over the circuit. */
  joinMs: number;
  /** MiB/s of history (historyBytes / backfillMs). */
  mibPerSecond: number;
  relayedOnly: boolean;
}

/**
 * A: 400 messages of ~2.5 KiB (≈1 MiB) while B is not yet in the room; B
 * joins through the relay; join's backfillHistory pulls the history in
 * pages of 200 events (verify, auth, persist all included).
 */
export async function benchRelayedBackfill(messages = 400, bodyBytes = 2500): Promise<BackfillResult> {
  const relay = await startRelay({ port: 0 });
  const servers: Server[] = [];
  try {
    const relayedOnly: NodeTransportOptions = { listen: ['/p2p-circuit'], bootstrap: [relay.tcpAddr] };
    const a = await startServer('a', relayedOnly);
    servers.push(a);
    const b = await startServer('b', relayedOnly);
    servers.push(b);
    await until(
      () => a.transport.reachablePeers().includes(b.hs.serverName) && b.transport.reachablePeers().includes(a.hs.serverName),
      () => 'a and b to meet through the relay',
      60_000,
    );
    const alice = await a.hs.register('alice');
    const bob = await b.hs.register('bob');
    const roomId = await a.client.createRoom(alice, { preset: 'public_chat', name: 'backfill' });
    const filler = 'lorem ipsum dolor sit amet '.repeat(Math.ceil(bodyBytes / 27)).slice(0, bodyBytes);
    for (let i = 0; i < messages; i++) await a.client.sendMessage(alice, roomId, `${i} ${filler}`);
    const idsBefore = new Set(a.client.acceptedEventIds(roomId));

    const t0 = performance.now();
    await b.client.join(bob, roomId, [a.hs.serverName]);
    const t1 = performance.now();
    const bytes1 = b.transport.stats.federation.responseBytesReceived;
    await until(
      () => count(b, roomId) >= count(a, roomId),
      () => `b's backfill: ${count(b, roomId)}/${count(a, roomId)} events`,
      120_000,
    );
    const t2 = performance.now();
    const wireBytes = b.transport.stats.federation.responseBytesReceived - bytes1;

    // The history's own size: every event B now holds that A had before the join, as JSON.
    const room = b.hs.requireRoom(roomId);
    let historyBytes = 0;
    let events = 0;
    for (const id of idsBefore) {
      const ev = room.get(id);
      if (!ev) continue;
      historyBytes += JSON.stringify(ev).length;
      events++;
    }
    const link = a.transport.node.getConnections().filter((c) => c.remotePeer.toString() === b.hs.serverName);
    const relayedOnlyLink = link.length > 0 && link.every((c) => c.remoteAddr.toString().includes('/p2p-circuit'));
    return {
      events,
      historyBytes,
      wireBytes,
      backfillMs: t2 - t1,
      joinMs: t1 - t0,
      mibPerSecond: historyBytes / 1024 / 1024 / ((t2 - t1) / 1000),
      relayedOnly: relayedOnlyLink,
    };
  } finally {
    await stopAll(servers, relay);
  }
}

export interface HealResult {
  /** ms from unblock until a, b, c have the same accepted event IDs and the same state IDs. */
  convergeMs: number;
  /** Accepted events in the room after convergence. */
  events: number;
  perSide: number;
}

/** Three servers over TCP; c is partitioned away; `perSide` messages on each side; unblock; converge. */
export async function benchLibp2pHeal(perSide = 100): Promise<HealResult> {
  const servers: Server[] = [];
  try {
    const a = await startServer('a', {});
    servers.push(a);
    const b = await startServer('b', { bootstrap: [tcpAddr(a)] });
    servers.push(b);
    const c = await startServer('c', { bootstrap: [tcpAddr(a), tcpAddr(b)] });
    servers.push(c);
    await until(
      () => servers.every((s) => s.transport.reachablePeers().length === 2),
      () => `full mesh: ${servers.map((s) => `${s.label}→${s.transport.reachablePeers().length}`).join(' ')}`,
      60_000,
    );
    const alice = await a.hs.register('alice');
    const bob = await b.hs.register('bob');
    const carol = await c.hs.register('carol');
    const roomId = await a.client.createRoom(alice, { preset: 'public_chat', name: 'heal' });
    await b.client.join(bob, roomId, [a.hs.serverName]);
    await c.client.join(carol, roomId, [a.hs.serverName]);
    const same = (group: Server[]) => group.every((s) => signature(s, roomId) === signature(group[0]!, roomId));
    await until(() => same(servers), () => 'convergence before the partition', 60_000);

    for (const s of [a, b]) {
      s.transport.block(c.hs.serverName);
      c.transport.block(s.hs.serverName);
    }
    await until(
      () => c.transport.reachablePeers().length === 0 && [a, b].every((s) => !s.transport.reachablePeers().includes(c.hs.serverName)),
      () => 'the partition',
      30_000,
    );
    // Both sides write at the same time: a and b half each on one side, c alone on the other.
    await Promise.all([
      (async () => {
        for (let i = 0; i < perSide; i++) {
          const [s, u] = i % 2 === 0 ? [a, alice] : [b, bob];
          await s.client.sendMessage(u, roomId, `ab ${i}`);
        }
      })(),
      (async () => {
        for (let i = 0; i < perSide; i++) await c.client.sendMessage(carol, roomId, `c ${i}`);
      })(),
    ]);
    await until(() => same([a, b]), () => 'a and b to agree during the partition', 60_000);

    const t0 = performance.now();
    for (const s of [a, b]) {
      s.transport.unblock(c.hs.serverName);
      c.transport.unblock(s.hs.serverName);
    }
    await until(
      () => same(servers),
      () => `convergence after unblock: ${servers.map((s) => `${s.label}=${count(s, roomId)}`).join(' ')}`,
      120_000,
    );
    return { convergeMs: performance.now() - t0, events: count(a, roomId), perSide };
  } finally {
    await stopAll(servers);
  }
}

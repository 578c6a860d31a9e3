/**
 * Homeservers over real libp2p on 127.0.0.1 for the network tests: each on
 * its own fake-indexeddb, its transport kept for partition control.
 */
import { IDBFactory } from 'fake-indexeddb';
import { HomeserverClient } from '../../src/server/client.ts';
import { Homeserver } from '../../src/server/homeserver.ts';
import { openNodeStore } from '../../src/server/store/node.ts';
import type { Libp2pTransport } from '../../src/net/libp2p-transport.ts';
import { type NodeTransportOptions, nodeTransportFactory } from '../../src/net/node.ts';

export interface NetServer {
  label: string;
  hs: Homeserver;
  client: HomeserverClient;
  transport: Libp2pTransport;
}

let seq = 0;

export async function startServer(label: string, opts: NodeTransportOptions = {}): Promise<NetServer> {
  const store = await openNodeStore(`hearth-net-${label}-${++seq}`, { indexedDB: new IDBFactory() });
  let transport: Libp2pTransport | undefined;
  const hs = await Homeserver.open({
    store,
    transport: nodeTransportFactory({ gossipHeartbeatMs: 200, announceMs: 1000, bootstrapRetryMs: 500, ...opts }, (t) => {
      transport = t;
    }),
    antiEntropyMs: 1000,
    outbox: { baseBackoffMs: 50, maxBackoffMs: 500 },
  });
  return { label, hs, client: new HomeserverClient(hs), transport: transport! };
}

/** A server's dialable TCP address (with /p2p). */
export function tcpAddr(s: NetServer): string {
  const a = s.transport.multiaddrs().find((m) => m.includes('/tcp/') && !m.includes('/ws') && !m.includes('p2p-circuit'));
  if (!a) throw new Error(`${s.label} has no TCP address`);
  return a;
}

export async function until(check: () => boolean, what: () => string, timeoutMs = 10_000): Promise<number> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - start;
}

export function signature(s: NetServer, roomId: string): string {
  try {
    return JSON.stringify([s.client.acceptedEventIds(roomId), s.client.stateIds(roomId)]);
  } catch (err) {
    return `error: ${(err as Error).message}`;
  }
}

export function converge(servers: NetServer[], roomId: string, timeoutMs = 10_000): Promise<number> {
  return until(
    () => servers.every((s) => signature(s, roomId) === signature(servers[0]!, roomId)),
    () =>
      `convergence of ${roomId}: ${servers
        .map((s) => {
          try {
            return `${s.label}=${s.client.acceptedEventIds(roomId).length} events`;
          } catch (err) {
            return `${s.label}: ${(err as Error).message}`;
          }
        })
        .join(', ')}`,
    timeoutMs,
  );
}

/**
 * The network of a tab's homeserver: libp2p over WebSockets to the relay
 * and circuit-relay-v2 through it to other tabs (browsers cannot listen;
 * the relay gives each tab a reachable `/p2p-circuit` address). Peers reached
 * through the relay are then upgraded to direct WebRTC links when the page
 * runs the bridge (src/app/webrtc-page.ts); without it they stay relayed.
 */
import { webSockets } from '@libp2p/websockets';
import { type Libp2pTransport, createLibp2pTransport } from '../net/libp2p-transport.ts';
import { directLinks } from '../net/webrtc/transport.ts';
import type { ServerIdentity } from '../server/identity.ts';
import type { Logger } from '../server/log.ts';
import { PageHost, type WorkerPort, attachDebugHooks } from './webrtc-worker.ts';

export async function createBrowserTransport(
  identity: ServerIdentity,
  relays: readonly string[],
  log?: Logger,
): Promise<Libp2pTransport> {
  // Only a dedicated worker has a page to ask for peer connections (globalThis.postMessage reaches it).
  const inWorker = typeof window === 'undefined' && typeof (globalThis as { postMessage?: unknown }).postMessage === 'function';
  const host = inWorker ? new PageHost(globalThis as unknown as WorkerPort) : undefined;
  const t = await createLibp2pTransport(identity, {
    listen: ['/p2p-circuit'],
    transports: host ? [webSockets(), directLinks(host)] : [webSockets()],
    bootstrap: [...relays],
    relaysInOrder: true,
    announceMs: 3000,
    bootstrapRetryMs: 2000,
    ...(log ? { log } : {}),
  });
  if (host) attachDebugHooks(host, t, relays);
  return t;
}

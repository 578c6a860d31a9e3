/**
 * The network of a tab's homeserver: libp2p over WebSockets to the relay
 * and circuit-relay-v2 through it to other tabs (browsers cannot listen;
 * the relay gives each tab a reachable `/p2p-circuit` address).
 */
import { webSockets } from '@libp2p/websockets';
import { type Libp2pTransport, createLibp2pTransport } from '../net/libp2p-transport.ts';
import type { ServerIdentity } from '../server/identity.ts';
import type { Logger } from '../server/log.ts';

export async function createBrowserTransport(
  identity: ServerIdentity,
  relays: readonly string[],
  log?: Logger,
): Promise<Libp2pTransport> {
  return createLibp2pTransport(identity, {
    listen: ['/p2p-circuit'],
    transports: [webSockets()],
    bootstrap: [...relays],
    announceMs: 3000,
    bootstrapRetryMs: 2000,
    ...(log ? { log } : {}),
  });
}

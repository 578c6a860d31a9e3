/**
 * The transport of a homeserver that moved away (moved.ts): no network at
 * all. The retired copy must not be on the network under its old name — its
 * libp2p PeerId is its server name, which the new copy now answers to — so it
 * serves no requests, joins no room topics and reaches no one. Its data stays
 * readable through the engine.
 */
import { UnreachableError } from '../federation/types.ts';
import type { Transport } from './types.ts';

export function retiredTransport(serverName: string): Transport {
  return {
    serverName,
    async start() {},
    async request(destination) {
      throw new UnreachableError(destination, `${destination} is not contacted: this homeserver moved away`);
    },
    subscribe() {},
    unsubscribe() {},
    broadcast: () => [],
    reachablePeers: () => [],
    async stop() {},
  };
}

/**
 * The network of a tab's homeserver. Until the libp2p transport is wired in,
 * a homeserver alone on an in-process network: fully functional locally,
 * federating with no one.
 */
import type { ServerIdentity } from '../server/identity.ts';
import { InProcessNetwork } from '../server/transport/in-process.ts';
import type { Transport } from '../server/transport/types.ts';

export async function createBrowserTransport(identity: ServerIdentity, _relays: readonly string[]): Promise<Transport> {
  return new InProcessNetwork().transport(identity.serverName);
}

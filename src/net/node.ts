/**
 * Node wiring for the libp2p transport (headless servers, tests, the
 * simulator): TCP beside WebSockets on 127.0.0.1. Kept apart from
 * libp2p-transport.ts so a browser bundle never imports @libp2p/tcp.
 *
 * Node peers talk TCP to each other and to the relay: Node 20 has no global
 * WebSocket, so *dialing* ws:// needs `node --experimental-websocket`, while
 * listening on ws (for browsers) works without it.
 */
import { tcp } from '@libp2p/tcp';
import { webSockets } from '@libp2p/websockets';
import type { ServerIdentity } from '../server/identity.ts';
import type { Transport } from '../server/transport/types.ts';
import { type Libp2pTransport, type Libp2pTransportOptions, createLibp2pTransport } from './libp2p-transport.ts';

export interface NodeTransportOptions extends Omit<Libp2pTransportOptions, 'transports'> {
  /** TCP port (0 = any free port). */
  port?: number;
  /** WebSockets port (0 = any free port); undefined = no ws listener. */
  wsPort?: number;
  /** Listen address host. */
  host?: string;
}

/** Listen addresses for a Node peer: TCP (and ws if asked), plus circuit-relay reservations. */
export function nodeListenAddrs(opts: { port?: number; wsPort?: number; host?: string } = {}): string[] {
  const host = opts.host ?? '127.0.0.1';
  const addrs = [`/ip4/${host}/tcp/${opts.port ?? 0}`];
  if (opts.wsPort !== undefined) addrs.push(`/ip4/${host}/tcp/${opts.wsPort}/ws`);
  addrs.push('/p2p-circuit');
  return addrs;
}

export function createNodeTransport(
  identity: Pick<ServerIdentity, 'serverName' | 'seed' | 'publicKey'>,
  opts: NodeTransportOptions = {},
): Promise<Libp2pTransport> {
  const { port, wsPort, host, ...rest } = opts;
  return createLibp2pTransport(identity, {
    listen: opts.listen ?? nodeListenAddrs({ ...(port !== undefined ? { port } : {}), ...(wsPort !== undefined ? { wsPort } : {}), ...(host ? { host } : {}) }),
    transports: [tcp(), webSockets()],
    ...rest,
  });
}

/**
 * The `transport` factory for `Homeserver.open`; `onCreated` hands the
 * concrete transport (partition control, addresses, stats) to the caller.
 */
export function nodeTransportFactory(
  opts: NodeTransportOptions = {},
  onCreated?: (t: Libp2pTransport) => void,
): (serverName: string, identity: ServerIdentity) => Promise<Transport> {
  return async (_name, identity) => {
    const t = await createNodeTransport(identity, opts);
    onCreated?.(t);
    return t;
  };
}

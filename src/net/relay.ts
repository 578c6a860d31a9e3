/**
 * The Hearth relay (Node): lets peers that cannot dial each other — browser
 * tabs above all — reach one another through circuit-relay-v2, and
 * introduces them: it carries the discovery topic, on which every homeserver
 * announces its PeerId and addresses (circuit ones included).
 *
 * Listens on WebSockets (browsers) and TCP (Node peers: Node 20 cannot dial
 * ws without a flag). Its key is persisted so its multiaddr, which pages and
 * servers are configured with, survives restarts. It is not a homeserver:
 * it does not speak /hearth/federation/1/*, so peers never count it as one.
 *
 * Two sets of limits: LOCAL_RELAY_LIMITS (npm start, tests, the simulator —
 * everything on one machine, nothing to protect) and PUBLIC_RELAY_LIMITS
 * (`hearth relay`, a service on the internet: bounded everywhere, see there
 * and docs/deploy.md for the numbers and why).
 */
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { autoNAT } from '@libp2p/autonat';
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2';
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import { type GossipSub, type Message, TopicValidatorResult, gossipsub } from '@libp2p/gossipsub';
import { identify } from '@libp2p/identify';
import type { PrivateKey } from '@libp2p/interface';
import { noise } from '@libp2p/noise';
import { ping } from '@libp2p/ping';
import { tcp } from '@libp2p/tcp';
import { webSockets } from '@libp2p/websockets';
import { yamux } from '@libp2p/yamux';
import { type Libp2p, createLibp2p } from 'libp2p';
import { type InboundLimits, PendingInboundGate, RELAY_INBOUND_LIMITS, connectionManagerLimits } from './inbound-limits.ts';
import { DISCOVERY_TOPIC, decodeJson } from './protocol.ts';
import { startRelayMetrics } from './relay-metrics.ts';

/**
 * What one relay grants. A reservation is a peer's standing slot (its
 * `/p2p-circuit` address); a circuit is one relayed connection between two
 * peers; hop and stop streams are how circuits are asked for and delivered
 * (one of each per live circuit, counted per connection, so per peer).
 */
export interface RelayLimits {
  /** Peers holding a reservation at once; the next one is refused until one expires or leaves. */
  maxReservations: number;
  /** How long a reservation lasts before its holder must refresh it (libp2p clients refresh on their own). */
  reservationTtlMs: number;
  /** Bytes one relayed connection may carry, both directions together; undefined: unlimited. */
  circuitDataLimitBytes?: number;
  /** How long one relayed connection may live (ms); undefined: unlimited. */
  circuitDurationLimitMs?: number;
  /** Circuits one peer may be dialling out through us at once (inbound hop streams per connection). */
  maxCircuitsOutPerPeer: number;
  /** Circuits that may end at one peer at once (outbound stop streams per connection). */
  maxCircuitsInPerPeer: number;
  /** Connections in all (peers, plus circuits' own streams do not count: they ride on them). */
  maxConnections: number;
}

/** One machine, the tests, the simulator: nothing to protect, and a room's history must never be cut. */
export const LOCAL_RELAY_LIMITS: RelayLimits = {
  maxReservations: 1024,
  reservationTtlMs: 24 * 60 * 60 * 1000,
  maxCircuitsOutPerPeer: 4096,
  maxCircuitsInPerPeer: 4096,
  maxConnections: 2048,
};

/**
 * A relay on the internet for a circle of friends (`hearth relay`'s defaults;
 * every number has a flag). Why these numbers (docs/deploy.md has the table):
 *  - 512 reservations: each is one homeserver (a tab or `hearth serve`) that
 *    is reachable through us; a few hundred people with a tab or two each.
 *  - 1 hour per reservation: clients refresh it before it lapses, so it only
 *    bounds how long a vanished peer holds a slot.
 *  - 64 MiB and 1 hour per relayed connection: libp2p's defaults (128 KiB,
 *    2 minutes) cut a 1 MiB backfill mid-stream. A room's history of 10,000
 *    ~1 KiB events with signatures and framing is ~20 MiB, so 64 MiB carries
 *    a whole catch-up with room to spare; past either limit the circuit
 *    closes and the two homeservers dial a fresh one on their next
 *    announcement (seconds), or keep talking over a direct WebRTC link.
 *  - 64 circuits each way per peer: a homeserver in rooms with 64 other
 *    homeservers all reached through us; tabs move to direct links anyway.
 *  - 1024 connections: reservations plus peers only passing through.
 * Handshake and per-IP connection-rate limits are RELAY_INBOUND_LIMITS.
 */
export const PUBLIC_RELAY_LIMITS: RelayLimits = {
  maxReservations: 512,
  reservationTtlMs: 60 * 60 * 1000,
  circuitDataLimitBytes: 64 * 1024 * 1024,
  circuitDurationLimitMs: 60 * 60 * 1000,
  maxCircuitsOutPerPeer: 64,
  maxCircuitsInPerPeer: 64,
  maxConnections: 1024,
};

export interface RelayOptions {
  /** WebSockets port (default 9090; 0 = any). */
  port?: number;
  /** TCP port for Node peers (default: any free port). */
  tcpPort?: number;
  host?: string;
  /** The multiaddrs to listen on, replacing port/tcpPort/host (at least one `/ws` one: browsers need it). */
  listen?: string[];
  /** The multiaddrs to tell peers instead of the listening ones (behind a proxy: `/dns4/HOST/tcp/443/wss`). */
  announce?: string[];
  /** PEM certificate and key: the WebSockets listener then also speaks TLS (wss) on the same port. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Where the relay's key lives; created on first start. Omit for an ephemeral key (tests). */
  keyFile?: string;
  /** Limits (default LOCAL_RELAY_LIMITS); fields given override the defaults. */
  limits?: Partial<RelayLimits>;
  /** @deprecated use limits.maxReservations */
  maxReservations?: number;
  /** Serve Prometheus metrics over HTTP at this host:port (port 0: any free port). */
  metrics?: { host: string; port: number };
  gossipHeartbeatMs?: number;
  /** Limits on inbound connections still in their handshake (default RELAY_INBOUND_LIMITS, see inbound-limits.ts). */
  inboundLimits?: Partial<InboundLimits>;
}

export interface Relay {
  node: Libp2p<{ pubsub: GossipSub } & Record<string, unknown>>;
  peerId: string;
  /** The (first) ws or wss multiaddr (what browsers are given). */
  wsAddr: string;
  /** The TCP multiaddr (what Node peers should dial); '' when no plain TCP address is listened on or announced. */
  tcpAddr: string;
  multiaddrs(): string[];
  /** The limits in force. */
  limits: RelayLimits;
  /** With opts.metrics: where the Prometheus text is served (http://host:port/metrics). */
  metricsUrl?: string;
  /** Live counts (also what the metrics endpoint reports). */
  counts(): RelayCounts;
  stop(): Promise<void>;
}

export interface RelayCounts {
  /** Distinct peers with an open connection to us. */
  peers: number;
  connections: number;
  /** Reservations whose holder is connected now (reachable through us). */
  reservations: number;
  /**
   * Reservation slots held, counted against maxReservations: libp2p keeps a
   * slot until its TTL even after its holder leaves (it is the same slot when
   * that peer comes back), so this is ≥ reservations.
   */
  reservationSlots: number;
  /** Relayed connections currently carried (one stop stream each). */
  circuits: number;
}

const STOP_PROTOCOL = '/libp2p/circuit/relay/0.2.0/stop';

/** Loads the relay's key from `file`, or creates it there (mode 0600). */
export async function loadOrCreateKey(file: string, warn: (msg: string) => void = () => undefined): Promise<PrivateKey> {
  try {
    const key = privateKeyFromProtobuf(await readFile(file));
    // Whoever can read it can impersonate the relay (its PeerId is in every config).
    if (((await stat(file)).mode & 0o077) !== 0) warn(`the relay key ${file} is readable by others: chmod 600 it`);
    return key;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new Error(`cannot read the relay key ${file}: ${(err as Error).message}`);
    }
  }
  const key = await generateKeyPair('Ed25519');
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, privateKeyToProtobuf(key), { mode: 0o600 });
  return key;
}

export async function startRelay(opts: RelayOptions = {}): Promise<Relay> {
  const host = opts.host ?? '127.0.0.1';
  const limits: RelayLimits = {
    ...LOCAL_RELAY_LIMITS,
    ...(opts.maxReservations !== undefined ? { maxReservations: opts.maxReservations } : {}),
    ...(opts.limits ?? {}),
  };
  // With a certificate the WebSockets listener is a TLS one (libp2p serves TLS only on /tls/ws or /wss addresses).
  const ws = opts.tls ? 'tls/ws' : 'ws';
  const listen = opts.listen ?? [`/ip4/${host}/tcp/${opts.port ?? 9090}/${ws}`, `/ip4/${host}/tcp/${opts.tcpPort ?? 0}`];
  if (!listen.some(isWebSocketAddr)) throw new Error(`the relay needs a WebSockets (/ws) listen address for browsers, got ${listen.join(' ')}`);
  if (opts.tls && !listen.some((a) => /\/(tls\/ws|wss)(\/|$)/.test(a))) {
    throw new Error(`a TLS certificate needs a /tls/ws (or /wss) listen address to serve it on, got ${listen.join(' ')}`);
  }
  const privateKey = opts.keyFile
    ? await loadOrCreateKey(opts.keyFile, (m) => process.stderr.write(`hearth relay warn: ${m}\n`))
    : await generateKeyPair('Ed25519');
  const metrics = opts.metrics ? await startRelayMetrics() : undefined;
  // Every tab comes from one IP (127.0.0.1 in tests): per-host limits are generous here.
  const inbound: InboundLimits = { ...RELAY_INBOUND_LIMITS, ...(opts.inboundLimits ?? {}) };
  const pending = new PendingInboundGate(inbound.maxPendingPerHost);
  const node = await createLibp2p({
    privateKey,
    addresses: { listen, ...(opts.announce?.length ? { announce: opts.announce } : {}) },
    transports: [webSockets(opts.tls ? { https: { cert: opts.tls.cert, key: opts.tls.key } } : {}), tcp(), circuitRelayTransport()],
    ...(metrics ? { metrics: metrics.libp2pMetrics } : {}),
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // Loopback and private addresses are the whole point of a local relay.
    // Idle sockets that never handshake are dropped after a few seconds and
    // may not take more than their host's share of the pending slots.
    connectionGater: {
      denyDialMultiaddr: () => false,
      denyInboundConnection: (maConn) => pending.denyInboundConnection(maConn),
      denyInboundUpgradedConnection: (_peer, maConn) => {
        pending.settle(maConn);
        return false;
      },
    },
    connectionManager: { maxConnections: limits.maxConnections, ...connectionManagerLimits(inbound) },
    services: {
      identify: identify(),
      ping: ping(),
      relay: circuitRelayServer(circuitRelayInit(limits)),
      // Answers its peers' AutoNAT dial-back requests (src/net/nat.ts) and checks its own addresses.
      autonat: autoNAT(),
      pubsub: gossipsub({
        globalSignaturePolicy: 'StrictSign',
        runOnLimitedConnection: true,
        allowPublishToZeroTopicPeers: true,
        // Peer exchange on prune: peers pruned from our mesh learn other peers.
        doPX: true,
        // Only the discovery topic is carried here; room traffic flows between homeservers.
        allowedTopics: [DISCOVERY_TOPIC],
        // Every tab reaches the relay from the same address (loopback or one
        // machine's IP): IP-colocation scoring would graylist them all once
        // more than ten are connected, and discovery would stop.
        scoreParams: { IPColocationFactorWeight: 0 },
        ...(opts.gossipHeartbeatMs ? { heartbeatInterval: opts.gossipHeartbeatMs } : {}),
      }),
    },
  });
  const pubsub = node.services.pubsub;
  pubsub.topicValidators.set(DISCOVERY_TOPIC, validateAnnouncement);
  pubsub.subscribe(DISCOVERY_TOPIC);
  const addrs = () => node.getMultiaddrs().map((m) => m.toString());
  const wsAddr = addrs().find(isWebSocketAddr);
  const tcpAddr = addrs().find((a) => !isWebSocketAddr(a) && a.includes('/tcp/')) ?? '';
  if (!wsAddr) {
    await node.stop();
    throw new Error(`the relay has no WebSockets address to give browsers: ${addrs().join(' ')}`);
  }
  const counts = () => relayCounts(node);
  let metricsUrl: string | undefined;
  if (metrics && opts.metrics) {
    try {
      metricsUrl = await metrics.serve(opts.metrics.host, opts.metrics.port, counts);
    } catch (err) {
      await node.stop();
      throw err;
    }
  }
  return {
    node,
    peerId: node.peerId.toString(),
    wsAddr,
    tcpAddr,
    multiaddrs: addrs,
    limits,
    ...(metricsUrl ? { metricsUrl } : {}),
    counts,
    stop: async () => {
      await metrics?.close();
      await node.stop();
    },
  };
}

/** `/ws`, `/wss` or `/tls/ws` (what browsers dial). */
function isWebSocketAddr(addr: string): boolean {
  return /\/(ws|wss)(\/|$)/.test(addr);
}

/** The circuit-relay-v2 server options for `limits`. */
export function circuitRelayInit(limits: RelayLimits): Parameters<typeof circuitRelayServer>[0] {
  const bounded = limits.circuitDataLimitBytes !== undefined || limits.circuitDurationLimitMs !== undefined;
  return {
    reservations: {
      maxReservations: limits.maxReservations,
      reservationTtl: limits.reservationTtlMs,
      // libp2p applies both limits or neither: an unset one is made effectively unlimited.
      applyDefaultLimit: bounded,
      ...(bounded
        ? {
            defaultDataLimit: BigInt(limits.circuitDataLimitBytes ?? Number.MAX_SAFE_INTEGER),
            // In ms, and a timer: Node's timers stop at 2^31-1 ms (~24.8 days).
            defaultDurationLimit: Math.min(limits.circuitDurationLimitMs ?? MAX_TIMER_MS, MAX_TIMER_MS),
          }
        : {}),
    },
    maxInboundHopStreams: limits.maxCircuitsOutPerPeer,
    maxOutboundHopStreams: limits.maxCircuitsOutPerPeer,
    maxOutboundStopStreams: limits.maxCircuitsInPerPeer,
  };
}

function relayCounts(node: Relay['node']): RelayCounts {
  const conns = node.getConnections();
  const peers = new Set(conns.map((c) => c.remotePeer.toString()));
  let circuits = 0;
  for (const c of conns) for (const s of c.streams) if (s.protocol === STOP_PROTOCOL && s.direction === 'outbound') circuits++;
  const held = (node.services.relay as { reservations?: Map<{ toString(): string }, unknown> }).reservations;
  const holders = held ? [...held.keys()].map(String) : [];
  return {
    peers: peers.size,
    connections: conns.length,
    reservations: holders.filter((p) => peers.has(p)).length,
    reservationSlots: holders.length,
    circuits,
  };
}

/** The longest delay a Node timer takes (longer ones fire at once). */
export const MAX_TIMER_MS = 0x7fff_ffff;

/** The relay forwards only announcements a peer makes about itself. */
function validateAnnouncement(_peer: unknown, msg: Message): TopicValidatorResult {
  if (msg.type !== 'signed') return TopicValidatorResult.Reject;
  const a = decodeJson(msg.data) as { peer_id?: unknown; addrs?: unknown } | undefined;
  if (!a || typeof a !== 'object' || a.peer_id !== msg.from.toString() || !Array.isArray(a.addrs)) return TopicValidatorResult.Reject;
  return TopicValidatorResult.Accept;
}

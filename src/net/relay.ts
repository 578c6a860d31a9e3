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
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
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

export interface RelayOptions {
  /** WebSockets port (default 9090; 0 = any). */
  port?: number;
  /** TCP port for Node peers (default: any free port). */
  tcpPort?: number;
  host?: string;
  /** Where the relay's key lives; created on first start. Omit for an ephemeral key (tests). */
  keyFile?: string;
  maxReservations?: number;
  gossipHeartbeatMs?: number;
  /** Limits on inbound connections still in their handshake (default RELAY_INBOUND_LIMITS, see inbound-limits.ts). */
  inboundLimits?: Partial<InboundLimits>;
}

export interface Relay {
  node: Libp2p<{ pubsub: GossipSub } & Record<string, unknown>>;
  peerId: string;
  /** The ws multiaddr (what browsers are given). */
  wsAddr: string;
  /** The TCP multiaddr (what Node peers should dial). */
  tcpAddr: string;
  multiaddrs(): string[];
  stop(): Promise<void>;
}

/** Loads the relay's key from `file`, or creates it there (mode 0600). */
export async function loadOrCreateKey(file: string): Promise<PrivateKey> {
  try {
    return privateKeyFromProtobuf(await readFile(file));
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
  const privateKey = opts.keyFile ? await loadOrCreateKey(opts.keyFile) : await generateKeyPair('Ed25519');
  // Every tab comes from one IP (127.0.0.1 in tests): per-host limits are generous here.
  const inbound: InboundLimits = { ...RELAY_INBOUND_LIMITS, ...(opts.inboundLimits ?? {}) };
  const pending = new PendingInboundGate(inbound.maxPendingPerHost);
  const node = await createLibp2p({
    privateKey,
    addresses: { listen: [`/ip4/${host}/tcp/${opts.port ?? 9090}/ws`, `/ip4/${host}/tcp/${opts.tcpPort ?? 0}`] },
    transports: [webSockets(), tcp(), circuitRelayTransport()],
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
    connectionManager: { maxConnections: 2048, ...connectionManagerLimits(inbound) },
    services: {
      identify: identify(),
      ping: ping(),
      relay: circuitRelayServer({
        // The default limits (128 KiB, 2 minutes per relayed connection) kill
        // a 1 MiB backfill mid-stream and every long conversation: lift them.
        reservations: {
          applyDefaultLimit: false,
          maxReservations: opts.maxReservations ?? 1024,
          reservationTtl: 24 * 60 * 60 * 1000,
        },
        maxInboundHopStreams: 4096,
        maxOutboundHopStreams: 4096,
        maxOutboundStopStreams: 4096,
      }),
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
  const wsAddr = addrs().find((a) => a.includes('/ws/'));
  const tcpAddr = addrs().find((a) => !a.includes('/ws') && a.includes('/tcp/'));
  if (!wsAddr || !tcpAddr) throw new Error(`the relay is not listening on ws and tcp: ${addrs().join(' ')}`);
  return {
    node,
    peerId: node.peerId.toString(),
    wsAddr,
    tcpAddr,
    multiaddrs: addrs,
    stop: async () => {
      await node.stop();
    },
  };
}

/** The relay forwards only announcements a peer makes about itself. */
function validateAnnouncement(_peer: unknown, msg: Message): TopicValidatorResult {
  if (msg.type !== 'signed') return TopicValidatorResult.Reject;
  const a = decodeJson(msg.data) as { peer_id?: unknown; addrs?: unknown } | undefined;
  if (!a || typeof a !== 'object' || a.peer_id !== msg.from.toString() || !Array.isArray(a.addrs)) return TopicValidatorResult.Reject;
  return TopicValidatorResult.Accept;
}

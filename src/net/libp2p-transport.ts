/**
 * The engine's Transport over libp2p: one libp2p node per homeserver whose
 * key is the server's Ed25519 key, so the PeerId that Noise authenticates is
 * the server name. Federation requests travel on one stream each (one
 * length-prefixed JSON frame per direction), room traffic on gossipsub.
 *
 * Platform-neutral: the listen addresses and platform transports (TCP in
 * Node; WebSockets only in a browser worker) come in through options, see
 * node.ts for the Node wiring. Circuit-relay-v2 is always on, so a peer that
 * can only reach the relay still federates.
 *
 * Partitions are enforced here, not simulated: a blocked peer is refused by
 * the connection gater, its connections are closed, its streams refused and
 * its gossip ignored, exactly what a firewall between the two would do.
 */
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2';
import { privateKeyFromRaw } from '@libp2p/crypto/keys';
import { type GossipSub, type Message, TopicValidatorResult, gossipsub } from '@libp2p/gossipsub';
import { type Identify, identify } from '@libp2p/identify';
import type { Connection, PeerId, Stream } from '@libp2p/interface';
import { noise } from '@libp2p/noise';
import { peerIdFromString } from '@libp2p/peer-id';
import { type Ping, ping } from '@libp2p/ping';
import { InvalidDataLengthError, InvalidDataLengthLengthError, lpStream } from '@libp2p/utils';
import { webSockets } from '@libp2p/websockets';
import { yamux } from '@libp2p/yamux';
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr';
import { type Libp2p, type Libp2pOptions, createLibp2p } from 'libp2p';
import type { FederationRequest, FederationResponse } from '../server/federation/types.ts';
import { UnreachableError } from '../server/federation/types.ts';
import { type Logger, silentLogger } from '../server/log.ts';
import { byteString } from '../core/bytes.ts';
import { relayPlan } from './relay-order.ts';
import { type MergeDedupeStats, skipRepeatedMerges } from './peer-store-merges.ts';
import { type InboundLimits, NODE_INBOUND_LIMITS, PendingInboundGate, connectionManagerLimits } from './inbound-limits.ts';
import type { RequestHandler, RoomBroadcast, Transport, TransportEvents } from '../server/transport/types.ts';
import {
  DEFAULT_LIMITS,
  DISCOVERY_TOPIC,
  FEDERATION_KINDS,
  HOMESERVER_MARKER_PROTOCOL,
  ROOM_TOPIC_PREFIX,
  type WireLimits,
  decodeJson,
  encodeJson,
  errorBody,
  protocolFor,
  requestProblem,
  roomTopic,
  statusFor,
} from './protocol.ts';

export type TransportFactory = NonNullable<Libp2pOptions['transports']>[number];

export interface Libp2pTransportOptions {
  /** Listen multiaddrs (Node: TCP and WS on 127.0.0.1; a browser: none but `/p2p-circuit`). */
  listen?: string[];
  /** Platform transports; circuit-relay-v2 is always added. Default: WebSockets (dial-only in a browser). */
  transports?: TransportFactory[];
  /** Relays and bootstrap peers to dial at start, again whenever the link drops, and after going online. */
  bootstrap?: string[];
  /** Addresses learned out of band (`/…/p2p/<peer>` multiaddrs), added to the peer store. */
  knownAddrs?: string[];
  /** Dial homeservers announced on the discovery topic (default true: small networks, everyone meets). */
  dialDiscovered?: boolean;
  /**
   * The bootstrap list is relays in order of preference (relay-order.ts): the
   * earliest reachable one is used and later ones are let go. Default false:
   * every bootstrap peer is dialled and kept.
   */
  relaysInOrder?: boolean;
  /**
   * More libp2p services by name — `hearth serve` adds AutoNAT and DCUtR
   * (src/net/nat.ts) — given here so the browser bundle does not carry them.
   */
  extraServices?: Record<string, (components: never) => unknown>;
  /** How often to re-announce ourselves on the discovery topic (ms). */
  announceMs?: number;
  /** How often to re-dial lost bootstrap peers (ms). */
  bootstrapRetryMs?: number;
  /** Federation request timeout, dial included (ms). */
  requestTimeoutMs?: number;
  /** How long an inbound stream may take to deliver its request frame (ms). */
  inboundReadTimeoutMs?: number;
  limits?: Partial<WireLimits>;
  /** Rejected gossip messages from one peer before we hang up on it and refuse it for `strikeBanMs`. */
  maxGossipStrikes?: number;
  strikeBanMs?: number;
  /** Gossip heartbeat (ms); tests shorten it so meshes form quickly. */
  gossipHeartbeatMs?: number;
  /** Limits on inbound connections still in their handshake (default NODE_INBOUND_LIMITS, see inbound-limits.ts). */
  inboundLimits?: Partial<InboundLimits>;
  log?: Logger;
}

export interface TransportStats {
  /** Client side: requests we sent and the responses we got; server side: requests we served or refused. */
  federation: {
    requestsSent: number;
    requestBytesSent: number;
    responsesReceived: number;
    responseBytesReceived: number;
    requestsReceived: number;
    requestBytesReceived: number;
    responseBytesSent: number;
    refused: number;
    /** Client side, per request kind (send, get_missing_events, …): requests answered, and their bytes each way. */
    byKind: Record<string, { requests: number; requestBytes: number; responseBytes: number }>;
  };
  gossip: { published: number; bytesPublished: number; received: number; bytesReceived: number; rejected: number };
  /** libp2p peer-store merges done, and repeats skipped (peer-store-merges.ts). */
  peerStore: MergeDedupeStats;
}

/** The libp2p transport: the engine's interface plus partition control, addresses and stats. */
export interface Libp2pTransport extends Transport {
  readonly node: Libp2p<Services>;
  readonly stats: TransportStats;
  /** Our dialable addresses (including `/p2p-circuit` ones once a relay reserved us a slot). */
  multiaddrs(): string[];
  /** Adds addresses for a peer (`/…/p2p/<peer>` multiaddrs) to the peer store. */
  addAddrs(addrs: string[]): Promise<void>;
  /** Dials a peer now (by server name or multiaddr); resolves when connected. */
  dial(target: string): Promise<void>;
  block(peer: string): void;
  unblock(peer: string): void;
  isBlocked(peer: string): boolean;
  setOffline(offline: boolean): void;
  readonly offline: boolean;
  /**
   * Replaces the relays and bootstrap peers (a relay came back with a new
   * identity, so its old `/p2p/…` address can never answer again) and dials
   * the new ones now; the old ones are no longer dialled.
   */
  setBootstrap(addrs: readonly string[]): void;
}

interface Services extends Record<string, unknown> {
  identify: Identify;
  ping: Ping;
  pubsub: GossipSub;
}

/** The announcement each node publishes on the discovery topic. */
interface Announcement {
  peer_id: string;
  addrs: string[];
  homeserver: boolean;
}

const DEFAULTS = {
  requestTimeoutMs: 30_000,
  inboundReadTimeoutMs: 10_000,
  announceMs: 10_000,
  bootstrapRetryMs: 5_000,
  maxGossipStrikes: 20,
  strikeBanMs: 60_000,
};

/**
 * How long a peer-store merge makes an identical one redundant. Minutes, well under the hour
 * after which libp2p's store lets an address lapse unless it is recorded again.
 */
const PEER_STORE_MERGE_TTL_MS = 5 * 60_000;

/**
 * After an unblock, how long the homeserver with the higher PeerId waits for the other to dial
 * before it dials itself: long enough for a dial and its handshake on a busy machine (a heal
 * saturates the event loop for a second or two), short against a partition.
 */
const REDIAL_GRACE_MS = 2_000;

/**
 * The same wait after hearing a homeserver's announcement: shorter, since the other side may not
 * have heard ours at all: a tab that just opened is still met by the tabs already there within
 * half a second, whichever PeerId is lower.
 */
const ANNOUNCED_GRACE_MS = 500;

/** The 64-byte libp2p Ed25519 private key (seed ‖ public key) of a server identity. */
export function libp2pPrivateKey(identity: { seed: Uint8Array; publicKey: Uint8Array }) {
  const raw = new Uint8Array(64);
  raw.set(identity.seed, 0);
  raw.set(identity.publicKey, 32);
  return privateKeyFromRaw(raw);
}

export async function createLibp2pTransport(
  identity: { serverName: string; seed: Uint8Array; publicKey: Uint8Array },
  opts: Libp2pTransportOptions = {},
): Promise<Libp2pTransport> {
  const t = new Libp2pTransportImpl(identity.serverName, opts);
  await t.init(identity);
  return t;
}

class Libp2pTransportImpl implements Libp2pTransport {
  node!: Libp2p<Services>;
  readonly stats: TransportStats = {
    federation: {
      requestsSent: 0,
      requestBytesSent: 0,
      responsesReceived: 0,
      responseBytesReceived: 0,
      requestsReceived: 0,
      requestBytesReceived: 0,
      responseBytesSent: 0,
      refused: 0,
      byKind: {},
    },
    gossip: { published: 0, bytesPublished: 0, received: 0, bytesReceived: 0, rejected: 0 },
    peerStore: { merged: 0, skipped: 0 },
  };
  private handler?: RequestHandler;
  private events: TransportEvents = {};
  private readonly limits: WireLimits;
  /** Requests being handled, per origin (see WireLimits.maxInFlightPerPeer). */
  private readonly inFlight = new Map<string, number>();
  private readonly log: Logger;
  private readonly blocked = new Set<string>();
  /** Peers refused for a while after flooding us with invalid gossip: peer → until (ms). */
  private readonly banned = new Map<string, number>();
  private readonly strikes = new Map<string, number>();
  private isOffline = false;
  /** Peers that identified with the homeserver protocols (relays and tools do not). */
  private readonly homeservers = new Set<string>();
  /** Homeservers currently reported up to the engine. */
  private readonly up = new Set<string>();
  private readonly rooms = new Set<string>();
  private readonly timers: ReturnType<typeof setInterval>[] = [];
  /** Dials put off to let the other homeserver dial first (`dialHomeserver`). */
  private readonly redialTimers = new Set<ReturnType<typeof setTimeout>>();
  private started = false;
  private stopped = false;
  /** Relays and bootstrap peers (opts.bootstrap until setBootstrap replaces them). */
  private bootstrap: string[];

  constructor(
    readonly serverName: string,
    private readonly opts: Libp2pTransportOptions,
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...(opts.limits ?? {}) };
    this.log = opts.log ?? silentLogger;
    this.bootstrap = [...(opts.bootstrap ?? [])];
  }

  get offline(): boolean {
    return this.isOffline;
  }

  /** Refused by the gater: offline, blocked, or banned for flooding. */
  private refused(peer: string): boolean {
    if (this.isOffline || this.blocked.has(peer)) return true;
    const until = this.banned.get(peer);
    if (until === undefined) return false;
    if (Date.now() < until) return true;
    this.banned.delete(peer);
    this.strikes.delete(peer);
    return false;
  }

  async init(identity: { serverName: string; seed: Uint8Array; publicKey: Uint8Array }): Promise<void> {
    const privateKey = libp2pPrivateKey(identity);
    const refusePeer = (p: PeerId) => this.refused(p.toString());
    const inbound: InboundLimits = { ...NODE_INBOUND_LIMITS, ...(this.opts.inboundLimits ?? {}) };
    const pending = new PendingInboundGate(inbound.maxPendingPerHost);
    this.node = await createLibp2p<Services>({
      privateKey,
      start: false,
      addresses: { listen: this.opts.listen ?? ['/p2p-circuit'] },
      transports: [...(this.opts.transports ?? [webSockets()]), circuitRelayTransport()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      // Our own gater replaces the default one, which in browsers refuses
      // private addresses and ws:// — the local relay is both — and is where
      // block/offline are enforced, and the per-host limit on pending
      // handshakes (idle sockets must not lock new peers out).
      connectionGater: {
        denyDialMultiaddr: () => this.isOffline,
        denyDialPeer: refusePeer,
        denyInboundConnection: (maConn) => this.isOffline || pending.denyInboundConnection(maConn),
        denyInboundEncryptedConnection: refusePeer,
        denyOutboundEncryptedConnection: refusePeer,
        denyInboundUpgradedConnection: (peer, maConn) => {
          pending.settle(maConn);
          return refusePeer(peer);
        },
        denyOutboundUpgradedConnection: refusePeer,
        denyInboundRelayedConnection: (_relay, remote) => refusePeer(remote),
      },
      connectionManager: { maxConnections: 300, ...connectionManagerLimits(inbound) },
      services: {
        identify: identify(),
        ping: ping(),
        pubsub: gossipsub({
          globalSignaturePolicy: 'StrictSign',
          // A message arrives from every mesh peer, and by default each copy's signature is checked
          // before it is known to be a duplicate: at ten servers that was most of the gossip CPU.
          // Under StrictSign the message ID is (from, seqno), so this is the same ID read before the
          // check; only verified messages enter its cache, so a forged copy cannot shadow a real one.
          fastMsgIdFn: gossipFastMsgId,
          runOnLimitedConnection: true,
          allowPublishToZeroTopicPeers: true,
          ignoreDuplicatePublishError: true,
          emitSelf: false,
          maxInboundDataLength: this.limits.maxGossipBytes,
          // Tabs and relayed peers share addresses (one machine, one relay): do
          // not graylist them for IP colocation. Misbehaviour is still scored
          // (invalid messages) and cut off by the strike counter.
          scoreParams: { IPColocationFactorWeight: 0 },
          ...(this.opts.gossipHeartbeatMs ? { heartbeatInterval: this.opts.gossipHeartbeatMs } : {}),
        }),
        ...((this.opts.extraServices ?? {}) as Record<string, never>),
      },
    });
    // Every stream opened or accepted, and every announcement, merged the same data into the
    // peer's record again: two full record rewrites per federation request (peer-store-merges.ts).
    this.stats.peerStore = skipRepeatedMerges(this.node.peerStore, { ttlMs: PEER_STORE_MERGE_TTL_MS });
    if (this.node.peerId.toString() !== this.serverName) {
      throw new Error(`libp2p PeerId ${this.node.peerId.toString()} is not the server name ${this.serverName}`);
    }
  }

  async start(handler: RequestHandler, events: TransportEvents): Promise<void> {
    this.handler = handler;
    this.events = events;
    const node = this.node;
    for (const kind of FEDERATION_KINDS) {
      await node.handle(protocolFor(kind), (stream, conn) => this.serve(stream, conn, protocolFor(kind)), {
        runOnLimitedConnection: true,
        maxInboundStreams: 256,
        maxOutboundStreams: 256,
      });
    }
    node.addEventListener('peer:identify', (evt) => {
      const peer = evt.detail.peerId.toString();
      if (evt.detail.protocols.includes(HOMESERVER_MARKER_PROTOCOL)) {
        this.homeservers.add(peer);
        this.markUp(peer);
      }
    });
    node.addEventListener('peer:connect', (evt) => {
      const peer = evt.detail.toString();
      if (this.homeservers.has(peer)) this.markUp(peer);
    });
    node.addEventListener('peer:disconnect', (evt) => this.markDown(evt.detail.toString()));
    const pubsub = node.services.pubsub;
    pubsub.addEventListener('message', (evt) => this.onGossip(evt.detail));
    pubsub.topicValidators.set(DISCOVERY_TOPIC, (peer, msg) => this.validateAnnouncement(peer, msg));
    node.addEventListener('self:peer:update', () => this.announceSoon());

    await node.start();
    // Every homeserver carries the discovery topic, so it reaches peers through any of us, not only the relay.
    pubsub.subscribe(DISCOVERY_TOPIC);
    this.started = true;
    if (this.opts.knownAddrs?.length) await this.addAddrs(this.opts.knownAddrs);
    for (const room of this.rooms) this.subscribeTopic(room);
    this.dialBootstrap();
    this.timers.push(setInterval(() => this.dialBootstrap(), this.opts.bootstrapRetryMs ?? DEFAULTS.bootstrapRetryMs));
    this.timers.push(setInterval(() => this.announce(), this.opts.announceMs ?? DEFAULTS.announceMs));
    this.announceSoon();
  }

  // ---- peers -----------------------------------------------------------

  private markUp(peer: string): void {
    if (this.up.has(peer) || this.refused(peer) || this.stopped) return;
    if (this.node.getConnections(peerIdFromString(peer)).length === 0) return;
    this.up.add(peer);
    this.events.onPeerUp?.(peer);
  }

  private markDown(peer: string): void {
    if (!this.up.delete(peer)) return;
    this.events.onPeerDown?.(peer);
  }

  reachablePeers(): string[] {
    return [...this.up];
  }

  multiaddrs(): string[] {
    return this.node.getMultiaddrs().map((m) => m.toString());
  }

  /**
   * A server we have never heard announced (e.g. the user typed its user ID)
   * is still reachable through our relays: a relay's circuit address for it
   * is a guess worth trying before waiting for discovery.
   */
  private async ensureRoute(peerId: PeerId): Promise<void> {
    if (this.node.getConnections(peerId).length > 0) return;
    let known = 0;
    try {
      known = (await this.node.peerStore.get(peerId)).addresses.length;
    } catch {
      known = 0; // not in the peer store at all
    }
    if (known > 0) return;
    const relays = this.bootstrap.filter((a) => a.includes('/p2p/'));
    if (relays.length > 0) await this.addAddrs(relays.map((r) => `${r}/p2p-circuit/p2p/${peerId.toString()}`));
  }

  async addAddrs(addrs: string[]): Promise<void> {
    const byPeer = new Map<string, Multiaddr[]>();
    for (const text of addrs) {
      let ma: Multiaddr;
      try {
        ma = multiaddr(text);
      } catch {
        continue;
      }
      const peer = peerOfMultiaddr(ma);
      if (!peer || peer === this.serverName) continue;
      const list = byPeer.get(peer) ?? [];
      list.push(ma);
      byPeer.set(peer, list);
    }
    for (const [peer, list] of byPeer) {
      try {
        await this.node.peerStore.merge(peerIdFromString(peer), { multiaddrs: list });
      } catch (err) {
        this.log('debug', 'could not record addresses', { peer, error: String(err) });
      }
    }
  }

  async dial(target: string): Promise<void> {
    const to = target.startsWith('/') ? multiaddr(target) : peerIdFromString(target);
    await this.node.dial(to, { signal: AbortSignal.timeout(this.opts.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs) });
  }

  /** Dials the relays in order of preference and lets go of those after the one in use (relay-order.ts). */
  private dialBootstrap(): void {
    if (this.isOffline || this.stopped) return;
    const connected = (peer: string) => {
      try {
        return this.node.getConnections(peerIdFromString(peer)).some((c) => c.status === 'open');
      } catch {
        return false;
      }
    };
    const plan = this.opts.relaysInOrder ? relayPlan(this.bootstrap, connected, this.serverName) : { dial: this.bootstrap, hangUp: [], inUse: undefined };
    for (const addr of plan.dial) {
      let ma: Multiaddr;
      try {
        ma = multiaddr(addr);
      } catch {
        this.log('warn', 'bad bootstrap multiaddr', { addr });
        continue;
      }
      const peer = peerOfMultiaddr(ma);
      if (peer && connected(peer)) continue;
      this.node.dial(ma, { signal: AbortSignal.timeout(10_000) }).catch((err: unknown) => {
        this.log('debug', 'bootstrap dial failed', { addr, error: String(err) });
      });
    }
    for (const peer of plan.hangUp) {
      this.log('info', 'an earlier relay in the list is back: leaving the later one', { relay: peer, in_use: plan.inUse ?? '' });
      void this.node.hangUp(peerIdFromString(peer)).catch(() => undefined);
    }
  }

  setBootstrap(addrs: readonly string[]): void {
    this.bootstrap = [...addrs];
    if (this.started) this.dialBootstrap();
  }

  block(peer: string): void {
    this.blocked.add(peer);
    this.hangUp(peer);
  }

  unblock(peer: string): void {
    if (!this.blocked.delete(peer)) return;
    // Re-dial: the peer learns we are back through its own peer:connect and
    // we fire onPeerUp once identify confirms it is a homeserver.
    if (this.homeservers.has(peer)) this.dialHomeserver(peer, REDIAL_GRACE_MS);
    else this.redial(peer);
  }

  /**
   * Connects to a homeserver, when both sides are likely to try at once: a partition heals on
   * both sides together, and two servers hear each other's announcements. Both dialling made two
   * connections per link (62 of 100 links after libp2p-10-heal, 22 of 100 after its joins: twice
   * the Noise handshakes, identify exchanges and gossip streams, in the busiest second of a heal).
   * The lower PeerId dials; the higher one dials only if nothing has connected a moment later (the
   * other side may not have heard of us, may still block us, or cannot reach us).
   */
  private dialHomeserver(peer: string, graceMs: number): void {
    if (peer > this.serverName) {
      this.redial(peer);
      return;
    }
    const timer = setTimeout(() => {
      this.redialTimers.delete(timer);
      this.redial(peer);
    }, graceMs);
    this.redialTimers.add(timer);
  }

  private redial(peer: string): void {
    if (this.stopped || this.isOffline || this.refused(peer)) return;
    const id = peerIdFromString(peer);
    if (this.node.getConnections(id).length > 0) return;
    this.node.dial(id, { signal: AbortSignal.timeout(10_000) }).catch((err: unknown) => {
      this.log('debug', 'could not dial a homeserver', { peer, error: errorText(err) });
    });
  }

  isBlocked(peer: string): boolean {
    return this.blocked.has(peer);
  }

  setOffline(offline: boolean): void {
    if (offline === this.isOffline) return;
    this.isOffline = offline;
    if (offline) {
      const known = [...this.homeservers];
      for (const conn of this.node.getConnections()) void conn.close().catch(() => conn.abort(new Error('offline')));
      // peer:disconnect will follow, but report down now: the engine must not wait for sockets to drain.
      for (const p of known) this.markDown(p);
      return;
    }
    this.dialBootstrap();
    for (const peer of this.homeservers) {
      if (this.refused(peer)) continue;
      this.node.dial(peerIdFromString(peer), { signal: AbortSignal.timeout(10_000) }).catch(() => undefined);
    }
  }

  private hangUp(peer: string): void {
    this.markDown(peer);
    void this.node.hangUp(peerIdFromString(peer)).catch(() => undefined);
  }

  // ---- federation: client side -----------------------------------------

  async request(destination: string, request: FederationRequest, opts?: { timeoutMs?: number }): Promise<FederationResponse> {
    if (this.isOffline) throw new UnreachableError(destination, 'this server is offline');
    if (this.refused(destination)) throw new UnreachableError(destination, `${destination} is blocked`);
    if (destination === this.serverName) throw new UnreachableError(destination, 'cannot federate with ourselves');
    let peerId: PeerId;
    try {
      peerId = peerIdFromString(destination);
    } catch {
      throw new UnreachableError(destination, `${destination} is not a PeerId`);
    }
    const frame = encodeJson(request);
    if (frame.length > this.limits.maxRequestBytes) {
      // Refused locally: the peer would refuse it anyway, and sending it wastes the link.
      return { ok: false, status: 413, body: errorBody('M_TOO_LARGE', `request of ${frame.length} bytes exceeds ${this.limits.maxRequestBytes}`) };
    }
    const signal = AbortSignal.timeout(opts?.timeoutMs ?? this.opts.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs);
    await this.ensureRoute(peerId);
    let stream: Stream | undefined;
    try {
      stream = await this.node.dialProtocol(peerId, protocolFor(request.kind), { signal, runOnLimitedConnection: true });
      const lp = lpStream(stream, { maxDataLength: this.limits.maxResponseBytes, maxBufferSize: this.limits.maxResponseBytes + 16 });
      await lp.write(frame, { signal });
      this.stats.federation.requestsSent++;
      this.stats.federation.requestBytesSent += frame.length;
      const reply = (await lp.read({ signal })).subarray();
      this.stats.federation.responsesReceived++;
      this.stats.federation.responseBytesReceived += reply.length;
      const byKind = this.stats.federation.byKind;
      byKind[request.kind] ??= { requests: 0, requestBytes: 0, responseBytes: 0 };
      const kind = byKind[request.kind]!;
      kind.requests++;
      kind.requestBytes += frame.length;
      kind.responseBytes += reply.length;
      void stream.close().catch(() => undefined);
      const res = decodeJson(reply);
      if (!isFederationResponse(res)) {
        return { ok: false, status: 502, body: errorBody('M_NOT_JSON', `${destination} answered with a malformed response`) };
      }
      return res;
    } catch (err) {
      stream?.abort(err instanceof Error ? err : new Error(String(err)));
      if (err instanceof InvalidDataLengthError || err instanceof InvalidDataLengthLengthError) {
        return { ok: false, status: 502, body: errorBody('M_TOO_LARGE', `${destination}'s response exceeds ${this.limits.maxResponseBytes} bytes`) };
      }
      const why = signal.aborted ? `timed out after ${opts?.timeoutMs ?? this.opts.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs} ms` : errorText(err);
      throw new UnreachableError(destination, `${destination} is unreachable: ${why}`);
    }
  }

  // ---- federation: server side -----------------------------------------

  private async serve(stream: Stream, conn: Connection, protocol: string): Promise<void> {
    const origin = conn.remotePeer.toString();
    if (this.refused(origin) || !this.handler || this.stopped) {
      stream.abort(new Error('refused'));
      return;
    }
    const lp = lpStream(stream, { maxDataLength: this.limits.maxRequestBytes, maxBufferSize: this.limits.maxRequestBytes + 16 });
    const reply = async (res: FederationResponse): Promise<void> => {
      let frame = encodeJson(res);
      if (frame.length > this.limits.maxResponseBytes) {
        frame = encodeJson({
          ok: false,
          status: 413,
          body: errorBody('M_TOO_LARGE', `the response of ${frame.length} bytes exceeds ${this.limits.maxResponseBytes}; ask for less`),
        } satisfies FederationResponse);
      }
      await lp.write(frame, { signal: AbortSignal.timeout(this.opts.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs) });
      this.stats.federation.responseBytesSent += frame.length;
      await stream.close({ signal: AbortSignal.timeout(5_000) });
    };
    const refuse = (errcode: string, error: string): Promise<void> => {
      this.stats.federation.refused++;
      this.log('info', 'refused a federation request', { origin, protocol, errcode, error });
      return reply({ ok: false, status: statusFor(errcode), body: errorBody(errcode, error) });
    };
    try {
      let bytes: Uint8Array;
      try {
        bytes = (await lp.read({ signal: AbortSignal.timeout(this.opts.inboundReadTimeoutMs ?? DEFAULTS.inboundReadTimeoutMs) })).subarray();
      } catch (err) {
        if (err instanceof InvalidDataLengthError || err instanceof InvalidDataLengthLengthError) {
          await refuse('M_TOO_LARGE', `request frame exceeds ${this.limits.maxRequestBytes} bytes`);
          return;
        }
        throw err;
      }
      this.stats.federation.requestsReceived++;
      this.stats.federation.requestBytesReceived += bytes.length;
      const value = decodeJson(bytes);
      if (value === undefined) {
        await refuse('M_NOT_JSON', 'the request frame is not UTF-8 JSON');
        return;
      }
      const problem = requestProblem(value, protocol, origin);
      if (problem) {
        await refuse(problem.errcode, problem.error);
        return;
      }
      const busy = this.inFlight.get(origin) ?? 0;
      if (busy >= this.limits.maxInFlightPerPeer) {
        await refuse('M_LIMIT_EXCEEDED', `${busy} requests from ${origin} are already being handled; retry when they are answered`);
        return;
      }
      this.inFlight.set(origin, busy + 1);
      let res: FederationResponse;
      try {
        res = await this.handler(origin, value as FederationRequest);
      } catch (err) {
        // The engine answers errors as bodies; a throw is a bug, never a reason to drop the peer.
        this.log('error', 'federation handler threw', { origin, protocol, error: errorText(err) });
        res = { ok: false, status: 500, body: errorBody('M_UNKNOWN', 'internal error') };
      } finally {
        const left = (this.inFlight.get(origin) ?? 1) - 1;
        if (left > 0) this.inFlight.set(origin, left);
        else this.inFlight.delete(origin);
      }
      await reply(res);
    } catch (err) {
      // The stream broke (peer hung up, timeout): only this stream is lost.
      this.log('debug', 'inbound federation stream failed', { origin, protocol, error: errorText(err) });
      stream.abort(err instanceof Error ? err : new Error(String(err)));
    }
  }

  // ---- gossip ----------------------------------------------------------

  subscribe(roomId: string): void {
    this.rooms.add(roomId);
    if (this.started) this.subscribeTopic(roomId);
  }

  private subscribeTopic(roomId: string): void {
    const topic = roomTopic(roomId);
    const pubsub = this.node.services.pubsub;
    pubsub.topicValidators.set(topic, (peer, msg) => this.validateRoomMessage(peer, msg, roomId));
    enableInvalidMessagePenalty(pubsub, topic);
    pubsub.subscribe(topic);
  }

  unsubscribe(roomId: string): void {
    this.rooms.delete(roomId);
    if (!this.started) return;
    const topic = roomTopic(roomId);
    this.node.services.pubsub.unsubscribe(topic);
    this.node.services.pubsub.topicValidators.delete(topic);
  }

  broadcast(message: RoomBroadcast): readonly string[] {
    if (!this.started || this.isOffline || this.stopped) return [];
    const data = encodeJson(message);
    if (data.length > this.limits.maxGossipBytes) {
      // The outbox still delivers it by federation transaction; gossip is only the fast path.
      this.log('debug', 'broadcast too large for gossip, left to the outbox', { bytes: data.length });
      return [];
    }
    this.stats.gossip.published++;
    this.stats.gossip.bytesPublished += data.length;
    const topic = roomTopic(message.room_id);
    const pubsub = this.node.services.pubsub;
    pubsub.publish(topic, data).catch((err: unknown) => {
      this.log('debug', 'gossip publish failed', { error: errorText(err) });
    });
    // Our own messages are flood-published (gossipsub's default): to every peer subscribed to the
    // topic, less any it scores below its publish threshold — here only peers we refuse — and any
    // it has no stream to write to (see gossipReaches).
    return pubsub
      .getSubscribers(topic)
      .filter((id) => this.gossipReaches(id))
      .map(String)
      .filter((p) => !this.refused(p));
  }

  /**
   * Whether what we publish now reaches `peer`. Gossipsub writes to one outbound stream per peer
   * and drops the message, silently, when it has none: just after connecting, or after the
   * connection that carried it closed while another stays open (nothing tells gossipsub to open
   * one there until identify runs again). A stream on a relayed connection does not count while
   * a direct one is open either: that relayed connection is being retired (the direct-link
   * transport closes it once only long-lived streams such as this one remain), and what is
   * written into it as it closes can be lost. Callers send what matters to the others directly
   * (a typing change by request, a PDU's transaction without the broadcast's head start): a typing
   * notice published into such a stream was lost for good in e2e/livable-rooms.spec.ts.
   */
  private gossipReaches(peer: PeerId): boolean {
    const open = this.node.getConnections(peer).filter((c) => c.status === 'open');
    const direct = open.some((c) => c.direct);
    return open.some(
      (c) =>
        (c.direct || !direct) &&
        c.streams.some((st) => st.direction === 'outbound' && st.writeStatus === 'writable' && st.protocol?.startsWith('/meshsub/') === true),
    );
  }

  /** A strike against the peer that forwarded an invalid message; too many and we hang up on it for a while. */
  private strike(peer: PeerId): TopicValidatorResult {
    this.stats.gossip.rejected++;
    const p = peer.toString();
    const n = (this.strikes.get(p) ?? 0) + 1;
    this.strikes.set(p, n);
    if (n >= (this.opts.maxGossipStrikes ?? DEFAULTS.maxGossipStrikes) && !this.banned.has(p)) {
      this.log('warn', 'hanging up on a peer flooding invalid gossip', { peer: p, strikes: n });
      this.banned.set(p, Date.now() + (this.opts.strikeBanMs ?? DEFAULTS.strikeBanMs));
      this.hangUp(p);
    }
    return TopicValidatorResult.Reject;
  }

  private validateRoomMessage(peer: PeerId, msg: Message, roomId: string): TopicValidatorResult {
    if (msg.type !== 'signed') return this.strike(peer);
    const from = msg.from.toString();
    // A firewall between us and `from` would stop its traffic even when relayed by a third server.
    if (this.refused(from)) return TopicValidatorResult.Ignore;
    const value = decodeJson(msg.data);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return this.strike(peer);
    const m = value as Partial<RoomBroadcast>;
    if (m.room_id !== roomId || m.origin !== from) return this.strike(peer);
    if (m.pdus !== undefined && !Array.isArray(m.pdus)) return this.strike(peer);
    if (m.edus !== undefined && !Array.isArray(m.edus)) return this.strike(peer);
    return TopicValidatorResult.Accept;
  }

  private validateAnnouncement(peer: PeerId, msg: Message): TopicValidatorResult {
    if (msg.type !== 'signed') return this.strike(peer);
    const a = decodeJson(msg.data) as Partial<Announcement> | undefined;
    if (!a || typeof a !== 'object' || a.peer_id !== msg.from.toString() || !Array.isArray(a.addrs) || a.addrs.length > 32) {
      return this.strike(peer);
    }
    if (!a.addrs.every((x) => typeof x === 'string' && x.length < 512)) return this.strike(peer);
    return TopicValidatorResult.Accept;
  }

  private onGossip(msg: Message): void {
    if (msg.type !== 'signed' || this.stopped) return;
    const from = msg.from.toString();
    if (msg.topic === DISCOVERY_TOPIC) {
      void this.onAnnouncement(decodeJson(msg.data) as Announcement);
      return;
    }
    if (!msg.topic.startsWith(ROOM_TOPIC_PREFIX)) return;
    this.stats.gossip.received++;
    this.stats.gossip.bytesReceived += msg.data.length;
    const value = decodeJson(msg.data) as RoomBroadcast;
    try {
      this.events.onBroadcast?.(from, value);
    } catch (err) {
      this.log('error', 'broadcast handler threw', { from, error: errorText(err) });
    }
  }

  private async onAnnouncement(a: Announcement): Promise<void> {
    if (a.peer_id === this.serverName || this.refused(a.peer_id)) return;
    const own = a.addrs.filter((x) => x.includes(`/p2p/${a.peer_id}`) || !x.includes('/p2p/'));
    await this.addAddrs(own.map((x) => (x.endsWith(`/p2p/${a.peer_id}`) ? x : `${x}/p2p/${a.peer_id}`)));
    if (!a.homeserver || this.opts.dialDiscovered === false || this.isOffline) return;
    if (this.node.getConnections(peerIdFromString(a.peer_id)).length > 0) return;
    this.dialHomeserver(a.peer_id, ANNOUNCED_GRACE_MS);
  }

  private announceTimer: ReturnType<typeof setTimeout> | undefined;

  /** Debounced: address changes come in bursts (listen, reservation, identify). */
  private announceSoon(): void {
    if (this.announceTimer !== undefined || this.stopped) return;
    this.announceTimer = setTimeout(() => {
      this.announceTimer = undefined;
      this.announce();
    }, 200);
  }

  private announce(): void {
    if (!this.started || this.isOffline || this.stopped) return;
    const a: Announcement = { peer_id: this.serverName, addrs: this.multiaddrs().slice(0, 32), homeserver: true };
    this.node.services.pubsub.publish(DISCOVERY_TOPIC, encodeJson(a)).catch(() => undefined);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    for (const t of this.redialTimers) clearTimeout(t);
    if (this.announceTimer !== undefined) clearTimeout(this.announceTimer);
    for (const p of [...this.up]) this.markDown(p);
    await this.node.stop();
  }
}

/** The PeerId a multiaddr ends with (`…/p2p/<id>`), if any. */
export function peerOfMultiaddr(ma: Multiaddr): string | undefined {
  const id = ma.getComponents().findLast((c) => c.name === 'p2p')?.value;
  return id ?? undefined;
}

function isFederationResponse(v: unknown): v is FederationResponse {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as { ok?: unknown; body?: unknown; status?: unknown };
  if (typeof r.body !== 'object' || r.body === null || Array.isArray(r.body)) return false;
  if (r.ok === true) return true;
  return r.ok === false && typeof r.status === 'number';
}

function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/**
 * Gossipsub only scores invalid deliveries on topics it has parameters for,
 * and room topics are only known at run time: register them as we subscribe
 * so a Reject from our validator lowers the sender's score (and a peer that
 * keeps sending garbage is graylisted). Reaches into the router's score
 * table, which is not part of its typed interface.
 */
function enableInvalidMessagePenalty(pubsub: GossipSub, topic: string): void {
  const score = (pubsub as unknown as { score?: { params?: { topics?: Record<string, unknown> } } }).score;
  const topics = score?.params?.topics;
  if (!topics || topics[topic]) return;
  topics[topic] = {
    topicWeight: 1,
    timeInMeshWeight: 0,
    timeInMeshQuantum: 1000,
    timeInMeshCap: 0,
    firstMessageDeliveriesWeight: 0,
    firstMessageDeliveriesDecay: 0.5,
    firstMessageDeliveriesCap: 0,
    meshMessageDeliveriesWeight: 0,
    meshMessageDeliveriesDecay: 0.5,
    meshMessageDeliveriesCap: 0,
    meshMessageDeliveriesThreshold: 0,
    meshMessageDeliveriesWindow: 10,
    meshMessageDeliveriesActivation: 5000,
    meshFailurePenaltyWeight: 0,
    meshFailurePenaltyDecay: 0.5,
    invalidMessageDeliveriesWeight: -10,
    invalidMessageDeliveriesDecay: 0.9,
  };
}

/** Gossipsub's StrictSign message ID, (from, seqno), as a string: its `fastMsgIdFn` (see the gossipsub options above). */
export function gossipFastMsgId(msg: { from?: Uint8Array; seqno?: Uint8Array }): string {
  // Length first, so that no two (from, seqno) pairs give one string.
  const none = new Uint8Array(0);
  return `${msg.from?.length ?? 0}:${byteString(msg.from ?? none)}${byteString(msg.seqno ?? none)}`;
}

/**
 * Direct links between browser tabs: a libp2p transport that upgrades a peer
 * we already reach through the circuit relay to a WebRTC data channel.
 *
 * The worker that runs libp2p cannot create an RTCPeerConnection (browsers
 * do not expose it to workers), so a `PeerConnectionHost` — the page, in the
 * app — owns the peer connection and hands us its one data channel. We:
 *   1. notice a relayed connection to a homeserver that speaks our signalling
 *      protocol (identify tells us), and, if our PeerId sorts first (so only
 *      one side dials and offers never cross), open a signalling stream on it;
 *   2. exchange offer/answer through the host;
 *   3. once the channel opens, run the node's ordinary upgrade over it —
 *      Noise authenticates the remote PeerId against the one in the address,
 *      Yamux multiplexes — so every protocol (federation, gossipsub, ping)
 *      works over it unchanged;
 *   4. close the relayed connection, and make gossipsub reattach to the
 *      direct one (see `reattach`).
 *
 * The transport is never dialled by address: `dialFilter` matches nothing,
 * and the links are started from the peer events above.
 */
import {
  type AbortOptions,
  type ComponentLogger,
  type Connection,
  type CreateListenerOptions,
  type Libp2pEvents,
  type Listener,
  type Logger,
  type MultiaddrConnection,
  type PeerId,
  type PeerStore,
  type Startable,
  type Stream,
  type Transport,
  type TypedEventTarget,
  type Upgrader,
  transportSymbol,
} from '@libp2p/interface';
import type { ConnectionManager, Registrar } from '@libp2p/interface-internal';
import { lpStream } from '@libp2p/utils';
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr';
import { dataChannelToMaConn } from './datachannel-conn.ts';
import { MAX_SIGNAL_BYTES, SIGNAL_PROTOCOL, type SignalMessage, decodeSignal, encodeSignal } from './signal.ts';

/** A peer connection owned elsewhere (the page), with its one pre-negotiated data channel. */
export interface PeerConnectionHandle {
  /** Created with the peer connection (negotiated, id 0) and already ours: it opens when ICE connects. */
  readonly channel: RTCDataChannel;
  /** Creates the offer and returns the local SDP once ICE gathering is done (candidates included). */
  createOffer(): Promise<string>;
  /** Applies the remote offer; returns the answer SDP once gathering is done. */
  acceptOffer(sdp: string): Promise<string>;
  acceptAnswer(sdp: string): Promise<void>;
  /** Closes the peer connection (idempotent). */
  close(): void;
}

export interface PeerConnectionHost {
  /** Whether peer connections can be made now (the page may attach after the node started). */
  ready(): boolean;
  /** Calls back once when the host becomes ready. */
  onReady(callback: () => void): void;
  create(): Promise<PeerConnectionHandle>;
}

export interface DirectLinkOptions {
  /** Signalling until the channel opens (ms). */
  connectTimeoutMs?: number;
  /** Noise + Yamux over the channel (ms). */
  upgradeTimeoutMs?: number;
  /** First wait before retrying a peer whose link failed; doubles up to `maxRetryMs`. */
  retryMs?: number;
  maxRetryMs?: number;
  /** How often to look for relayed-only peers to upgrade (ms). */
  sweepMs?: number;
  /** Keep the relayed connection after the direct one is up (tests compare the two). */
  keepRelayed?: boolean;
}

interface Components {
  peerId: PeerId;
  upgrader: Upgrader;
  registrar: Registrar;
  connectionManager: ConnectionManager;
  peerStore: PeerStore;
  events: TypedEventTarget<Libp2pEvents>;
  logger: ComponentLogger;
}

/** Streams that stay open for the connection's life and move on their own (gossipsub, see `reattach`). */
const LONG_LIVED = ['/meshsub/', '/floodsub/', '/ipfs/id/', '/ipfs/ping/', '/libp2p/circuit/'];

const DEFAULTS = { connectTimeoutMs: 20_000, upgradeTimeoutMs: 15_000, retryMs: 5_000, maxRetryMs: 120_000, sweepMs: 5_000 };

/** The remote address of a direct link: no `/p2p-circuit`, so it reads as direct everywhere. */
export function directAddr(peer: PeerId | string): Multiaddr {
  return multiaddr(`/webrtc/p2p/${peer.toString()}`);
}

export function isDirectLink(conn: Connection): boolean {
  const parts = conn.remoteAddr.getComponents();
  return parts[0]?.name === 'webrtc' && !parts.some((c) => c.name === 'p2p-circuit');
}

export function isRelayed(conn: Connection): boolean {
  return conn.remoteAddr.getComponents().some((c) => c.name === 'p2p-circuit');
}

export function directLinks(host: PeerConnectionHost, opts: DirectLinkOptions = {}): (components: Components) => Transport {
  return (components) => new DirectLinkTransport(components, host, opts);
}

class DirectLinkTransport implements Transport, Startable {
  readonly [Symbol.toStringTag] = '@hearth/webrtc-direct';
  readonly [transportSymbol] = true as const;
  private readonly log: Logger;
  private readonly o: typeof DEFAULTS;
  /** Peers with a link attempt in flight (either role). */
  private readonly attempts = new Set<string>();
  /** Peers whose last attempt failed: when to try again and the next wait. */
  private readonly backoff = new Map<string, { until: number; nextMs: number }>();
  private readonly handles = new Set<PeerConnectionHandle>();
  private sweepTimer: ReturnType<typeof setInterval> | undefined;
  private running = false;
  private readonly shutdown = new AbortController();

  constructor(
    private readonly components: Components,
    private readonly host: PeerConnectionHost,
    private readonly opts: DirectLinkOptions,
  ) {
    this.log = components.logger.forComponent('hearth:webrtc');
    this.o = { ...DEFAULTS, ...stripUndefined(opts) };
  }

  isStarted(): boolean {
    return this.running;
  }

  async start(): Promise<void> {
    await this.components.registrar.handle(SIGNAL_PROTOCOL, (stream, conn) => void this.answer(stream, conn), {
      runOnLimitedConnection: true,
      maxInboundStreams: 4,
      maxOutboundStreams: 4,
    });
    this.components.events.addEventListener('peer:identify', this.onIdentify);
    this.components.events.addEventListener('connection:close', this.onConnectionClose);
    this.host.onReady(() => this.sweep());
    this.sweepTimer = setInterval(() => this.sweep(), this.o.sweepMs);
    this.running = true;
  }

  async stop(): Promise<void> {
    this.running = false;
    this.shutdown.abort();
    if (this.sweepTimer !== undefined) clearInterval(this.sweepTimer);
    this.components.events.removeEventListener('peer:identify', this.onIdentify);
    this.components.events.removeEventListener('connection:close', this.onConnectionClose);
    for (const h of this.handles) h.close();
    await this.components.registrar.unhandle(SIGNAL_PROTOCOL).catch(() => undefined);
  }

  // ---- Transport: never dialled or listened on by address --------------

  async dial(): Promise<Connection> {
    throw new Error('direct links are started from a relayed connection, not dialled by address');
  }

  createListener(_options: CreateListenerOptions): Listener {
    throw new Error('direct links have no listener');
  }

  listenFilter = (_addrs: Multiaddr[]): Multiaddr[] => [];
  dialFilter = (_addrs: Multiaddr[]): Multiaddr[] => [];

  // ---- when to link -----------------------------------------------------

  private readonly onIdentify = (evt: CustomEvent<{ peerId: PeerId; protocols: string[]; connection: Connection }>): void => {
    const { peerId, protocols, connection } = evt.detail;
    if (isRelayed(connection) && protocols.includes(SIGNAL_PROTOCOL)) this.maybeLink(peerId);
  };

  /** Retries and late hosts: every relayed-only peer gets another look now and then. */
  private sweep(): void {
    if (!this.running || !this.host.ready()) return;
    const seen = new Set<string>();
    for (const conn of this.components.connectionManager.getConnections()) {
      const id = conn.remotePeer.toString();
      if (seen.has(id) || !isRelayed(conn) || conn.status !== 'open') continue;
      seen.add(id);
      void this.components.peerStore
        .get(conn.remotePeer)
        .then((p) => {
          if (p.protocols.includes(SIGNAL_PROTOCOL)) this.maybeLink(conn.remotePeer);
        })
        .catch(() => undefined);
    }
  }

  private maybeLink(peer: PeerId): void {
    const id = peer.toString();
    if (!this.running || !this.host.ready() || this.attempts.has(id)) return;
    // The lower PeerId dials: one offer per pair, never two crossing.
    if (this.components.peerId.toString() >= id) return;
    const conns = this.components.connectionManager.getConnections(peer);
    if (conns.some(isDirectLink)) return;
    const relayed = conns.find((c) => isRelayed(c) && c.status === 'open');
    if (!relayed) return;
    const b = this.backoff.get(id);
    if (b && Date.now() < b.until) return;
    this.attempts.add(id);
    this.dialLink(peer, relayed)
      .then(() => this.backoff.delete(id))
      .catch((err: unknown) => {
        const nextMs = b?.nextMs ?? this.o.retryMs;
        this.backoff.set(id, { until: Date.now() + nextMs, nextMs: Math.min(nextMs * 2, this.o.maxRetryMs) });
        this.log('direct link to %p failed, retry in %d ms - %e', peer, nextMs, err);
      })
      .finally(() => this.attempts.delete(id));
  }

  // ---- the two roles ------------------------------------------------------

  private async dialLink(peer: PeerId, relayed: Connection): Promise<void> {
    const signal = AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(this.o.connectTimeoutMs)]);
    const stream = await relayed.newStream(SIGNAL_PROTOCOL, { signal, runOnLimitedConnection: true });
    let handle: PeerConnectionHandle | undefined;
    let maConn: MultiaddrConnection | undefined;
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_SIGNAL_BYTES });
      handle = await this.track(this.host.create());
      maConn = this.wrap(peer, handle, 'outbound');
      await lp.write(encodeSignal({ type: 'offer', sdp: await handle.createOffer() }), { signal });
      const reply = decodeSignal((await lp.read({ signal })).subarray());
      if (reply?.type !== 'answer') throw new Error(reply?.type === 'refuse' ? `refused: ${reply.reason}` : 'bad answer');
      await handle.acceptAnswer(reply.sdp);
      await waitOpen(handle.channel, signal);
      await stream.close({ signal }).catch(() => undefined);
    } catch (err) {
      stream.abort(asError(err));
      handle?.close();
      throw err;
    }
    await this.upgrade(peer, maConn, 'outbound');
  }

  private async answer(stream: Stream, relayed: Connection): Promise<void> {
    const peer = relayed.remotePeer;
    const id = peer.toString();
    const signal = AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(this.o.connectTimeoutMs)]);
    const lp = lpStream(stream, { maxDataLength: MAX_SIGNAL_BYTES });
    const refuse = async (reason: string): Promise<void> => {
      await lp.write(encodeSignal({ type: 'refuse', reason }), { signal }).catch(() => undefined);
      await stream.close({ signal }).catch(() => stream.abort(new Error(reason)));
    };
    if (!this.running || !this.host.ready()) return refuse('no peer connections here');
    if (this.attempts.has(id) || this.components.connectionManager.getConnections(peer).some(isDirectLink)) {
      return refuse('already linked');
    }
    this.attempts.add(id);
    let handle: PeerConnectionHandle | undefined;
    try {
      const offer = decodeSignal((await lp.read({ signal })).subarray());
      if (offer?.type !== 'offer') throw new Error('expected an offer');
      handle = await this.track(this.host.create());
      const maConn = this.wrap(peer, handle, 'inbound');
      await lp.write(encodeSignal({ type: 'answer', sdp: await handle.acceptOffer(offer.sdp) } satisfies SignalMessage), { signal });
      await waitOpen(handle.channel, signal);
      await stream.close({ signal }).catch(() => undefined);
      await this.upgrade(peer, maConn, 'inbound');
    } catch (err) {
      this.log('answering %p failed - %e', peer, err);
      stream.abort(asError(err));
      handle?.close();
    } finally {
      this.attempts.delete(id);
    }
  }

  /**
   * The libp2p view of the channel, made as soon as we hold the channel: its
   * message listener must be in place before the channel opens, or the
   * remote's first Noise message could arrive with nobody listening.
   */
  private wrap(peer: PeerId, handle: PeerConnectionHandle, direction: 'inbound' | 'outbound'): MultiaddrConnection {
    const maConn = dataChannelToMaConn({
      channel: handle.channel,
      remoteAddr: directAddr(peer),
      direction,
      log: this.components.logger.forComponent('hearth:webrtc:connection'),
    });
    // The page's peer connection lives exactly as long as the libp2p connection over it.
    maConn.addEventListener('close', () => handle.close(), { once: true });
    return maConn;
  }

  private async upgrade(peer: PeerId, maConn: MultiaddrConnection, direction: 'inbound' | 'outbound'): Promise<void> {
    const identified = this.identified(peer);
    const signal = AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(this.o.upgradeTimeoutMs)]);
    try {
      // Noise checks the remote's key against the PeerId in `directAddr(peer)`: the channel is authenticated end to end.
      if (direction === 'outbound') await this.components.upgrader.upgradeOutbound(maConn, { signal });
      else await this.components.upgrader.upgradeInbound(maConn, { signal });
    } catch (err) {
      identified.cancel();
      maConn.abort(asError(err));
      throw err;
    }
    this.log('direct link to %p is up (%s)', peer, direction);
    const direct = await identified.promise;
    if (!direct || this.opts.keepRelayed) return;
    // Identify has run on the direct connection, so every topology knows it: the relayed one can go —
    // once the requests in flight on it are done (new ones already prefer the direct link).
    for (const c of this.components.connectionManager.getConnections(peer)) {
      if (isRelayed(c)) void this.closeWhenIdle(c);
    }
  }

  /** Closing a connection cuts its streams mid-read: wait (up to a minute) until only long-lived ones remain. */
  private async closeWhenIdle(conn: Connection): Promise<void> {
    const busy = () => conn.streams.some((st) => !LONG_LIVED.some((p) => st.protocol?.startsWith(p)));
    for (let waited = 0; busy() && waited < 60_000 && conn.status === 'open' && this.running; waited += 250) {
      await new Promise((r) => setTimeout(r, 250));
    }
    if (conn.status === 'open') await conn.close().catch((err: unknown) => conn.abort(asError(err)));
  }

  /** Resolves with the direct connection to `peer` once identify completes on it (undefined after a timeout). */
  private identified(peer: PeerId): { promise: Promise<Connection | undefined>; cancel: () => void } {
    let done: (c: Connection | undefined) => void = () => undefined;
    const promise = new Promise<Connection | undefined>((resolve) => {
      done = resolve;
    });
    const onIdentify = (evt: CustomEvent<{ peerId: PeerId; connection: Connection }>) => {
      if (evt.detail.peerId.equals(peer) && isDirectLink(evt.detail.connection)) finish(evt.detail.connection);
    };
    const timer = setTimeout(() => finish(undefined), this.o.upgradeTimeoutMs);
    const finish = (c: Connection | undefined) => {
      clearTimeout(timer);
      this.components.events.removeEventListener('peer:identify', onIdentify);
      done(c);
    };
    this.components.events.addEventListener('peer:identify', onIdentify);
    return { promise, cancel: () => finish(undefined) };
  }

  /**
   * Gossipsub keeps one outbound stream per peer and opens it only when a
   * topology reports a connection (after identify). When the relayed
   * connection that carried it closes but the peer stays connected directly,
   * nobody reports anything — libp2p only says `peer:disconnect` when the last
   * connection goes — and gossip to that peer would stop. Re-running identify
   * on the direct connection re-notifies the topologies, and gossipsub opens
   * its stream there. (Same for any other protocol that works this way.)
   */
  private readonly onConnectionClose = (evt: CustomEvent<Connection>): void => {
    const closed = evt.detail;
    if (!this.running) return;
    const peer = closed.remotePeer;
    const direct = this.components.connectionManager.getConnections(peer).find((c) => isDirectLink(c) && c.status === 'open');
    if (direct && closed !== direct && !isDirectLink(closed)) {
      void this.reattach(direct);
      return;
    }
    // The direct link died while a relayed one remains: try again (after the backoff, if it failed before).
    if (isDirectLink(closed)) setTimeout(() => this.maybeLink(peer), 1_000);
  };

  private async reattach(direct: Connection): Promise<void> {
    const identify = lookupIdentify(this.components);
    if (!identify) {
      this.log.error('no identify service: gossip may not move to the direct link');
      return;
    }
    // Both ends do this at once, right after the first identify on the link: the remote may still be
    // closing that stream and reset ours (identify takes one inbound stream at a time). Try again shortly.
    for (const waitMs of [0, 300, 1_000, 3_000]) {
      if (waitMs) await new Promise((r) => setTimeout(r, waitMs));
      if (!this.running || direct.status !== 'open') return;
      try {
        await identify.identify(direct, { signal: AbortSignal.timeout(10_000) });
        return;
      } catch (err) {
        this.log('re-identify over the direct link to %p failed - %e', direct.remotePeer, err);
      }
    }
  }

  private async track(p: Promise<PeerConnectionHandle>): Promise<PeerConnectionHandle> {
    const h = await p;
    this.handles.add(h);
    h.channel.addEventListener('close', () => this.handles.delete(h), { once: true });
    return h;
  }
}

/**
 * The node's identify service. libp2p puts every service on the components
 * object under its name; the lookup throws if there is none.
 */
function lookupIdentify(components: Components): { identify(c: Connection, o?: AbortOptions): Promise<unknown> } | undefined {
  try {
    const s = (components as unknown as Record<string, unknown>)['identify'] as { identify?: unknown } | undefined;
    return typeof s?.identify === 'function' ? (s as { identify(c: Connection, o?: AbortOptions): Promise<unknown> }) : undefined;
  } catch {
    return undefined;
  }
}

function waitOpen(channel: RTCDataChannel, signal: AbortSignal): Promise<void> {
  if (channel.readyState === 'open') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      channel.removeEventListener('open', onOpen);
      channel.removeEventListener('close', onClose);
      signal.removeEventListener('abort', onAbort);
    };
    const onOpen = () => {
      cleanup();
      resolve();
    };
    const onClose = () => {
      cleanup();
      reject(new Error('the data channel closed before it opened'));
    };
    const onAbort = () => {
      cleanup();
      reject(signal.reason instanceof Error ? signal.reason : new Error('timed out waiting for the data channel'));
    };
    if (channel.readyState === 'closing' || channel.readyState === 'closed') return onClose();
    channel.addEventListener('open', onOpen);
    channel.addEventListener('close', onClose);
    signal.addEventListener('abort', onAbort);
  });
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

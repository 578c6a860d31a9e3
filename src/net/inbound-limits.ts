/**
 * Limits on inbound connections that have not finished their libp2p upgrade
 * (multistream-select, Noise, yamux) — what stops raw sockets that never
 * speak from locking new peers out (issue 14, item 4).
 *
 * libp2p alone counts pending inbound connections globally
 * (`maxIncomingPendingConnections`, default 10) and gives each 10 s to
 * upgrade: ~3 idle sockets a second from one address kept all 10 slots full,
 * and 0 of 10 new peers got in. Here:
 *  - the handshake must finish within `handshakeTimeoutMs`, or the socket is
 *    closed (libp2p's `inboundUpgradeTimeout`);
 *  - one remote host may hold at most `maxPendingPerHost` pending inbound
 *    connections (our gater: libp2p has no per-host pending limit);
 *  - one remote host may open at most `maxPerHostPerSecond` inbound
 *    connections a second (libp2p's `inboundConnectionThreshold`);
 *  - all hosts together may hold `maxPendingTotal` pending connections, well
 *    above any one host's share, so one host never fills them.
 * "Host" is the remote IP. Relayed (`/p2p-circuit`) connections are not
 * counted per host by the gater: their remote address is the relay's, shared
 * by every peer behind it, and the relay bounds them itself (reservations,
 * hop streams). libp2p's own per-second limit does see them under the
 * relay's IP, hence a per-second limit above its default of 5.
 */
import type { MultiaddrConnection } from '@libp2p/interface';
import type { Libp2pOptions } from 'libp2p';

export interface InboundLimits {
  /** An inbound connection must complete its upgrade (Noise + muxer) within this (ms). */
  handshakeTimeoutMs: number;
  /** Pending (not yet upgraded) inbound connections one remote IP may hold. */
  maxPendingPerHost: number;
  /** Pending inbound connections from all remote IPs together. */
  maxPendingTotal: number;
  /** New inbound connections one remote IP may open per second. */
  maxPerHostPerSecond: number;
}

/**
 * Homeservers (`hearth serve`, the simulator, tabs). A handshake takes a few
 * round trips (≈ 10 ms on loopback, ~1 s on a slow 300 ms-RTT link with a
 * busy CPU): 5 s leaves room for that and drops an idle socket fast. Eight
 * pending per host lets several servers on one machine (or behind one NAT)
 * handshake at once while an idle-socket trickle from one address holds at
 * most 8 of the 64 slots. Ten a second per host: peers behind one relay
 * reach us from the relay's IP.
 */
export const NODE_INBOUND_LIMITS: InboundLimits = {
  handshakeTimeoutMs: 5_000,
  maxPendingPerHost: 8,
  maxPendingTotal: 64,
  maxPerHostPerSecond: 10,
};

/**
 * The relay: every browser tab and Node peer connects to it, and many of them
 * come from one IP (all tabs of one machine, a whole office behind one NAT,
 * and every tab in the tests from 127.0.0.1). Per-host limits are therefore
 * generous — 32 handshakes in flight and 30 new connections a second from
 * one IP, enough for a browser restoring dozens of tabs at once — while an
 * idle-socket trickle from one IP still holds at most 32 of the 256 slots
 * and each idle socket is dropped after 5 s.
 */
export const RELAY_INBOUND_LIMITS: InboundLimits = {
  handshakeTimeoutMs: 5_000,
  maxPendingPerHost: 32,
  maxPendingTotal: 256,
  maxPerHostPerSecond: 30,
};

/** The libp2p connection-manager options for `limits` (merge with the rest). */
export function connectionManagerLimits(limits: InboundLimits): NonNullable<Libp2pOptions['connectionManager']> {
  return {
    inboundUpgradeTimeout: limits.handshakeTimeoutMs,
    maxIncomingPendingConnections: limits.maxPendingTotal,
    inboundConnectionThreshold: limits.maxPerHostPerSecond,
  };
}

/**
 * The "host" a direct connection is counted under: its IPv4 address, or the
 * /64 prefix of its IPv6 address (one subscriber commonly holds a whole /64,
 * so counting single IPv6 addresses would let one machine take every slot);
 * undefined for relayed or non-IP connections.
 */
export function remoteHost(maConn: Pick<MultiaddrConnection, 'remoteAddr'>): string | undefined {
  const components = maConn.remoteAddr.getComponents();
  if (components.some((c) => c.name === 'p2p-circuit')) return undefined;
  const first = components[0];
  if (first?.name === 'ip4') return first.value;
  if (first?.name === 'ip6' && first.value) return ip6Host(first.value);
  return undefined;
}

/** `2001:db8:1:2::5` → `2001:db8:1:2::/64`; an IPv4-mapped address → the IPv4 address. */
export function ip6Host(addr: string): string {
  const a = addr.toLowerCase().split('%')[0]!;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (mapped) return mapped[1]!;
  const part = (s: string) => (s ? s.split(':').flatMap((g) => (g.includes('.') ? ['0', '0'] : [g])) : []);
  const [head = '', tail] = a.split('::');
  const h = part(head);
  const t = tail === undefined ? [] : part(tail);
  const groups = tail === undefined ? h : [...h, ...new Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t];
  return `${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}

/**
 * Per-host count of inbound connections between the gater's
 * `denyInboundConnection` (socket accepted) and `denyInboundUpgradedConnection`
 * (upgrade done) or the connection's close, whichever comes first.
 */
export class PendingInboundGate {
  private readonly pending = new Map<string, number>();
  private readonly tracked = new WeakMap<object, string>();

  constructor(private readonly maxPerHost: number) {}

  /** Gater hook: true = refuse (this host already has `maxPerHost` handshakes pending). */
  denyInboundConnection(maConn: MultiaddrConnection): boolean {
    const host = remoteHost(maConn);
    if (host === undefined || maConn.status !== 'open') return false;
    const n = this.pending.get(host) ?? 0;
    if (n >= this.maxPerHost) return true;
    this.pending.set(host, n + 1);
    this.tracked.set(maConn, host);
    maConn.addEventListener('close', () => this.settle(maConn), { once: true });
    return false;
  }

  /** The connection finished its upgrade, or closed: it no longer counts as pending. */
  settle(maConn: MultiaddrConnection): void {
    const host = this.tracked.get(maConn);
    if (host === undefined) return;
    this.tracked.delete(maConn);
    const n = (this.pending.get(host) ?? 1) - 1;
    if (n > 0) this.pending.set(host, n);
    else this.pending.delete(host);
  }

  /** Pending handshakes from `host` (tests, diagnostics). */
  pendingFrom(host: string): number {
    return this.pending.get(host) ?? 0;
  }
}

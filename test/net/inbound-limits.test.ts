/**
 * The per-host count of pending inbound handshakes (src/net/inbound-limits.ts):
 * the cap, release on upgrade or close, relayed connections left out.
 */
import type { MultiaddrConnection } from '@libp2p/interface';
import { multiaddr } from '@multiformats/multiaddr';
import { describe, expect, it } from 'vitest';
import { NODE_INBOUND_LIMITS, PendingInboundGate, RELAY_INBOUND_LIMITS, connectionManagerLimits, ip6Host, remoteHost } from '../../src/net/inbound-limits.ts';

const RELAY = '12D3KooWQmCQGPZDFGcJ8VTsfUmqHyBoZGTHSX6SsVykYRWAhwaa';
const PEER = '12D3KooWRUfw8NoDP6KtYqUjcQNEcuYzwi7m3AvSMzJRX8bW1rT3';

class FakeConn extends EventTarget {
  status: MultiaddrConnection['status'] = 'open';
  constructor(readonly remoteAddr = multiaddr('/ip4/127.0.0.2/tcp/40000')) {
    super();
  }
  close(): void {
    this.status = 'closed';
    this.dispatchEvent(new Event('close'));
  }
}
const conn = (addr?: string) => new FakeConn(addr ? multiaddr(addr) : undefined);
const asMa = (c: FakeConn) => c as unknown as MultiaddrConnection;

describe('PendingInboundGate', () => {
  it('refuses a host its next handshake once it holds the maximum, and counts hosts apart', () => {
    const gate = new PendingInboundGate(2);
    expect(gate.denyInboundConnection(asMa(conn()))).toBe(false);
    expect(gate.denyInboundConnection(asMa(conn()))).toBe(false);
    expect(gate.denyInboundConnection(asMa(conn()))).toBe(true);
    expect(gate.pendingFrom('127.0.0.2')).toBe(2);
    expect(gate.denyInboundConnection(asMa(conn('/ip4/127.0.0.1/tcp/40001')))).toBe(false);
    expect(gate.denyInboundConnection(asMa(conn('/ip6/::1/tcp/40001')))).toBe(false);
  });

  it('frees the slot when the upgrade completes or the connection closes, once', () => {
    const gate = new PendingInboundGate(2);
    const a = conn();
    const b = conn();
    gate.denyInboundConnection(asMa(a));
    gate.denyInboundConnection(asMa(b));
    gate.settle(asMa(a)); // upgraded
    expect(gate.pendingFrom('127.0.0.2')).toBe(1);
    a.close(); // the upgraded connection closing later does not count twice
    expect(gate.pendingFrom('127.0.0.2')).toBe(1);
    b.close(); // the handshake timed out: libp2p aborts the socket
    expect(gate.pendingFrom('127.0.0.2')).toBe(0);
    expect(gate.denyInboundConnection(asMa(conn()))).toBe(false);
  });

  it('does not count relayed connections (they share the relay address) or ones already closed', () => {
    const gate = new PendingInboundGate(1);
    const relayed = `/ip4/127.0.0.1/tcp/4001/p2p/${RELAY}/p2p-circuit/p2p/${PEER}`;
    expect(remoteHost(asMa(conn(relayed)))).toBeUndefined();
    for (let i = 0; i < 5; i++) expect(gate.denyInboundConnection(asMa(conn(relayed)))).toBe(false);
    expect(gate.pendingFrom('127.0.0.1')).toBe(0);
    const closed = conn();
    closed.status = 'closed';
    expect(gate.denyInboundConnection(asMa(closed))).toBe(false);
    expect(gate.pendingFrom('127.0.0.2')).toBe(0);
  });
});

describe('remoteHost', () => {
  it('counts IPv4 by address and IPv6 by /64 (a mapped IPv4 as IPv4)', () => {
    expect(remoteHost(asMa(conn('/ip4/10.1.2.3/tcp/1')))).toBe('10.1.2.3');
    expect(remoteHost(asMa(conn('/ip6/2001:db8:1:2::5/tcp/1')))).toBe('2001:db8:1:2::/64');
    expect(remoteHost(asMa(conn('/ip6/2001:db8:1:2:aaaa:bbbb:cccc:dddd/tcp/1')))).toBe('2001:db8:1:2::/64');
    expect(remoteHost(asMa(conn('/ip6/2001:db8::1/tcp/1')))).toBe('2001:db8:0:0::/64');
    expect(remoteHost(asMa(conn('/ip6/::1/tcp/1')))).toBe('0:0:0:0::/64');
    expect(ip6Host('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(ip6Host('2001:DB8:0001:0002::1')).toBe('2001:db8:1:2::/64');
  });

  it('lets one IPv6 /64 hold no more than the per-host maximum', () => {
    const gate = new PendingInboundGate(2);
    expect(gate.denyInboundConnection(asMa(conn('/ip6/2001:db8:1:2::1/tcp/1')))).toBe(false);
    expect(gate.denyInboundConnection(asMa(conn('/ip6/2001:db8:1:2::2/tcp/1')))).toBe(false);
    expect(gate.denyInboundConnection(asMa(conn('/ip6/2001:db8:1:2::3/tcp/1')))).toBe(true);
    expect(gate.denyInboundConnection(asMa(conn('/ip6/2001:db8:1:3::1/tcp/1')))).toBe(false);
  });
});

describe('inbound limits', () => {
  it('map to libp2p connection-manager options, and leave room for other hosts', () => {
    expect(connectionManagerLimits(NODE_INBOUND_LIMITS)).toEqual({
      inboundUpgradeTimeout: 5_000,
      maxIncomingPendingConnections: 64,
      inboundConnectionThreshold: 10,
    });
    for (const l of [NODE_INBOUND_LIMITS, RELAY_INBOUND_LIMITS]) {
      // One host never takes more than an eighth of all pending slots.
      expect(l.maxPendingPerHost * 8).toBeLessThanOrEqual(l.maxPendingTotal);
      expect(l.handshakeTimeoutMs).toBeLessThan(10_000);
    }
  });
});

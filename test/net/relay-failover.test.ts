/**
 * Several relays in order (issue 20): a homeserver uses the first reachable
 * relay in its list, fails over to the next when it dies, and goes back to
 * the first when it returns (same key and address) — its `/p2p-circuit`
 * address follows. relayPlan's rules are checked on their own first.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AUTONAT_PROTOCOL, DCUTR_PROTOCOL, natServices } from '../../src/net/nat.ts';
import { relayPlan } from '../../src/net/relay-order.ts';
import { type Relay, startRelay } from '../../src/net/relay.ts';
import { type NetServer, startServer, until } from './helpers.ts';

const A = '/ip4/10.0.0.1/tcp/1/ws/p2p/RelayA';
const A2 = '/ip4/10.0.0.1/tcp/2/p2p/RelayA';
const B = '/ip4/10.0.0.2/tcp/1/ws/p2p/RelayB';
const C = '/ip4/10.0.0.3/tcp/1/ws/p2p/RelayC';

describe('relayPlan', () => {
  it('dials every relay when none is connected', () => {
    expect(relayPlan([A, A2, B, C], () => false)).toEqual({ dial: [A, A2, B, C], hangUp: [] });
  });
  it('uses the earliest connected relay, redials the earlier ones and lets the later ones go', () => {
    const up = new Set(['RelayB', 'RelayC']);
    expect(relayPlan([A, A2, B, C], (p) => up.has(p))).toEqual({ dial: [A, A2], hangUp: ['RelayC'], inUse: 'RelayB' });
    expect(relayPlan([A, B, C], (p) => p === 'RelayA' || p === 'RelayC')).toEqual({ dial: [], hangUp: ['RelayC'], inUse: 'RelayA' });
  });
  it('skips itself and always dials addresses without a PeerId', () => {
    expect(relayPlan(['/ip4/1.2.3.4/tcp/1', A], (p) => p === 'RelayA', 'Me')).toEqual({ dial: ['/ip4/1.2.3.4/tcp/1'], hangUp: [], inUse: 'RelayA' });
    expect(relayPlan([`/ip4/1.1.1.1/tcp/1/p2p/Me`, A], () => false, 'Me').dial).toEqual([A]);
  });
});

describe('fail-over between two relays', () => {
  let dir: string | undefined;
  const relays: Relay[] = [];
  let s: NetServer | undefined;
  afterAll(async () => {
    await s?.hs.stop();
    for (const r of relays) await r.stop().catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('moves its reservation to the second relay when the first dies, and back when the first returns', async () => {
    dir = await mkdtemp(join(tmpdir(), 'hearth-failover-'));
    const keyFile = join(dir, 'first.key');
    let first = await startRelay({ port: 0, tcpPort: 0, keyFile });
    const second = await startRelay({ port: 0, tcpPort: 0 });
    relays.push(first, second);
    const ports = { ws: Number(/tcp\/(\d+)\/ws/.exec(first.wsAddr)![1]), tcp: Number(/tcp\/(\d+)\/p2p/.exec(first.tcpAddr)![1]) };
    // As `hearth serve` runs it: with AutoNAT and DCUtR.
    s = await startServer('failover', {
      listen: ['/p2p-circuit'],
      bootstrap: [first.tcpAddr, second.tcpAddr],
      relaysInOrder: true,
      bootstrapRetryMs: 300,
      extraServices: natServices(),
    });
    const t = s.transport;
    const circuitVia = (r: Relay) => t.multiaddrs().some((m) => m.includes(`/p2p/${r.peerId}/p2p-circuit`));
    const connectedTo = (r: Relay) => t.node.getConnections().some((c) => c.remotePeer.toString() === r.peerId);
    await until(() => circuitVia(first) && !connectedTo(second), () => `a reservation on the first relay only: ${t.multiaddrs().join(' ')}`, 30_000);

    await first.stop();
    await until(() => circuitVia(second), () => `a reservation on the second relay: ${t.multiaddrs().join(' ')}`, 30_000);

    first = await startRelay({ port: ports.ws, tcpPort: ports.tcp, keyFile });
    relays.push(first);
    await until(() => circuitVia(first) && !connectedTo(second), () => `back on the first relay only: ${t.multiaddrs().join(' ')}`, 30_000);

    // The standard NAT services are spoken on both sides (identify tells each the other's protocols).
    expect(t.node.getProtocols()).toEqual(expect.arrayContaining([AUTONAT_PROTOCOL, DCUTR_PROTOCOL]));
    const relayProtocols = (await t.node.peerStore.get(first.node.peerId)).protocols;
    expect(relayProtocols).toContain(AUTONAT_PROTOCOL);
    const ours = (await first.node.peerStore.get(t.node.peerId)).protocols;
    expect(ours).toEqual(expect.arrayContaining([AUTONAT_PROTOCOL, DCUTR_PROTOCOL]));
  }, 120_000);
});

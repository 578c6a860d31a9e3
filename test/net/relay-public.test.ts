/**
 * `hearth relay` for the internet (issue 20): the public limits reach
 * circuit-relay-v2, the key persists (mode 0600), the metrics endpoint's
 * numbers move when a peer reserves, TLS is served with the given
 * certificate, and bad flags are refused with a clear message.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2';
import { identify } from '@libp2p/identify';
import { noise } from '@libp2p/noise';
import { tcp } from '@libp2p/tcp';
import { yamux } from '@libp2p/yamux';
import { multiaddr } from '@multiformats/multiaddr';
import { type Libp2p, createLibp2p } from 'libp2p';
import { generate } from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/io.ts';
import { hostPortFlag, multiaddrListFlag, relayLimitsFromFlags } from '../../src/cli/relay.ts';
import { main } from '../../src/cli/main.ts';
import { PUBLIC_RELAY_LIMITS, type Relay, startRelay } from '../../src/net/relay.ts';
import { until } from './helpers.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hearth-relay-public-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A bare libp2p peer that asks `relay` for a reservation (what a tab does). */
async function reservingPeer(relay: Relay): Promise<Libp2p> {
  const node = await createLibp2p({
    addresses: { listen: ['/p2p-circuit'] },
    transports: [tcp(), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: () => false },
    services: { identify: identify() },
  });
  await node.dial(multiaddr(relay.tcpAddr));
  return node;
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(url)).text();
  const m = new RegExp(`^${name} (\\d+(?:\\.\\d+)?)$`, 'm').exec(text);
  if (!m) throw new Error(`${name} missing from ${url}`);
  return Number(m[1]);
}

describe('hearth relay for the internet', () => {
  it('applies the public limits, counts a reservation in its metrics, and refuses one past max-reservations', async () => {
    const relay = await startRelay({ port: 0, tcpPort: 0, limits: { ...PUBLIC_RELAY_LIMITS, maxReservations: 1 }, metrics: { host: '127.0.0.1', port: 0 } });
    const peers: Libp2p[] = [];
    try {
      const url = relay.metricsUrl!;
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      expect(await metric(url, 'hearth_relay_reservations')).toBe(0);
      expect(await metric(url, 'hearth_relay_peers')).toBe(0);
      const a = await reservingPeer(relay);
      peers.push(a);
      await until(() => a.getMultiaddrs().some((m) => m.toString().includes('/p2p-circuit')), () => 'a reservation for the first peer', 20_000);
      expect(await metric(url, 'hearth_relay_reservations')).toBe(1);
      expect(await metric(url, 'hearth_relay_peers')).toBe(1);
      expect(await metric(url, 'hearth_relay_bytes_total')).toBeGreaterThan(0);
      // The reservation carries the public data and duration limits.
      const held = (relay.node.services.relay as { reservations: Map<unknown, { limit?: { data?: bigint; duration?: number } }> }).reservations;
      const entry = [...held.values()][0]!;
      expect(entry.limit?.data).toBe(BigInt(PUBLIC_RELAY_LIMITS.circuitDataLimitBytes!));
      expect(entry.limit?.duration).toBe(PUBLIC_RELAY_LIMITS.circuitDurationLimitMs);
      // One slot: a second peer connects but gets no reservation.
      const b = await reservingPeer(relay);
      peers.push(b);
      await until(() => relay.counts().peers === 2, () => 'the second peer connected', 20_000);
      await new Promise((r) => setTimeout(r, 1500));
      expect(b.getMultiaddrs().some((m) => m.toString().includes('/p2p-circuit'))).toBe(false);
      expect(relay.counts().reservations).toBe(1);
      expect(relay.counts().reservationSlots).toBe(1);
      expect(await metric(url, 'hearth_relay_peers')).toBe(2);
      // A slot outlives its holder (until its TTL); the live count does not.
      await a.stop();
      peers.shift();
      await until(() => relay.counts().peers === 1, () => 'the first peer gone', 20_000);
      expect(await metric(url, 'hearth_relay_reservations')).toBe(0);
      expect(await metric(url, 'hearth_relay_reservation_slots')).toBe(1);
    } finally {
      for (const p of peers) await p.stop();
      await relay.stop();
    }
  }, 60_000);

  it('keeps its key in --key (created 0600): the same PeerId after a restart', async () => {
    const keyFile = join(dir, 'keys', 'relay.key');
    const first = await startRelay({ port: 0, tcpPort: 0, keyFile });
    await first.stop();
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    const second = await startRelay({ port: 0, tcpPort: 0, keyFile });
    await second.stop();
    expect(second.peerId).toBe(first.peerId);
  }, 60_000);

  it('serves wss with --tls-cert/--tls-key and announces what it is told', async () => {
    const pems = await generate([{ name: 'commonName', value: 'relay.test' }], { keySize: 2048, algorithm: 'sha256' });
    const relay = await startRelay({
      listen: ['/ip4/127.0.0.1/tcp/0/tls/ws', '/ip4/127.0.0.1/tcp/0'],
      announce: ['/dns4/relay.example.org/tcp/443/wss'],
      tls: { cert: pems.cert, key: pems.private },
    });
    try {
      expect(relay.multiaddrs()).toEqual([`/dns4/relay.example.org/tcp/443/wss/p2p/${relay.peerId}`]);
      expect(relay.wsAddr).toBe(`/dns4/relay.example.org/tcp/443/wss/p2p/${relay.peerId}`);
      // The listening port speaks TLS with our certificate.
      const bound = (relay.node as unknown as { components: { transportManager: { getAddrs(): unknown[] } } }).components.transportManager.getAddrs();
      const port = Number(/\/tcp\/(\d+)\/tls\/ws/.exec(bound.map(String).join(' '))?.[1]);
      expect(port).toBeGreaterThan(0);
      const fingerprint = await new Promise<string>((resolve, reject) => {
        const s = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, servername: 'relay.test' }, () => {
          resolve(s.getPeerCertificate().fingerprint256);
          s.end();
        });
        s.on('error', reject);
      });
      const { X509Certificate } = await import('node:crypto');
      expect(fingerprint).toBe(new X509Certificate(pems.cert).fingerprint256);
    } finally {
      await relay.stop();
    }
  }, 60_000);

  it('reads its limits and addresses from flags, and refuses bad ones clearly', () => {
    expect(relayLimitsFromFlags({})).toEqual(PUBLIC_RELAY_LIMITS);
    const l = relayLimitsFromFlags({ 'max-reservations': '8', 'circuit-data-limit': '16', 'circuit-duration-limit': '0', 'max-circuits-per-peer': '4' });
    expect(l).toMatchObject({ maxReservations: 8, circuitDataLimitBytes: 16 * 1024 * 1024, maxCircuitsInPerPeer: 4, maxCircuitsOutPerPeer: 4 });
    expect(l.circuitDurationLimitMs).toBeUndefined();
    expect(relayLimitsFromFlags({ limits: 'local' }).circuitDataLimitBytes).toBeUndefined();
    expect(() => relayLimitsFromFlags({ limits: 'huge' })).toThrow(/--limits must be public or local/);
    expect(() => relayLimitsFromFlags({ 'max-reservations': '-1' })).toThrow(UsageError);
    expect(() => relayLimitsFromFlags({ 'reservation-ttl': '99999999999' })).toThrow(/--reservation-ttl/);
    expect(hostPortFlag('metrics', '[::1]:9100')).toEqual({ host: '::1', port: 9100 });
    expect(() => hostPortFlag('metrics', '9100')).toThrow(/host:port/);
    expect(multiaddrListFlag('announce', '/dns4/a.example/tcp/443/wss, /ip4/1.2.3.4/tcp/4001')).toHaveLength(2);
    expect(() => multiaddrListFlag('announce', 'relay.example.org:443')).toThrow(/not a multiaddr/);
  });

  it('documents its flags in `hearth relay --help` and exits 2 on a bad one', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const w = process.stdout.write.bind(process.stdout);
    const e = process.stderr.write.bind(process.stderr);
    process.stdout.write = ((s: string) => out.push(s) > 0) as typeof process.stdout.write;
    process.stderr.write = ((s: string) => err.push(s) > 0) as typeof process.stderr.write;
    try {
      expect(await main(['relay', '--help'])).toBe(0);
      expect(await main(['relay', '--tls-cert', 'x.pem'])).toBe(2);
      expect(await main(['relay', '--listen', '/ip4/0.0.0.0/tcp/4001'])).toBe(2);
    } finally {
      process.stdout.write = w;
      process.stderr.write = e;
    }
    const help = out.join('');
    for (const flag of ['--listen', '--announce', '--tls-cert', '--tls-key', '--key', '--metrics', '--max-reservations', '--circuit-data-limit']) {
      expect(help).toContain(flag);
    }
    expect(err.join('')).toMatch(/--tls-cert and --tls-key go together/);
    expect(err.join('')).toMatch(/needs a WebSockets address/);
  });
});

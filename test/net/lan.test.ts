/**
 * LAN mode (`npm start -- --host 0.0.0.0`, issue 20): the URLs printed for
 * other devices, the secure-context advice, the relay address given to a page
 * by the interface it came through, and the local certificate for --https.
 */
import { X509Certificate } from 'node:crypto';
import type { NetworkInterfaceInfo } from 'node:os';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lanAddresses, lanCertificate, lanNotice, lanUrls, relayForHost } from '../../src/platform/lan.ts';

const iface = (address: string, family: 'IPv4' | 'IPv6', internal = false) =>
  ({ address, family, internal, netmask: '', mac: '', cidr: null }) as unknown as NetworkInterfaceInfo;
const IFACES = {
  lo: [iface('127.0.0.1', 'IPv4', true), iface('::1', 'IPv6', true)],
  eth0: [iface('192.168.1.20', 'IPv4'), iface('fe80::1', 'IPv6')],
  wlan0: [iface('10.0.0.7', 'IPv4')],
};

describe('LAN mode', () => {
  it('lists one URL per non-internal IPv4 address', () => {
    expect(lanAddresses(IFACES)).toEqual(['192.168.1.20', '10.0.0.7']);
    expect(lanUrls('0.0.0.0', 5173, 'http', IFACES)).toEqual(['http://192.168.1.20:5173/', 'http://10.0.0.7:5173/']);
    expect(lanUrls('10.0.0.7', 5173, 'https', IFACES)).toEqual(['https://10.0.0.7:5173/']);
  });

  it('says plainly that plain http on a LAN address is not a secure context, and how to get one', () => {
    const text = lanNotice({ host: '0.0.0.0', port: 5173, https: false, ifaces: IFACES }).join('\n');
    expect(text).toContain('  http://192.168.1.20:5173/');
    expect(text).toContain('  http://10.0.0.7:5173/');
    expect(text).toMatch(/secure context .*WebCrypto and Service Workers/);
    expect(text).toContain('--https');
    expect(text).toContain('--unsafely-treat-insecure-origin-as-secure=http://192.168.1.20:5173');
    const https = lanNotice({ host: '0.0.0.0', port: 5173, https: true, caFile: '.hearth/lan/ca.pem', ifaces: IFACES }).join('\n');
    expect(https).toContain('  https://192.168.1.20:5173/');
    expect(https).toMatch(/trust that authority once/);
    expect(lanNotice({ host: '0.0.0.0', port: 1, https: false, ifaces: { lo: IFACES.lo } })[0]).toMatch(/No network address/);
  });

  it('gives each page the relay address on the interface it came through', () => {
    const relays = ['/ip4/127.0.0.1/tcp/9090/ws/p2p/R', '/ip4/192.168.1.20/tcp/9090/ws/p2p/R', '/ip4/10.0.0.7/tcp/9090/ws/p2p/R'];
    expect(relayForHost('10.0.0.7:5173', relays)).toBe(relays[2]);
    expect(relayForHost('localhost:5173', relays)).toBe(relays[0]);
    expect(relayForHost('hearth.local:5173', relays)).toBe(relays[0]);
    expect(relayForHost(undefined, [])).toBeUndefined();
  });

  it('makes a certificate for the LAN addresses from a local authority kept across runs', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hearth-lan-'));
    try {
      const first = await lanCertificate(dir, ['192.168.1.20']);
      const cert = new X509Certificate(first.cert);
      const ca = new X509Certificate(await import('node:fs').then((fs) => fs.readFileSync(first.caFile)));
      expect(cert.subjectAltName).toContain('IP Address:192.168.1.20');
      expect(cert.subjectAltName).toContain('DNS:localhost');
      expect(cert.verify(ca.publicKey)).toBe(true);
      expect(ca.ca).toBe(true);
      const again = await lanCertificate(dir, ['192.168.1.20']);
      expect(again.cert).toBe(first.cert);
      const moved = await lanCertificate(dir, ['10.0.0.7']);
      expect(new X509Certificate(moved.cert).subjectAltName).toContain('IP Address:10.0.0.7');
      expect(new X509Certificate(moved.cert).verify(ca.publicKey)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

/**
 * LAN mode for `npm start -- --host 0.0.0.0` (scripts/app-server.ts): the
 * URLs other devices can open, what to tell the person about secure
 * contexts, which relay address to give a page (the one on the interface
 * the page was reached through), and a local certificate authority for
 * `--https` (made with the `selfsigned` package, no hand-written crypto).
 * Node only.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { type NetworkInterfaceInfo, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';

type Interfaces = NodeJS.Dict<NetworkInterfaceInfo[]>;

/** Every non-internal IPv4 address of this machine, in interface order. */
export function lanAddresses(ifaces: Interfaces = networkInterfaces()): string[] {
  const out: string[] = [];
  for (const list of Object.values(ifaces)) {
    for (const i of list ?? []) if (i.family === 'IPv4' && !i.internal && !out.includes(i.address)) out.push(i.address);
  }
  return out;
}

/** Whether `host` listens beyond this machine (a wildcard or a non-loopback address). */
export function isLanHost(host: string): boolean {
  return host !== '127.0.0.1' && host !== 'localhost' && host !== '::1';
}

/** The URLs another device can open, one per address (`host` 0.0.0.0: every LAN address; else just it). */
export function lanUrls(host: string, port: number, protocol: 'http' | 'https', ifaces: Interfaces = networkInterfaces()): string[] {
  const addrs = host === '0.0.0.0' ? lanAddresses(ifaces) : [host];
  return addrs.map((a) => `${protocol}://${a}:${port}/`);
}

/** What `npm start --host …` prints after the local URL. */
export function lanNotice(opts: { host: string; port: number; https: boolean; caFile?: string; ifaces?: Interfaces }): string[] {
  const urls = lanUrls(opts.host, opts.port, opts.https ? 'https' : 'http', opts.ifaces);
  const lines = urls.length
    ? ['On other devices on this network, open:', ...urls.map((u) => `  ${u}`)]
    : ['No network address found besides loopback: other devices cannot reach this machine.'];
  if (opts.https) {
    lines.push(
      `Served over HTTPS with a certificate from a local authority made for this machine (${opts.caFile ?? '.hearth/lan/ca.pem'}).`,
      'Each device must trust that authority once (import ca.pem as a trusted root), or accept the warning for the page and',
      'for the relay port both — browsers check the relay\'s wss:// certificate too. See docs/deploy.md, "LAN mode".',
    );
  } else if (urls.length) {
    lines.push(
      'Browsers need a secure context (HTTPS, or localhost) for WebCrypto and Service Workers: over plain http://<LAN IP> the app',
      'cannot start. Use `npm start -- --host 0.0.0.0 --https` (a local certificate), or for testing start Chromium with',
      `  --unsafely-treat-insecure-origin-as-secure=${urls[0]!.replace(/\/$/, '')}`,
      'See docs/deploy.md, "LAN mode".',
    );
  }
  return lines;
}

/**
 * The relay multiaddr to give a page reached at `hostHeader` (`IP:port`):
 * the one on that IP when the relay listens on several, else the first.
 */
export function relayForHost(hostHeader: string | undefined, relayAddrs: readonly string[]): string | undefined {
  const host = (hostHeader ?? '').replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  const ip = host === 'localhost' ? '127.0.0.1' : host;
  return relayAddrs.find((a) => a.startsWith(`/ip4/${ip}/`)) ?? relayAddrs[0];
}

export interface LanCertificate {
  cert: string;
  key: string;
  caFile: string;
}

/**
 * A certificate for this machine's addresses (and localhost), signed by a
 * local authority kept in `dir` (made once, reused, so a device that trusts
 * it keeps trusting it); the server certificate is made again when the
 * addresses change.
 */
export async function lanCertificate(dir: string, addresses: readonly string[]): Promise<LanCertificate> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const caFile = join(dir, 'ca.pem');
  const caKeyFile = join(dir, 'ca-key.pem');
  if (!existsSync(caFile) || !existsSync(caKeyFile)) {
    const ca = await generate([{ name: 'commonName', value: 'Hearth local development CA' }], {
      keySize: 2048,
      algorithm: 'sha256',
      notAfterDate: new Date(Date.now() + 825 * 24 * 3600 * 1000),
      extensions: [
        { name: 'basicConstraints', cA: true },
        { name: 'keyUsage', keyCertSign: true, cRLSign: true },
      ],
    });
    writeFileSync(caKeyFile, ca.private, { mode: 0o600 });
    writeFileSync(caFile, ca.cert);
  }
  const names = ['localhost', '127.0.0.1', ...addresses.filter((a) => a !== '127.0.0.1')];
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  const namesFile = join(dir, 'names.json');
  const same = existsSync(certFile) && existsSync(keyFile) && existsSync(namesFile) && readFileSync(namesFile, 'utf8') === JSON.stringify(names);
  if (!same) {
    const leaf = await generate([{ name: 'commonName', value: names[names.length - 1]! }], {
      keySize: 2048,
      algorithm: 'sha256',
      // Browsers refuse server certificates valid for more than 825 days (398 for public CAs).
      notAfterDate: new Date(Date.now() + 397 * 24 * 3600 * 1000),
      ca: { key: readFileSync(caKeyFile, 'utf8'), cert: readFileSync(caFile, 'utf8') },
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
        { name: 'extKeyUsage', serverAuth: true },
        { name: 'subjectAltName', altNames: names.map((n) => (/^\d+\.\d+\.\d+\.\d+$/.test(n) ? { type: 7, ip: n } : { type: 2, value: n })) },
      ],
    });
    writeFileSync(keyFile, leaf.private, { mode: 0o600 });
    writeFileSync(certFile, leaf.cert);
    writeFileSync(namesFile, JSON.stringify(names));
  }
  return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8'), caFile };
}

/**
 * `npm start`: the relay and the app in one process. Starts the libp2p relay
 * (WebSockets on 127.0.0.1), then Vite — the dev server, or with --preview a
 * production build served by `vite preview` (what the browser tests use) —
 * and serves `/hearth-config.json` so the page learns the relay's address
 * without anyone typing it.
 *
 *   node --import tsx scripts/app-server.ts [--preview [--out DIR [--no-build]] [--base /PATH/] [--no-relay]]
 *       [--port N] [--relay-port N] [--host IP [--https]]
 *
 * --out DIR builds into DIR (kept) instead of a fresh temporary directory;
 * with --no-build, DIR is served as it is (a test restarting the server —
 * and so the relay, with a new key — does not build twice).
 * --no-relay (with --preview): no relay here, and DIR's own
 * hearth-config.json is served as a static host would (a deployment's
 * config, several relays run elsewhere). --base /PATH/ serves the build
 * under that path (the built app uses relative URLs: any path works).
 * --host 0.0.0.0 (LAN mode) listens on every interface and prints the URLs
 * other devices can use, with what they need for a secure context; --https
 * serves the page and the relay (wss) with a certificate from a local
 * authority made in .hearth/lan/ (src/platform/lan.ts, docs/deploy.md).
 */
import '../src/platform/node-polyfills.ts';
import { mkdtemp } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Plugin, build, createServer, preview } from 'vite';
import { type Relay, startRelay } from '../src/net/relay.ts';
import { isLanHost, lanAddresses, lanCertificate, lanNotice, relayForHost } from '../src/platform/lan.ts';

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const previewMode = process.argv.includes('--preview');
const noRelay = process.argv.includes('--no-relay');
const port = Number(flag('port') ?? (previewMode ? 4173 : 5173));
const relayPort = Number(flag('relay-port') ?? 9090);
const host = flag('host') ?? '127.0.0.1';
const useHttps = process.argv.includes('--https');
const base = flag('base') ?? '/';
if (noRelay && !previewMode) throw new Error('--no-relay goes with --preview (the build directory holds the hearth-config.json to serve)');
if (!/^\/(.*\/)?$/.test(base)) throw new Error(`--base must start and end with /, got ${base}`);

const lan = isLanHost(host);
const certificate = useHttps ? await lanCertificate(join('.hearth', 'lan'), lanAddresses()) : undefined;
const relay: Relay | undefined = noRelay
  ? undefined
  : await startRelay({
      ...(certificate
        ? { listen: [`/ip4/${host}/tcp/${relayPort}/tls/ws`, `/ip4/${host}/tcp/0`], tls: certificate }
        : { port: relayPort, host }),
      keyFile: previewMode ? undefined : '.hearth/relay.key',
    });

/** The config for a page reached at `hostHeader`: the relay's address on that interface (LAN mode listens on several). */
function configFor(hostHeader: string | undefined): string {
  const ws = relay ? relay.multiaddrs().filter((a) => /\/(ws|wss)(\/|$)/.test(a)) : [];
  const chosen = relayForHost(hostHeader, ws) ?? relay?.wsAddr;
  return JSON.stringify({ relays: chosen ? [chosen] : [] });
}

function serveConfig(req: IncomingMessage, res: ServerResponse, next: () => void): void {
  if (noRelay || req.url?.split('?')[0] !== `${base}hearth-config.json`) {
    next();
    return;
  }
  res.setHeader('content-type', 'application/json');
  res.setHeader('cache-control', 'no-store');
  // Over HTTPS Vite speaks HTTP/2, where the host is the :authority pseudo-header.
  res.end(configFor(req.headers.host ?? (req.headers[':authority'] as string | undefined)));
}

const configPlugin: Plugin = {
  name: 'hearth-config',
  configureServer(server) {
    server.middlewares.use(serveConfig);
  },
  configurePreviewServer(server) {
    server.middlewares.use(serveConfig);
  },
};

const https = certificate ? { cert: certificate.cert, key: certificate.key } : undefined;
let close: () => Promise<void>;
if (previewMode) {
  // A build directory of its own: a concurrent preview (another test run, a
  // benchmark) must not replace the files under a server that is running.
  const outDir = flag('out') ?? (await mkdtemp(join(tmpdir(), 'hearth-preview-')));
  if (!process.argv.includes('--no-build')) await build({ logLevel: 'warn', build: { outDir, emptyOutDir: true } });
  const server = await preview({
    plugins: [configPlugin],
    base,
    build: { outDir },
    preview: { host, port, strictPort: true, ...(https ? { https } : {}) },
  });
  close = () => new Promise((r) => server.httpServer.close(() => r()));
} else {
  const server = await createServer({ plugins: [configPlugin], server: { host, port, strictPort: true, ...(https ? { https } : {}) } });
  await server.listen();
  close = () => server.close();
}

const scheme = https ? 'https' : 'http';
const localUrl = `${scheme}://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}${base}`;
console.log(`Hearth is running: open ${localUrl} (relay ${relay?.wsAddr ?? `from ${base}hearth-config.json`})`);
console.log('Open it in two browser windows with separate profiles (or a private window) to get two homeservers.');
if (lan) for (const line of lanNotice({ host, port, https: Boolean(https), ...(certificate ? { caFile: certificate.caFile } : {}) })) console.log(line);

const shutdown = async () => {
  await close().catch(() => undefined);
  await relay?.stop().catch(() => undefined);
  process.exit(0);
};
process.on('SIGINT', () => void shutdown());
process.on('SIGTERM', () => void shutdown());

/**
 * `npm start`: the relay and the app in one process. Starts the libp2p relay
 * (WebSockets on 127.0.0.1), then Vite — the dev server, or with --preview a
 * production build served by `vite preview` (what the browser tests use) —
 * and serves `/hearth-config.json` so the page learns the relay's address
 * without anyone typing it.
 *
 *   node --import tsx scripts/app-server.ts [--preview [--out DIR [--no-build]]] [--port N] [--relay-port N]
 *
 * --out DIR builds into DIR (kept) instead of a fresh temporary directory;
 * with --no-build, DIR is served as it is (a test restarting the server —
 * and so the relay, with a new key — does not build twice).
 */
import '../src/platform/node-polyfills.ts';
import { mkdtemp } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Plugin, build, createServer, preview } from 'vite';
import { startRelay } from '../src/net/relay.ts';

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const previewMode = process.argv.includes('--preview');
const port = Number(flag('port') ?? (previewMode ? 4173 : 5173));
const relayPort = Number(flag('relay-port') ?? 9090);

const relay = await startRelay({ port: relayPort, keyFile: previewMode ? undefined : '.hearth/relay.key' });
const config = JSON.stringify({ relays: [relay.wsAddr] });

function serveConfig(req: IncomingMessage, res: ServerResponse, next: () => void): void {
  if (req.url?.split('?')[0] !== '/hearth-config.json') {
    next();
    return;
  }
  res.setHeader('content-type', 'application/json');
  res.setHeader('cache-control', 'no-store');
  res.end(config);
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

let close: () => Promise<void>;
if (previewMode) {
  // A build directory of its own: a concurrent preview (another test run, a
  // benchmark) must not replace the files under a server that is running.
  const outDir = flag('out') ?? (await mkdtemp(join(tmpdir(), 'hearth-preview-')));
  if (!process.argv.includes('--no-build')) await build({ logLevel: 'warn', build: { outDir, emptyOutDir: true } });
  const server = await preview({ plugins: [configPlugin], build: { outDir }, preview: { host: '127.0.0.1', port, strictPort: true } });
  close = () => new Promise((r) => server.httpServer.close(() => r()));
} else {
  const server = await createServer({ plugins: [configPlugin], server: { host: '127.0.0.1', port, strictPort: true } });
  await server.listen();
  close = () => server.close();
}

console.log(`Hearth is running: open http://127.0.0.1:${port}/ (relay ${relay.wsAddr})`);
console.log('Open it in two browser windows with separate profiles (or a private window) to get two homeservers.');

const shutdown = async () => {
  await close().catch(() => undefined);
  await relay.stop().catch(() => undefined);
  process.exit(0);
};
process.on('SIGINT', () => void shutdown());
process.on('SIGTERM', () => void shutdown());

/**
 * `hearth serve`: a headless homeserver in Node — the same engine as a tab's,
 * over libp2p (TCP on 127.0.0.1, plus the relay's circuit if given) — for
 * bots, tests and always-on peers that keep a room's history available.
 *
 * Storage: with `--data DIR`, SQLite files in DIR (created if missing;
 * one process at a time), so the server's key (hence its name), accounts,
 * rooms, outbox and media survive a restart. Without it, fake-indexeddb in
 * memory: everything is forgotten when the process exits.
 *
 * `--import FILE` first fills an empty DIR from an encrypted backup
 * (src/cli/backup.ts): the same server name, accounts and rooms continue
 * here, and peers catch it up on what it missed. A DIR whose homeserver
 * moved away (exported with --mode move) starts read-only and off the
 * network, and says so in its start-up line ("moved_away").
 */
import { type ClientHttpServer, serveClientApi } from '../net/client-http.ts';
import { createNodeTransport } from '../net/node.ts';
import { ClientApi } from '../server/client-api/index.ts';
import type { Libp2pTransport } from '../net/libp2p-transport.ts';
import { Homeserver } from '../server/homeserver.ts';
import type { Logger } from '../server/log.ts';
import { MOVED_META, parseMovedAway } from '../server/moved.ts';
import { retiredTransport } from '../server/transport/retired.ts';
import { openNodeStore } from '../server/store/node.ts';
import type { Command } from './commands.ts';
import { UsageError, parseFlags } from './io.ts';
import { natServices } from '../net/nat.ts';
import { multiaddrListFlag, portFlag, untilSignal } from './relay.ts';

/** Warnings and errors to stderr: stdout carries only the JSON lines. */
const stderrLogger: Logger = (level, message, data) => {
  if (level === 'debug' || level === 'info') return;
  process.stderr.write(`hearth serve ${level}: ${message}${data ? ` ${JSON.stringify(data)}` : ''}\n`);
};

export const serveCommand: Command = {
  args: '[--data DIR [--import FILE [--passphrase-file F]]] [--relay MULTIADDR[,MULTIADDR…]] [--host IP] [--port N] [--user NAME] [--client-port N [--client-host H]]',
  summary:
    'runs a headless homeserver over libp2p until SIGINT/SIGTERM (on disk in --data DIR, else in memory); prints {"server_name","multiaddrs","user_id","client_url"}; --client-port serves the Matrix Client-Server API over HTTP; --import FILE first restores an encrypted backup (hearth export) into an empty DIR',
  async run(argv) {
    const f = parseFlags(argv, { optional: ['data', 'import', 'passphrase-file', 'relay', 'port', 'host', 'user', 'client-port', 'client-host'] });
    if (f.import !== undefined && f.data === undefined) throw new UsageError('--import needs --data DIR to import into');
    if (f['passphrase-file'] !== undefined && f.import === undefined) throw new UsageError('--passphrase-file goes with --import');
    // Several relays, comma-separated, in order of preference (relay-order.ts): the first reachable one is used.
    const relays = f.relay === undefined ? [] : multiaddrListFlag('relay', f.relay);
    for (const relay of relays) {
      if (!relay.includes('/p2p/')) {
        throw new UsageError(`--relay must be a multiaddr ending in /p2p/<relay peer id>, got ${JSON.stringify(relay)}`);
      }
      if (/\/(wss?|tls\/ws)(\/|$)/.test(relay) && typeof (globalThis as { WebSocket?: unknown }).WebSocket === 'undefined') {
        throw new UsageError(
          '--relay is a ws address and this Node has no WebSocket client: give the relay\'s tcp_multiaddr, or run node with --experimental-websocket',
        );
      }
    }
    const relay = relays.length > 0 ? relays : undefined;
    if (f.host !== undefined && !/^\d{1,3}(\.\d{1,3}){3}$/.test(f.host)) throw new UsageError(`--host must be an IPv4 address to listen on (0.0.0.0: all), got ${JSON.stringify(f.host)}`);
    const store =
      f.data === undefined
        ? await openNodeStore('hearth-serve-default')
        : await (await import('../server/store/sqlite-store.ts')).openSqliteStore(f.data);
    if (f.import !== undefined) {
      const backup = await import('./backup.ts');
      try {
        const passphrase = backup.readPassphrase(f['passphrase-file']);
        const { manifest, counts } = await backup.importBackupFile(f.import, store, passphrase);
        stderrLogger('warn', `imported ${manifest.server_name} from ${f.import}`, { ...counts, mode: manifest.mode });
      } catch (e) {
        await store.close();
        throw e;
      }
    }
    const movedAway = parseMovedAway(await store.getMeta(MOVED_META));
    let transport: Libp2pTransport | undefined;
    const hs = await Homeserver.open({
      store,
      log: stderrLogger,
      transport: async (name, identity) => {
        // Moved away: the new copy answers to this name (this PeerId) now; stay off the network.
        if (movedAway) return retiredTransport(name);
        transport = await createNodeTransport(identity, {
          port: portFlag('port', f.port, 0),
          ...(f.host !== undefined ? { host: f.host } : {}),
          ...(relay ? { bootstrap: relay, relaysInOrder: true } : {}),
          // AutoNAT and DCUtR: a server behind NAT learns its public address and upgrades relayed links to direct ones.
          extraServices: natServices(),
          log: stderrLogger,
        });
        return transport;
      },
    });
    let userId: string | undefined;
    if (f.user !== undefined) {
      const existing = `@${f.user}:${hs.serverName}`;
      // A moved-away copy registers no one (it signs nothing).
      userId = hs.isLocalUser(existing) ? existing : movedAway ? undefined : await hs.register(f.user);
    }
    // With a relay, wait briefly for the circuit reservation so the printed addresses include it.
    if (relay && transport) {
      const start = Date.now();
      while (Date.now() - start < 3000 && !transport!.multiaddrs().some((a) => a.includes('/p2p-circuit'))) {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    let clientHttp: ClientHttpServer | undefined;
    if (f['client-port'] !== undefined) {
      const api = await ClientApi.open(hs, { log: stderrLogger });
      clientHttp = await serveClientApi(api, { port: portFlag('client-port', f['client-port'], 0), ...(f['client-host'] ? { host: f['client-host'] } : {}) });
    } else if (f['client-host'] !== undefined) throw new UsageError('--client-host needs --client-port');
    // Listening before the start-up line: a script that stops us as soon as it reads the line
    // otherwise met the default action (killed, exit code null) in about one run in ten.
    const stopped = untilSignal();
    process.stdout.write(
      `${JSON.stringify({
        server_name: hs.serverName,
        multiaddrs: transport?.multiaddrs() ?? [],
        ...(userId ? { user_id: userId } : {}),
        ...(movedAway ? { moved_away: movedAway } : {}),
        ...(clientHttp ? { client_url: clientHttp.url } : {}),
      })}\n`,
    );
    const sig = await stopped;
    await clientHttp?.close();
    await hs.stop();
    return JSON.stringify({ stopped: sig });
  },
};

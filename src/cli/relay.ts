/**
 * `hearth relay`: runs the circuit relay + discovery node until SIGINT or
 * SIGTERM. Prints one JSON line as soon as it listens (scripts read the
 * multiaddr from it), and one more when it stops. `hearth relay --help`
 * lists the flags; docs/deploy.md shows a relay on the internet.
 */
import { readFileSync } from 'node:fs';
import { multiaddr } from '@multiformats/multiaddr';
import { LOCAL_RELAY_LIMITS, MAX_TIMER_MS, PUBLIC_RELAY_LIMITS, type RelayLimits, startRelay } from '../net/relay.ts';
import type { Command } from './commands.ts';
import { UsageError, parseFlags } from './io.ts';

export function portFlag(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`--${name} must be a port number (0-65535), got ${JSON.stringify(value)}`);
  return n;
}

/** Resolves with the signal's name on the first SIGINT/SIGTERM: long-running commands await it. */
export function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(sig);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

/** A comma-separated list of multiaddrs, each checked. */
export function multiaddrListFlag(name: string, value: string): string[] {
  const list = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (list.length === 0) throw new UsageError(`--${name} needs at least one multiaddr`);
  for (const a of list) {
    try {
      multiaddr(a);
    } catch (err) {
      throw new UsageError(`--${name}: ${JSON.stringify(a)} is not a multiaddr (${(err as Error).message})`);
    }
  }
  return list;
}

function countFlag(name: string, value: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  return n;
}

/** `host:port` (IPv6 as `[::1]:9100`). */
export function hostPortFlag(name: string, value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(value);
  if (!m) throw new UsageError(`--${name} must be host:port (e.g. 127.0.0.1:9100), got ${JSON.stringify(value)}`);
  return { host: (m[1] ?? m[2])!, port: portFlag(name, m[3], 0) };
}

const MAX_SECONDS = Math.floor(MAX_TIMER_MS / 1000);

/** The limits from --limits and the single-limit flags; 0 turns a circuit limit off. */
export function relayLimitsFromFlags(f: Record<string, string>): RelayLimits {
  const base = f.limits === undefined || f.limits === 'public' ? PUBLIC_RELAY_LIMITS : f.limits === 'local' ? LOCAL_RELAY_LIMITS : undefined;
  if (!base) throw new UsageError(`--limits must be public or local, got ${JSON.stringify(f.limits)}`);
  const limits: RelayLimits = { ...base };
  const maxRes = countFlag('max-reservations', f['max-reservations'], 1);
  if (maxRes !== undefined) limits.maxReservations = maxRes;
  const ttl = countFlag('reservation-ttl', f['reservation-ttl'], 1, MAX_SECONDS);
  if (ttl !== undefined) limits.reservationTtlMs = ttl * 1000;
  const mib = countFlag('circuit-data-limit', f['circuit-data-limit'], 0, 1024 * 1024);
  if (mib === 0) delete limits.circuitDataLimitBytes;
  else if (mib !== undefined) limits.circuitDataLimitBytes = mib * 1024 * 1024;
  const secs = countFlag('circuit-duration-limit', f['circuit-duration-limit'], 0, MAX_SECONDS);
  if (secs === 0) delete limits.circuitDurationLimitMs;
  else if (secs !== undefined) limits.circuitDurationLimitMs = secs * 1000;
  const perPeer = countFlag('max-circuits-per-peer', f['max-circuits-per-peer'], 1);
  if (perPeer !== undefined) {
    limits.maxCircuitsOutPerPeer = perPeer;
    limits.maxCircuitsInPerPeer = perPeer;
  }
  const conns = countFlag('max-connections', f['max-connections'], 1);
  if (conns !== undefined) limits.maxConnections = conns;
  return limits;
}

function readPem(name: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new UsageError(`--${name}: cannot read ${file}: ${(err as Error).message}`);
  }
}

const P = PUBLIC_RELAY_LIMITS;
const HELP = `usage: hearth relay [options]

Runs the libp2p relay (circuit-relay-v2 and Hearth's discovery topic) until
SIGINT/SIGTERM. Prints one JSON line when listening:
  {"multiaddr","tcp_multiaddr","peer_id","multiaddrs","limits","metrics_url"?}
and {"stopped":SIGNAL} when it stops. Lists are comma-separated.

Where it listens and what it tells peers:
  --listen MA[,MA...]   multiaddrs to listen on; at least one /ws (browsers).
                        Default /ip4/HOST/tcp/PORT/ws,/ip4/HOST/tcp/TCP-PORT
  --host H              default 127.0.0.1 (0.0.0.0: every interface)
  --port N              WebSockets port (default 9090)
  --tcp-port N          TCP port for Node peers (default any free port)
  --announce MA[,MA...] addresses given to peers instead of the listening ones,
                        e.g. behind a TLS-terminating proxy (Caddy):
                        --listen /ip4/127.0.0.1/tcp/9090/ws,/ip4/0.0.0.0/tcp/4001
                        --announce /dns4/relay.example.org/tcp/443/wss,/dns4/relay.example.org/tcp/4001
  --tls-cert FILE       PEM certificate (chain) and its key: the WebSockets
  --tls-key FILE        listener serves TLS (wss): the default listen address
                        becomes /ip4/HOST/tcp/PORT/tls/ws; with --listen, give
                        a /tls/ws one (plain HTTP is answered on it too)

Identity:
  --key FILE            the relay's private key (its PeerId, which every config
                        names); created with mode 0600 when missing.
                        Default .hearth/relay.key (--key-file is the same)

Limits (default: --limits public; local = no circuit limits, for one machine):
  --max-reservations N        peers holding a relay slot at once (${P.maxReservations})
  --reservation-ttl S         seconds a reservation lasts unrefreshed (${P.reservationTtlMs / 1000})
  --circuit-data-limit MIB    MiB one relayed connection may carry, both ways (${P.circuitDataLimitBytes! / 1024 / 1024}; 0 = none)
  --circuit-duration-limit S  seconds one relayed connection may last (${P.circuitDurationLimitMs! / 1000}; 0 = none)
  --max-circuits-per-peer N   relayed connections per peer at once, each way (${P.maxCircuitsOutPerPeer})
  --max-connections N         connections in all (${P.maxConnections})

Metrics:
  --metrics HOST:PORT   serve Prometheus text at http://HOST:PORT/metrics
                        (hearth_relay_peers, _connections, _reservations,
                        _reservation_slots, _circuits, _bytes_total, and
                        libp2p's own); bind it to loopback or a private address

See docs/deploy.md for a relay on the internet, step by step.
`;

export const relayCommand: Command = {
  args: '[--listen MA,…] [--announce MA,…] [--host H] [--port N] [--tcp-port N] [--tls-cert F --tls-key F] [--key FILE] [--limits public|local] [--max-reservations N] … [--metrics HOST:PORT] (--help: all)',
  summary:
    'runs the libp2p relay (ws on 127.0.0.1:9090, circuit-relay-v2 with public-service limits, peer discovery) until SIGINT/SIGTERM; prints {"multiaddr","peer_id",…}',
  help: HELP,
  async run(argv) {
    const f = parseFlags(argv, {
      optional: [
        'listen',
        'announce',
        'host',
        'port',
        'tcp-port',
        'tls-cert',
        'tls-key',
        'key',
        'key-file',
        'limits',
        'max-reservations',
        'reservation-ttl',
        'circuit-data-limit',
        'circuit-duration-limit',
        'max-circuits-per-peer',
        'max-connections',
        'metrics',
      ],
    });
    if (f.listen !== undefined && (f.port !== undefined || f['tcp-port'] !== undefined || f.host !== undefined)) {
      throw new UsageError('--listen replaces --host/--port/--tcp-port: give one or the other');
    }
    if ((f['tls-cert'] === undefined) !== (f['tls-key'] === undefined)) throw new UsageError('--tls-cert and --tls-key go together');
    if (f.key !== undefined && f['key-file'] !== undefined) throw new UsageError('--key and --key-file are the same option: give one');
    const limits = relayLimitsFromFlags(f);
    const listen = f.listen !== undefined ? multiaddrListFlag('listen', f.listen) : undefined;
    if (listen && !listen.some((a) => /\/(ws|wss)(\/|$)/.test(a))) {
      throw new UsageError('--listen needs a WebSockets address (…/ws) for browsers');
    }
    const relay = await startRelay({
      ...(listen ? { listen } : { port: portFlag('port', f.port, 9090), tcpPort: portFlag('tcp-port', f['tcp-port'], 0), host: f.host ?? '127.0.0.1' }),
      ...(f.announce !== undefined ? { announce: multiaddrListFlag('announce', f.announce) } : {}),
      ...(f['tls-cert'] !== undefined && f['tls-key'] !== undefined
        ? { tls: { cert: readPem('tls-cert', f['tls-cert']), key: readPem('tls-key', f['tls-key']) } }
        : {}),
      keyFile: f.key ?? f['key-file'] ?? '.hearth/relay.key',
      limits,
      ...(f.metrics !== undefined ? { metrics: hostPortFlag('metrics', f.metrics) } : {}),
    });
    // Listening before the start-up line: a script that stops us as soon as it reads the line
    // otherwise met the default action (killed, exit code null) in about one run in ten.
    const stopped = untilSignal();
    process.stdout.write(
      `${JSON.stringify({
        multiaddr: relay.wsAddr,
        tcp_multiaddr: relay.tcpAddr,
        peer_id: relay.peerId,
        multiaddrs: relay.multiaddrs(),
        limits: relay.limits,
        ...(relay.metricsUrl ? { metrics_url: relay.metricsUrl } : {}),
      })}\n`,
    );
    const sig = await stopped;
    await relay.stop();
    return JSON.stringify({ stopped: sig });
  },
};

/**
 * `hearth relay`: runs the circuit relay + discovery node until SIGINT or
 * SIGTERM. Prints one JSON line as soon as it listens (scripts read the
 * multiaddr from it), and one more when it stops.
 */
import { startRelay } from '../net/relay.ts';
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

export const relayCommand: Command = {
  args: '[--port N] [--tcp-port N] [--key-file PATH]',
  summary: 'runs the libp2p relay (ws on 127.0.0.1:9090, circuit-relay-v2, peer discovery) until SIGINT/SIGTERM; prints {"multiaddr","peer_id"}',
  async run(argv) {
    const f = parseFlags(argv, { optional: ['port', 'tcp-port', 'key-file'] });
    const relay = await startRelay({
      port: portFlag('port', f.port, 9090),
      tcpPort: portFlag('tcp-port', f['tcp-port'], 0),
      keyFile: f['key-file'] ?? '.hearth/relay.key',
    });
    process.stdout.write(`${JSON.stringify({ multiaddr: relay.wsAddr, tcp_multiaddr: relay.tcpAddr, peer_id: relay.peerId })}\n`);
    const sig = await untilSignal();
    await relay.stop();
    return JSON.stringify({ stopped: sig });
  },
};

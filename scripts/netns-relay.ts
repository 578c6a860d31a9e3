/**
 * A relay on a given address, for the network-namespace lab (scripts/netns.ts):
 * `hearth relay` listens on 127.0.0.1, which no other namespace can reach.
 *
 *   node --import tsx scripts/netns-relay.ts HOST WS_PORT TCP_PORT KEY_FILE
 *
 * Prints one JSON line like `hearth relay` ({"multiaddr","tcp_multiaddr","peer_id"})
 * and runs until SIGTERM/SIGINT (or SIGKILL: the lab's tests kill it on purpose).
 */
import '../src/platform/node-polyfills.ts';
import { startRelay } from '../src/net/relay.ts';

const [host, ws, tcp, keyFile] = process.argv.slice(2);
if (!host || !ws || !tcp || !keyFile) {
  process.stderr.write('usage: netns-relay.ts HOST WS_PORT TCP_PORT KEY_FILE\n');
  process.exit(2);
}
const relay = await startRelay({ host, port: Number(ws), tcpPort: Number(tcp), keyFile });
process.stdout.write(`${JSON.stringify({ multiaddr: relay.wsAddr, tcp_multiaddr: relay.tcpAddr, peer_id: relay.peerId })}\n`);
const stop = async () => {
  await relay.stop().catch(() => undefined);
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());

import type { NetworkStatus } from '../api.ts';
import { network } from '../state/store.ts';
import { timeOf } from '../format.ts';

/** Where this homeserver's connection stands, in words that say what it is waiting for. */
export function connectionSummary(n: NetworkStatus | null): { text: string; cls: string } {
  if (!n) return { text: 'Waiting for your homeserver to start…', cls: 'conn unknown' };
  if (!n.available) return { text: 'Working alone (no relay configured)', cls: 'conn alone' };
  if (n.offline) return { text: 'Offline', cls: 'conn off' };
  const peers = `${n.peers.length} peer${n.peers.length === 1 ? '' : 's'}`;
  if (n.relay.state === 'connected') return { text: `relay connected, ${peers}`, cls: 'conn up' };
  const where = relayHost(n.relay.addr);
  if (n.relay.state === 'connecting') {
    return { text: `Waiting for the relay${where ? ` at ${where}` : ''} to answer (others reach you through it)`, cls: 'conn off' };
  }
  if (n.relay.state === 'failed') {
    const since = n.relay.since === undefined ? '' : ` since ${timeOf(n.relay.since)}`;
    return { text: `Relay${where ? ` at ${where}` : ''} unreachable${since}; retrying (${peers})`, cls: 'conn off' };
  }
  return { text: `No relay configured: working alone, ${peers}`, cls: 'conn alone' };
}

/** "host:port" from a relay multiaddr such as /ip4/127.0.0.1/tcp/4000/ws/p2p/12D3…. */
function relayHost(addr: string | undefined): string {
  const m = addr ? /^\/(?:ip4|ip6|dns4|dns6|dns)\/([^/]+)\/tcp\/(\d+)/.exec(addr) : null;
  return m ? `${m[1]}:${m[2]}` : '';
}

/** One line about this server's reachability: relay state and peer count. */
export function ConnectionState() {
  const { text, cls } = connectionSummary(network.value);
  return (
    <span class={cls}>
      <span class="dot" aria-hidden="true" />
      {text}
    </span>
  );
}

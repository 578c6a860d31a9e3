import { network } from '../state/store.ts';

/** One line about this server's reachability: relay state and peer count. */
export function ConnectionState() {
  const n = network.value;
  let text = 'Starting…';
  let cls = 'conn unknown';
  if (n) {
    if (!n.available) {
      text = 'Working alone (no network yet)';
      cls = 'conn alone';
    } else if (n.offline) {
      text = 'Offline';
      cls = 'conn off';
    } else {
      const relay = n.relay.state === 'connected' ? 'relay connected' : `relay ${n.relay.state}`;
      text = `${relay}, ${n.peers.length} peer${n.peers.length === 1 ? '' : 's'}`;
      cls = n.relay.state === 'connected' ? 'conn up' : 'conn off';
    }
  }
  return (
    <span class={cls}>
      <span class="dot" aria-hidden="true" />
      {text}
    </span>
  );
}

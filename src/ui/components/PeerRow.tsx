import type { NetworkStatus } from '../api.ts';

type Peer = NetworkStatus['peers'][number];

/** A peer server named by its people ("Bob", "Bob, Carol"); a server whose users we do not know yet by its key. */
export function peerLabel(p: Peer): string {
  return p.names.length > 0 ? p.names.join(', ') : 'Unknown server';
}

export function PeerRow(props: { peer: Peer; onToggle: () => void }) {
  const p = props.peer;
  const label = peerLabel(p);
  return (
    <li class={p.blocked ? 'peer blocked' : 'peer'}>
      <span class="peer-who" title={`${label} — server key ${p.peer}`}>
        <span class="peer-name">{label}</span>
        <code class="small-text muted">{p.peer.slice(0, 20)}…</code>
      </span>
      <span class="muted small-text">
        {p.link && p.link !== 'none' ? `${p.link}, ` : ''}
        {p.rttMs === undefined ? 'RTT –' : `${Math.round(p.rttMs)} ms`}
      </span>
      <button type="button" class="small" onClick={props.onToggle}>
        {p.blocked ? 'Unblock' : 'Block'}
      </button>
    </li>
  );
}

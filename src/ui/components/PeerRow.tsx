import type { NetworkStatus } from '../api.ts';

export function PeerRow(props: { peer: NetworkStatus['peers'][number]; onToggle: () => void }) {
  const p = props.peer;
  return (
    <li class={p.blocked ? 'peer blocked' : 'peer'}>
      <code title={p.peer}>{p.peer.slice(0, 20)}…</code>
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

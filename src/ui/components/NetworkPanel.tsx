import { useEffect, useState } from 'preact/hooks';
import { type NetworkStatus, errorText } from '../api.ts';
import { loadNetwork, service } from '../state/actions.ts';
import { network, rooms, sidePanel } from '../state/store.ts';
import { timeOf } from '../format.ts';
import { PeerRow } from './PeerRow.tsx';

/** This server, its relay and peers, what is waiting to be sent, and the partition controls. */
export function NetworkPanel() {
  const n = network.value;
  const [error, setError] = useState('');
  const run = async (fn: () => Promise<unknown>) => {
    setError('');
    try {
      await fn();
    } catch (err) {
      setError(errorText(err));
    }
    await loadNetwork();
  };
  // Round-trip times and the relay link change without room events: poll while the panel is open.
  useEffect(() => {
    void loadNetwork();
    const timer = setInterval(loadNetwork, 2000);
    return () => clearInterval(timer);
  }, []);
  const offline = n?.offline ?? false;
  const outbox = Object.entries(n?.outbox ?? {});
  const joined = rooms.value.filter((r) => r.membership === 'join');
  /** A destination server by its people's names, when it is a peer we know. */
  const namesOf = (server: string) => n?.peers.find((p) => p.peer === server)?.names.join(', ') ?? '';
  return (
    <aside class="side-panel network" aria-labelledby="network-title">
      <header class="panel-head">
        <h2 id="network-title">Network</h2>
        <button type="button" class="icon" aria-label="Close panel" onClick={() => (sidePanel.value = 'none')}>
          ✕
        </button>
      </header>
      <div class="panel-body">
        <dl class="facts">
          <dt>Server name</dt>
          <dd>
            <code class="server-name">{n?.serverName ?? '…'}</code>
          </dd>
          <dt>Relay</dt>
          <dd>
            <span class={`relay-state ${n?.relay.state ?? ''}`}>{n ? relayText(n.relay) : '…'}</span>
            {n?.relay.addr && (
              <>
                <br />
                <code class="small-text relay-addr" title={n.relay.addr}>
                  {n.relay.addr}
                </code>
              </>
            )}
          </dd>
          <dt>Signature checks</dt>
          <dd class="small-text verifier">{n?.verifier ?? '…'}</dd>
        </dl>
        {n && !n.available && (
          <p class="muted small-text">
            This homeserver is working alone: peer-to-peer networking is not connected in this build yet. Rooms, messages
            and history all work locally.
          </p>
        )}
        <div class="switch-row">
          <span id="offline-label">Offline</span>
          <button
            type="button"
            role="switch"
            aria-checked={offline}
            aria-labelledby="offline-label"
            class={offline ? 'switch on' : 'switch'}
            onClick={() => run(() => service().setOffline(!offline))}
          >
            <span class="knob" aria-hidden="true" />
          </button>
        </div>
        {error && (
          <p class="error-text" role="alert">
            {error}
          </p>
        )}
        <h3>Peers</h3>
        <p class="muted small-text" id="block-help">
          <strong>Block</strong> cuts this homeserver's direct link to that server, as a firewall would: no connection, no
          requests, no gossip between the two. It does not hide anyone — their messages can still arrive through other
          members of your rooms, who pass events on.
        </p>
        {n && n.peers.length === 0 ? (
          <p class="muted small-text">No peers connected.</p>
        ) : (
          <ul class="plain-list peers">
            {n?.peers.map((p) => (
              <PeerRow key={p.peer} peer={p} onToggle={() => run(() => (p.blocked ? service().unblock(p.peer) : service().block(p.peer)))} />
            ))}
          </ul>
        )}
        <h3>Outbox</h3>
        {outbox.length === 0 ? (
          <p class="muted small-text">Nothing waiting to be sent.</p>
        ) : (
          <table class="outbox">
            <thead>
              <tr>
                <th scope="col">Destination server</th>
                <th scope="col">Queued</th>
              </tr>
            </thead>
            <tbody>
              {outbox.map(([dest, count]) => (
                <tr key={dest}>
                  <td title={dest}>
                    {namesOf(dest) || <code>{dest.slice(0, 16)}…</code>}
                  </td>
                  <td>{count}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <h3>Rooms</h3>
        <ul class="plain-list small-text">
          {joined.map((r) => (
            <li key={r.roomId} class="room-fact">
              <span class="room-fact-name" title={r.name}>
                {r.name}
              </span>
              <span>
                {r.memberCount} member{r.memberCount === 1 ? '' : 's'}, room version {r.roomVersion}, outbox{' '}
                {n?.outboxByRoom?.[r.roomId] ?? 0}
              </span>
            </li>
          ))}
        </ul>
      </div>
    </aside>
  );
}

/** The relay link in words: "unreachable since 12:04" says how long, not only that. */
function relayText(r: NetworkStatus['relay']): string {
  switch (r.state) {
    case 'connected':
      return 'connected';
    case 'connecting':
      return 'connecting…';
    case 'none':
      return 'none configured';
    case 'failed':
      return r.since === undefined ? 'unreachable' : `unreachable since ${timeOf(r.since)}`;
  }
}

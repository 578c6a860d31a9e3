import { useState } from 'preact/hooks';
import { chatLink } from '../format.ts';
import { currentRoomId, dialog, myUserId, network, sidePanel } from '../state/store.ts';
import { ConnectionState, connectionSummary } from './ConnectionState.tsx';
import { CopyButton } from './CopyButton.tsx';

export function TopBar() {
  const me = myUserId.value;
  // At phone width your ID, the connection state and account actions sit behind one button.
  const [open, setOpen] = useState(false);
  const conn = connectionSummary(network.value);
  return (
    <header class={currentRoomId.value ? 'topbar in-room' : 'topbar'}>
      <h1>
        <img src="favicon.svg" alt="" width="22" height="22" /> Hearth
      </h1>
      <button
        type="button"
        class="account-toggle"
        aria-label="You: your ID and connection"
        aria-expanded={open}
        aria-controls="account"
        title={conn.text}
        onClick={() => setOpen(!open)}
      >
        <span class={conn.cls}>
          <span class="dot" aria-hidden="true" />
        </span>
        You
      </button>
      <div id="account" class={open ? 'account open' : 'account'}>
        {me && (
          <div class="me">
            <output class="user-id" aria-label="Your user ID" title={me}>
              {me}
            </output>
            <CopyButton text={me} label="Copy user ID" visible="Copy ID" />
            <CopyButton text={chatLink(me)} label="Copy chat link" visible="Copy link" />
          </div>
        )}
        <ConnectionState />
        {me && (
          <button type="button" onClick={() => (dialog.value = 'profile')}>
            Profile
          </button>
        )}
        {me && (
          <button type="button" onClick={() => (dialog.value = 'clients')}>
            Other clients
          </button>
        )}
      </div>
      <button
        type="button"
        aria-pressed={sidePanel.value === 'network'}
        onClick={() => (sidePanel.value = sidePanel.value === 'network' ? 'none' : 'network')}
      >
        Network
      </button>
    </header>
  );
}

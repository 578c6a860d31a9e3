import { chatLink } from '../format.ts';
import { currentRoomId, dialog, myUserId, sidePanel } from '../state/store.ts';
import { ConnectionState } from './ConnectionState.tsx';
import { CopyButton } from './CopyButton.tsx';

export function TopBar() {
  const me = myUserId.value;
  return (
    <header class={currentRoomId.value ? 'topbar in-room' : 'topbar'}>
      <h1>
        <img src="/favicon.svg" alt="" width="22" height="22" /> Hearth
      </h1>
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
        <button type="button" onClick={() => (dialog.value = 'clients')}>
          Other clients
        </button>
      )}
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

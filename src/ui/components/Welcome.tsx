import { chatLink } from '../format.ts';
import { dialog, myUserId, session } from '../state/store.ts';
import { CopyButton } from './CopyButton.tsx';

/** Shown when no room is open: what is going on and how to reach someone. */
export function Welcome() {
  const me = myUserId.value;
  const link = chatLink(me);
  return (
    <section class="welcome card" aria-labelledby="welcome-title">
      <h2 id="welcome-title">Hello, {session.value?.displayName ?? me}</h2>
      <p>
        Your homeserver runs inside this tab. Rooms and messages are stored in this browser; people on other homeservers
        join your rooms over a peer-to-peer network, and every server keeps its own copy of each room's history.
      </p>
      <p>Share this link: whoever opens it can start a chat with you in one click.</p>
      <p class="share">
        <code>{link}</code> <CopyButton text={link} label="Copy your chat link" />
      </p>
      <p>
        <button type="button" class="primary" onClick={() => (dialog.value = 'create')}>
          Begin a conversation
        </button>{' '}
        <button type="button" onClick={() => (dialog.value = 'dm')}>
          Start a chat
        </button>
      </p>
    </section>
  );
}

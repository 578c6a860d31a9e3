import { startChat } from '../state/actions.ts';
import { myUserId, pendingChat } from '../state/store.ts';

/** A `#/chat/@user:server` link was opened: one click starts the chat. */
export function ChatLinkBanner() {
  const who = pendingChat.value;
  if (!who || who === myUserId.value) return null;
  const clear = () => {
    pendingChat.value = null;
    history.replaceState(null, '', '#');
  };
  return (
    <section class="banner" aria-label="Chat link">
      <span>
        Start a chat with <code>{who}</code>?
      </span>
      <button
        type="button"
        class="primary"
        onClick={async () => {
          clear();
          await startChat(who);
        }}
      >
        Start chat
      </button>
      <button type="button" onClick={clear}>
        Not now
      </button>
    </section>
  );
}

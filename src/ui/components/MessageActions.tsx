import type { TimelineItem } from '../api.ts';
import { openThread, react, redact, unreact } from '../state/actions.ts';
import { confirmation, currentMembership, editing, editingInPlace, myUserId, powers, replyTo } from '../state/store.ts';
import { MoreActions } from './MoreActions.tsx';

export const QUICK_REACTIONS = ['👍', '❤️', '😄', '🎉'];

/** The per-message toolbar: visible on hover and keyboard focus. */
export function MessageActions(props: { item: TimelineItem; inThread?: boolean }) {
  const { item } = props;
  const mine = item.sender === myUserId.value;
  const canDelete = mine || powers.value.mine >= powers.value.redact;
  if (item.kind === 'redacted' || item.kind === 'notice') return null;
  // Someone who left or was removed can read what they were allowed to see, not act on it.
  if (currentMembership.value !== 'join') return null;
  const focusComposer = () => document.getElementById(props.inThread ? 'thread-composer' : 'composer')?.focus();
  return (
    <div class="msg-actions" role="toolbar" aria-label="Message actions">
      {QUICK_REACTIONS.map((k) => {
        // Pressing a reaction you have already made takes it back, as in the reactions under the message.
        const reacted = item.reactions.some((r) => r.key === k && r.senders.includes(myUserId.value));
        return (
          <button
            key={k}
            type="button"
            class="icon"
            aria-label={`React ${k}`}
            aria-pressed={reacted}
            title={reacted ? 'Press to take yours back' : undefined}
            onClick={() => (reacted ? unreact(item.event_id, k) : react(item.event_id, k))}
          >
            {k}
          </button>
        );
      })}
      {!props.inThread && (
        <>
          <button
            type="button"
            class="small"
            onClick={() => {
              replyTo.value = item;
              editing.value = null;
              focusComposer();
            }}
          >
            Reply
          </button>
          <button type="button" class="small" onClick={() => openThread(item.event_id)}>
            Thread
          </button>
        </>
      )}
      {mine && item.kind === 'message' && (
        <button
          type="button"
          class="small"
          onClick={() => {
            // The tile itself becomes the editor (Up in the message box still edits there).
            editing.value = null;
            replyTo.value = null;
            editingInPlace.value = item.event_id;
          }}
        >
          Edit
        </button>
      )}
      <MoreActions item={item} />
      {canDelete && (
        <button
          type="button"
          class="small danger"
          onClick={() =>
            (confirmation.value = {
              title: 'Delete this message?',
              text: mine ? 'It is removed for everyone in the room.' : 'It is removed for everyone in the room, and its sender sees that you removed it.',
              action: 'Delete',
              run: (reason) => redact(item.event_id, reason),
            })
          }
        >
          Delete
        </button>
      )}
    </div>
  );
}

import { useEffect, useRef, useState } from 'preact/hooks';
import { nameOf } from '../format.ts';
import { editMessage, sendMessage, setTyping } from '../state/actions.ts';
import { displayNames, editing, myUserId, replyTo, timeline } from '../state/store.ts';

/**
 * The message box. Enter sends, Shift+Enter breaks the line, Up in an empty
 * box edits your last message, Escape cancels a reply or an edit. With
 * `thread`, it posts into that thread (and has its own name).
 */
export function Composer(props: { thread?: string }) {
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const ref = useRef<HTMLTextAreaElement>(null);
  const inThread = props.thread !== undefined;
  const edit = inThread ? null : editing.value;
  const reply = inThread ? null : replyTo.value;

  // Starting an edit puts the old text in the box.
  useEffect(() => {
    if (edit) {
      setText(edit.body ?? '');
      ref.current?.focus();
    }
  }, [edit?.event_id]);

  const cancel = () => {
    if (edit) setText('');
    editing.value = null;
    replyTo.value = null;
  };

  const submit = async () => {
    const body = text.trim();
    if (!body || busy) return;
    setBusy(true);
    const ok = edit ? await editMessage(edit, body) : await sendMessage(body, props.thread);
    setBusy(false);
    if (ok) {
      setText('');
      setTyping(false);
    }
    ref.current?.focus();
  };

  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      void submit();
    } else if (e.key === 'ArrowUp' && text === '' && !inThread) {
      const mine = timeline.value.filter((i) => i.sender === myUserId.value && i.kind === 'message' && !i.inThread).at(-1);
      if (mine) {
        e.preventDefault();
        replyTo.value = null;
        editing.value = mine;
      }
    } else if (e.key === 'Escape' && (edit || reply)) {
      e.preventDefault();
      cancel();
    }
  };

  const label = inThread ? 'Reply in thread' : 'Message';
  return (
    <form
      class="composer"
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      {(edit || reply) && (
        <div class="composer-context">
          <span>
            {edit ? 'Editing your message' : `Replying to ${nameOf(reply!.sender, displayNames.value)}: `}
            {reply && <span class="muted">{(reply.body ?? '').slice(0, 80)}</span>}
          </span>
          <button type="button" class="small" onClick={cancel}>
            Cancel
          </button>
        </div>
      )}
      <div class="composer-row">
        <textarea
          id={inThread ? 'thread-composer' : 'composer'}
          ref={ref}
          rows={1}
          aria-label={label}
          placeholder={inThread ? 'Reply in thread…' : 'Message (Enter to send, ↑ to edit your last)'}
          value={text}
          onInput={(e) => {
            setText(e.currentTarget.value);
            setTyping(e.currentTarget.value !== '');
          }}
          onKeyDown={onKeyDown}
        />
        <button type="submit" class="primary" disabled={busy || !text.trim()}>
          {edit ? 'Save edit' : 'Send'}
        </button>
      </div>
      <p class="hint muted small-text">
        **bold**, *italics*, `code`, [links](https://…) · Shift+Enter for a new line
      </p>
    </form>
  );
}

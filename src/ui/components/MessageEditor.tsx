import { useLayoutEffect, useRef, useState } from 'preact/hooks';
import type { TimelineItem } from '../api.ts';
import { editMessage } from '../state/actions.ts';
import { editingInPlace } from '../state/store.ts';

/** Ends the in-place edit and gives the focus back to the message box. */
function done(): void {
  editingInPlace.value = null;
  document.getElementById('composer')?.focus();
}

/** The message's tile turned editor: Enter saves, Shift+Enter breaks the line, Escape cancels. */
export function MessageEditor(props: { item: TimelineItem }) {
  const [text, setText] = useState(props.item.body ?? '');
  const [busy, setBusy] = useState(false);
  const ref = useRef<HTMLTextAreaElement>(null);
  // Before the first paint, not after it: placed later, the caret could land after the person (or a
  // test) had already selected the text to replace it, and what they typed went after the old text
  // (seen in e2e/livable-polish.spec.ts, 1 run in 6–8: "…~~gone~~final plan, in plain words").
  useLayoutEffect(() => {
    const box = ref.current;
    if (!box) return;
    box.focus();
    box.setSelectionRange(box.value.length, box.value.length);
  }, []);
  const save = async () => {
    const body = text.trim();
    if (busy || !body) return;
    // Unchanged: nothing to send, the edit just ends.
    if (body === (props.item.body ?? '').trim()) return done();
    setBusy(true);
    const ok = await editMessage(props.item, body);
    setBusy(false);
    if (ok) done();
  };
  return (
    <form
      class="msg-editor"
      onSubmit={(e) => {
        e.preventDefault();
        void save();
      }}
    >
      <textarea
        ref={ref}
        aria-label="Edit message"
        rows={Math.min(8, Math.max(1, text.split('\n').length))}
        value={text}
        disabled={busy}
        onInput={(e) => setText(e.currentTarget.value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
            e.preventDefault();
            void save();
          } else if (e.key === 'Escape') {
            e.preventDefault();
            e.stopPropagation();
            done();
          }
        }}
      />
      <div class="msg-editor-actions">
        <span class="muted small-text msg-editor-hint">Enter to save · Esc to cancel</span>
        <button type="button" class="small" onClick={done}>
          Cancel
        </button>
        <button type="submit" class="small primary" disabled={busy || !text.trim()}>
          Save
        </button>
      </div>
    </form>
  );
}

import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { TimelineItem } from '../api.ts';
import { nameOf } from '../format.ts';
import { composeHtml } from '../markdown.tsx';
import { EmojiButton } from './EmojiPicker.tsx';
import { fileSize } from './FileMessage.tsx';
import { type Mention, applyMentions, matchMembers, mentionName, mentionQuery } from '../mentions.ts';
import { MAX_IMAGE_BYTES, editMessage, sendImage, setTyping } from '../state/actions.ts';
import { MAX_MESSAGE_BYTES, kib, messageBytes, mib, outgoing, send, sendFile } from '../state/outgoing.ts';
import { currentRoomId, displayNames, editing, members, myUserId, replyTo, timeline } from '../state/store.ts';

/** My newest message in the open room's main timeline: what Up edits. */
function myLastMessage(): TimelineItem | undefined {
  return timeline.value.findLast((i) => i.sender === myUserId.value && i.kind === 'message' && !i.inThread);
}

/**
 * The message box. Enter sends, Shift+Enter breaks the line, Up in an empty
 * box edits your last message, Escape cancels a reply or an edit. With
 * `thread`, it posts into that thread (and has its own name).
 */
export function Composer(props: { thread?: string }) {
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const ref = useRef<HTMLTextAreaElement>(null);
  const fileRef = useRef<HTMLInputElement>(null);
  const anyFileRef = useRef<HTMLInputElement>(null);
  const [uploading, setUploading] = useState<string | null>(null);
  /** An image chosen or pasted, shown with a caption field before it is sent. */
  const [preview, setPreview] = useState<{ file: File; url: string } | null>(null);
  const [caption, setCaption] = useState('');
  const captionRef = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (!preview) return;
    captionRef.current?.focus();
    return () => URL.revokeObjectURL(preview.url);
  }, [preview]);
  const inThread = props.thread !== undefined;
  const edit = inThread ? null : editing.value;
  const reply = inThread ? null : replyTo.value;
  // @-mention completion: the caret, the mentions picked so far, the highlighted option.
  const [caret, setCaret] = useState(0);
  const [chosen, setChosen] = useState<Mention[]>([]);
  const [active, setActive] = useState(0);
  const [dismissed, setDismissed] = useState<number | null>(null);
  const query = mentionQuery(text, caret);
  const options = query && query.start !== dismissed ? matchMembers(members.value, query.query, myUserId.value) : [];
  const listId = inThread ? 'thread-mention-list' : 'mention-list';

  // Up pressed while my newest message is still on its way (local echo): it is "my last message".
  // The box takes its text at once, like any edit, so what the person types next is never replaced.
  // The edit itself needs the event's ID: submitted before the message lands, it is sent when it does.
  const [editWhenSent, setEditWhenSent] = useState<{ echo: string; room: string; submitted?: string } | null>(null);
  const pendingEcho = editWhenSent ? outgoing.value.find((o) => o.id === editWhenSent.echo) : undefined;
  /** Editing a message that was on its way when the edit began, not yet submitted (the box holds the edit). */
  const editPending = editWhenSent !== null && editWhenSent.submitted === undefined;
  useEffect(() => {
    if (!editWhenSent || pendingEcho?.state === 'sending') return;
    const submitted = editWhenSent.submitted;
    if (pendingEcho || currentRoomId.value !== editWhenSent.room) {
      // Refused (nothing to edit), or another room is open now: what was typed stays in the box as a draft.
      setEditWhenSent(null);
      if (submitted !== undefined) restoreDraft(submitted);
      return;
    }
    // Landed. Not submitted yet: submit edits it like any edit (see submit).
    if (submitted === undefined) return;
    setEditWhenSent(null);
    const mine = myLastMessage();
    if (!mine) {
      restoreDraft(submitted);
      return;
    }
    void editMessage(mine, submitted).then((ok) => {
      if (!ok) restoreDraft(submitted);
    });
  }, [editWhenSent, pendingEcho?.state, pendingEcho === undefined, timeline.value]);

  /** An edit that could not be sent goes back into the box, unless something new was typed there since. */
  const restoreDraft = (draft: string): void => setText((now) => (now.trim() ? now : draft));

  /**
   * Starts editing: the old text goes into the box now, in the same event as the key that asked for
   * it. Put there after the next paint (an effect), it could replace what was typed in between.
   */
  const startEdit = (body: string): void => {
    replyTo.value = null;
    setText(body);
  };

  // Messages the network would refuse are refused here, with the limit: the size of what would be sent.
  const size = useMemo(() => {
    const body = text.trim();
    // A short message cannot reach the limit, whatever its Markdown becomes: skip rendering it on each key.
    return body.length < 8 * 1024 ? 0 : messageBytes(body, composeHtml(body));
  }, [text]);
  const tooLarge = size > MAX_MESSAGE_BYTES;

  const cancel = () => {
    if (edit || editPending) setText('');
    setEditWhenSent(null);
    editing.value = null;
    replyTo.value = null;
  };

  const submit = async () => {
    const body = text.trim();
    if (!body || busy || tooLarge) return;
    if (editPending && pendingEcho?.state === 'sending') {
      if (body === pendingEcho.body.trim()) {
        cancel();
        return;
      }
      // The message being edited has no event ID yet: the edit goes once it lands (see editWhenSent).
      setEditWhenSent((w) => w && { ...w, submitted: body });
      setText('');
      setTyping(false);
      return;
    }
    if (!edit && !editPending) {
      // Shown at once as *sending* (a local echo); a refusal stays in the timeline with a retry.
      const { markdown, userIds } = applyMentions(body, chosen);
      setText('');
      setChosen([]);
      void send(body, composeHtml(markdown), props.thread, userIds);
      // After the send, so the worker starts on the message first: the typing change is a
      // broadcast (plus a request to any server the broadcast did not reach), which the
      // message would otherwise wait behind.
      setTyping(false);
      ref.current?.focus();
      return;
    }
    const target = edit ?? myLastMessage();
    if (!target) return;
    if (body === (target.body ?? '').trim()) {
      // Unchanged: nothing to send, the edit just ends.
      cancel();
      return;
    }
    setBusy(true);
    const ok = await editMessage(target, body);
    setBusy(false);
    if (ok) {
      setEditWhenSent(null);
      setText('');
      setTyping(false);
    }
    ref.current?.focus();
  };

  /** Puts `s` (an emoji) where the caret is, replacing any selection. */
  const insert = (s: string) => {
    const box = ref.current;
    const at = box?.selectionStart ?? text.length;
    const end = box?.selectionEnd ?? at;
    const next = text.slice(0, at) + s + text.slice(end);
    setText(next);
    setCaret(at + s.length);
    requestAnimationFrame(() => box?.setSelectionRange(at + s.length, at + s.length));
  };

  /** Puts `@name ` in place of the `@query` being typed and remembers whom it mentions. */
  const pick = (m: (typeof options)[number]) => {
    if (!query) return;
    const name = mentionName(m);
    const before = `${text.slice(0, query.start)}@${name} `;
    setText(before + text.slice(caret));
    setChosen([...chosen.filter((c) => c.userId !== m.userId), { name, userId: m.userId }]);
    setActive(0);
    setCaret(before.length);
    requestAnimationFrame(() => {
      ref.current?.focus();
      ref.current?.setSelectionRange(before.length, before.length);
    });
  };

  const onKeyDown = (e: KeyboardEvent) => {
    const option = options[Math.min(active, options.length - 1)];
    if (option && (e.key === 'ArrowDown' || e.key === 'ArrowUp')) {
      e.preventDefault();
      setActive((active + (e.key === 'ArrowDown' ? 1 : options.length - 1)) % options.length);
    } else if (option && (e.key === 'Enter' || e.key === 'Tab') && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      pick(option);
    } else if (option && e.key === 'Escape') {
      e.preventDefault();
      setDismissed(query?.start ?? null);
    } else if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      void submit();
    } else if (e.key === 'ArrowUp' && text === '' && !inThread) {
      const sending = outgoing.value.filter((o) => o.roomId === currentRoomId.value && !o.thread && o.state === 'sending').at(-1);
      if (sending) {
        e.preventDefault();
        // An edit of it already submitted (and waiting) is what the box edits further.
        const latest = editWhenSent?.echo === sending.id ? (editWhenSent.submitted ?? sending.body) : sending.body;
        startEdit(latest);
        setEditWhenSent({ echo: sending.id, room: sending.roomId });
        return;
      }
      const mine = myLastMessage();
      if (mine) {
        e.preventDefault();
        startEdit(mine.body ?? '');
        editing.value = mine;
      }
    } else if (e.key === 'Escape' && (edit || editPending || reply)) {
      e.preventDefault();
      cancel();
    }
  };

  const attach = async (file: File) => {
    if (uploading) return;
    // Not an image, or over the cap: sendImage says why, and nothing is previewed.
    if (!file.type.startsWith('image/') || file.size > MAX_IMAGE_BYTES) {
      await sendImage(file);
      return;
    }
    setCaption('');
    setPreview({ file, url: URL.createObjectURL(file) });
  };

  const sendPreview = async () => {
    if (!preview || uploading) return;
    const { file } = preview;
    const text = caption;
    setPreview(null);
    setCaption('');
    setUploading(file.name || 'image');
    await sendImage(file, text);
    setUploading(null);
    ref.current?.focus();
  };

  const cancelPreview = () => {
    setPreview(null);
    setCaption('');
    ref.current?.focus();
  };

  const share = async (file: File) => {
    if (uploading) return;
    setUploading(file.name || 'file');
    await sendFile(file);
    setUploading(null);
    ref.current?.focus();
  };

  // Pasting an image (a screenshot, a copied picture) sends it like the Attach image button.
  const onPaste = (e: ClipboardEvent) => {
    if (inThread) return;
    const file = [...(e.clipboardData?.files ?? [])].find((f) => f.type.startsWith('image/'));
    if (!file) return;
    e.preventDefault();
    void attach(file);
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
      {(edit || editPending || reply) && (
        <div class="composer-context">
          <span>
            {edit || editPending ? 'Editing your message' : `Replying to ${nameOf(reply!.sender, displayNames.value)}: `}
            {reply && <span class="muted">{(reply.body ?? '').slice(0, 80)}</span>}
          </span>
          <button type="button" class="small" onClick={cancel}>
            Cancel
          </button>
        </div>
      )}
      {preview && (
        <fieldset class="image-preview" aria-label="Image to send">
          <img src={preview.url} alt={`Preview of ${preview.file.name || 'image'}`} />
          <div class="image-preview-side">
            <span class="small-text">
              {preview.file.name || 'image'} · {fileSize(preview.file.size)}
            </span>
            <input
              ref={captionRef}
              type="text"
              aria-label="Caption"
              placeholder="Add a caption (optional)"
              value={caption}
              onInput={(e) => setCaption(e.currentTarget.value)}
              onKeyDown={(e) => {
                if (e.key === 'Enter' && !e.isComposing) {
                  e.preventDefault();
                  void sendPreview();
                } else if (e.key === 'Escape') {
                  e.preventDefault();
                  cancelPreview();
                }
              }}
            />
            <div class="image-preview-actions">
              <button type="button" class="primary" onClick={() => void sendPreview()}>
                Send image
              </button>
              <button type="button" onClick={cancelPreview}>
                Cancel
              </button>
            </div>
          </div>
        </fieldset>
      )}
      {options.length > 0 && (
        <div class="mention-list" id={listId} role="listbox" aria-label="Mention a member">
          {options.map((m, i) => (
            <div
              key={m.userId}
              id={`${listId}-${i}`}
              role="option"
              tabIndex={-1}
              aria-selected={i === Math.min(active, options.length - 1)}
              onMouseDown={(e) => {
                e.preventDefault(); // keep the focus in the message box
                pick(m);
              }}
            >
              {mentionName(m)} <span class="muted">{m.userId}</span>
            </div>
          ))}
        </div>
      )}
      <div class="composer-row">
        <textarea
          id={inThread ? 'thread-composer' : 'composer'}
          ref={ref}
          rows={1}
          aria-label={label}
          placeholder={inThread ? 'Reply in thread…' : narrowScreen() ? 'Message' : 'Message (Enter to send, ↑ to edit your last)'}
          value={text}
          aria-activedescendant={options.length > 0 ? `${listId}-${Math.min(active, options.length - 1)}` : undefined}
          onInput={(e) => {
            setText(e.currentTarget.value);
            setCaret(e.currentTarget.selectionStart);
            setActive(0);
            setTyping(e.currentTarget.value !== '');
          }}
          onKeyDown={onKeyDown}
          onKeyUp={(e) => setCaret(e.currentTarget.selectionStart)}
          onClick={(e) => setCaret(e.currentTarget.selectionStart)}
          onPaste={onPaste}
        />
        <EmojiButton onPick={insert} />
        {!inThread && (
          <>
            <input
              ref={fileRef}
              type="file"
              accept="image/*"
              hidden
              onChange={(e) => {
                const input = e.currentTarget;
                const file = input.files?.[0];
                input.value = '';
                if (file) void attach(file);
              }}
            />
            <button
              type="button"
              class="icon attach"
              aria-label="Attach image"
              title={`Attach image (or paste one), up to ${mib(MAX_IMAGE_BYTES)}`}
              disabled={uploading !== null}
              onClick={() => fileRef.current?.click()}
            >
              <svg aria-hidden="true" width="20" height="20" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">
                <rect x="3" y="3" width="18" height="18" rx="2" />
                <circle cx="8.5" cy="8.5" r="1.5" />
                <path d="M21 15l-5-5L5 21" />
              </svg>
            </button>
            <input
              ref={anyFileRef}
              type="file"
              hidden
              onChange={(e) => {
                const input = e.currentTarget;
                const file = input.files?.[0];
                input.value = '';
                if (file) void share(file);
              }}
            />
            <button
              type="button"
              class="icon attach"
              aria-label="Share a file"
              title={`Share a file of any type, up to ${mib(MAX_IMAGE_BYTES)}`}
              disabled={uploading !== null}
              onClick={() => anyFileRef.current?.click()}
            >
              <svg aria-hidden="true" width="20" height="20" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">
                <path d="M21 11.5l-8.6 8.6a5.5 5.5 0 0 1-7.8-7.8l8.6-8.6a3.7 3.7 0 0 1 5.2 5.2l-8.6 8.6a1.8 1.8 0 0 1-2.6-2.6l7.9-7.9" />
              </svg>
            </button>
          </>
        )}
        <button type="submit" class="primary" disabled={busy || !text.trim() || tooLarge}>
          {edit ? 'Save edit' : 'Send'}
        </button>
      </div>
      {tooLarge && (
        <p class="error-text small-text" role="alert" id="composer-too-large">
          This message is too large to send ({kib(size)}): messages can be at most {kib(MAX_MESSAGE_BYTES)} of text and
          formatting. Shorten it, or share it as a file.
        </p>
      )}
      {uploading && (
        <p class="hint small-text" role="status">
          Sending {uploading}…
        </p>
      )}
      <p class="hint muted small-text">
        Markdown: **bold**, *italics*, ~~strike~~, `code`, ``` blocks, &gt; quotes, - lists, [links](https://…) · @ to mention · files up to {mib(MAX_IMAGE_BYTES)} · Shift+Enter for a new line
      </p>
    </form>
  );
}

/** At phone width the full hint wraps to three lines inside the one-line box; the short form keeps it a single line. */
function narrowScreen(): boolean {
  return typeof window !== 'undefined' && window.innerWidth < 600;
}

/**
 * The composer's emoji picker: emoji-picker-element (a small, well-kept web component with
 * keyboard navigation, search and skin tones). Neither the component nor its emoji data are
 * part of the first page load: the script is imported on the first open and the data
 * (emojibase, shipped with the app as a static file, so it works offline) is fetched then.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import emojiData from 'emoji-picker-element-data/en/emojibase/data.json?url';

type PickerElement = HTMLElement & { addEventListener(type: 'emoji-click', fn: (e: CustomEvent<{ unicode?: string }>) => void): void };

let loading: Promise<new (opts: { dataSource: string; locale: string }) => PickerElement> | undefined;

function loadPicker() {
  loading ??= import('emoji-picker-element/picker.js').then((m) => m.default as unknown as new (opts: { dataSource: string; locale: string }) => PickerElement);
  return loading;
}

/** A button that opens the picker above the composer; `onPick` gets each chosen emoji. */
export function EmojiButton(props: { onPick: (emoji: string) => void; disabled?: boolean }) {
  const [open, setOpen] = useState(false);
  const [failed, setFailed] = useState<string | null>(null);
  const holder = useRef<HTMLDivElement>(null);
  const pick = useRef(props.onPick);
  pick.current = props.onPick;

  useEffect(() => {
    if (!open) return;
    let live = true;
    let picker: PickerElement | undefined;
    loadPicker().then(
      (Picker) => {
        if (!live || !holder.current) return;
        picker = new Picker({ dataSource: new URL(emojiData, location.href).href, locale: 'en' });
        picker.setAttribute('aria-label', 'Emoji');
        picker.addEventListener('emoji-click', (e) => {
          if (e.detail.unicode) pick.current(e.detail.unicode);
        });
        holder.current.appendChild(picker);
      },
      (err: unknown) => live && setFailed(err instanceof Error ? err.message : String(err)),
    );
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') setOpen(false);
    };
    document.addEventListener('keydown', onKey);
    return () => {
      live = false;
      picker?.remove();
      document.removeEventListener('keydown', onKey);
    };
  }, [open]);

  return (
    <>
      <button
        type="button"
        class="icon attach"
        aria-label="Emoji"
        title="Insert an emoji"
        aria-expanded={open}
        aria-controls={open ? 'emoji-popover' : undefined}
        disabled={props.disabled}
        onClick={() => setOpen(!open)}
      >
        <svg aria-hidden="true" width="20" height="20" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">
          <circle cx="12" cy="12" r="10" />
          <path d="M8 14s1.5 2 4 2 4-2 4-2" />
          <path d="M9 9h.01M15 9h.01" />
        </svg>
      </button>
      {open && (
        <div class="emoji-popover" id="emoji-popover" ref={holder}>
          {failed && (
            <p class="error-text small-text" role="alert">
              The emoji picker could not be loaded: {failed}
            </p>
          )}
        </div>
      )}
    </>
  );
}

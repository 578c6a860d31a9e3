import { useEffect, useRef, useState } from 'preact/hooks';
import type { TimelineItem } from '../api.ts';
import { permalink } from '../permalink.ts';
import { say } from '../state/actions.ts';
import { currentRoomId, sourceEvent } from '../state/store.ts';

async function copy(text: string, what: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
    say(`${what} copied`);
  } catch {
    say(`Could not copy the ${what.toLowerCase()}: the browser did not allow it`, true);
  }
}

/** A message's less frequent actions behind "More": its link, its source, its text. */
export function MoreActions(props: { item: TimelineItem }) {
  const { item } = props;
  const [open, setOpen] = useState(false);
  const wrap = useRef<HTMLDivElement>(null);
  const menu = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!open) return;
    menu.current?.querySelector<HTMLButtonElement>('[role=menuitem]')?.focus();
    // A click anywhere else closes the menu.
    const away = (e: PointerEvent) => {
      if (!wrap.current?.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener('pointerdown', away);
    return () => document.removeEventListener('pointerdown', away);
  }, [open]);
  const roomId = currentRoomId.value;
  const pick = (fn: () => unknown) => () => {
    setOpen(false);
    void fn();
  };
  const text = item.kind === 'message' ? item.body : undefined;
  return (
    <div class="more-actions" ref={wrap}>
      <button
        type="button"
        class="small"
        aria-label="More actions"
        aria-haspopup="menu"
        aria-expanded={open}
        onClick={() => setOpen(!open)}
      >
        ⋯
      </button>
      {open && (
        <div
          ref={menu}
          class="menu"
          role="menu"
          aria-label="More actions"
          tabIndex={-1}
          onKeyDown={(e) => {
            const items = [...(menu.current?.querySelectorAll<HTMLButtonElement>('[role=menuitem]') ?? [])];
            const at = items.indexOf(document.activeElement as HTMLButtonElement);
            if (e.key === 'Escape') {
              e.preventDefault();
              e.stopPropagation();
              setOpen(false);
            } else if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
              e.preventDefault();
              items[(at + (e.key === 'ArrowDown' ? 1 : items.length - 1)) % items.length]?.focus();
            }
          }}
        >
          {roomId && (
            <button type="button" role="menuitem" onClick={pick(() => copy(permalink(roomId, item.event_id), 'Link'))}>
              Copy link
            </button>
          )}
          <button type="button" role="menuitem" onClick={pick(() => (sourceEvent.value = item.event_id))}>
            View source
          </button>
          {text !== undefined && (
            <button type="button" role="menuitem" onClick={pick(() => copy(text, 'Text'))}>
              Copy text
            </button>
          )}
        </div>
      )}
    </div>
  );
}

import { useEffect, useLayoutEffect, useRef } from 'preact/hooks';
import type { TimelineItem } from '../api.ts';
import { dayKey, dayLabel } from '../format.ts';
import { loadOlder, markRead } from '../state/actions.ts';
import { backfills, currentRoomId, myUserId, receipts, timeline, timelineHasMore } from '../state/store.ts';
import { EventTile } from './EventTile.tsx';
import { OutgoingList } from './Outgoing.tsx';

/** Readers per event: who has a read receipt on it (not me). */
function readersByEvent(r: Record<string, string>, me: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [user, ev] of Object.entries(r)) {
    if (user === me) continue;
    out.set(ev, [...(out.get(ev) ?? []), user]);
  }
  return out;
}

/** A list of items with day separators and sender grouping. */
export function ItemList(props: { items: TimelineItem[]; inThread?: boolean }) {
  const readers = readersByEvent(receipts.value, myUserId.value);
  const rows = [];
  let prev: TimelineItem | undefined;
  for (const item of props.items) {
    if (!prev || dayKey(prev.ts) !== dayKey(item.ts)) {
      rows.push(
        <div key={`day-${item.event_id}`} class="day-sep">
          <span>{dayLabel(item.ts)}</span>
        </div>,
      );
      prev = undefined;
    }
    const continuation =
      !!prev && prev.kind !== 'notice' && item.kind !== 'notice' && prev.sender === item.sender && item.ts - prev.ts < 300_000;
    rows.push(
      <EventTile
        key={item.event_id}
        item={item}
        continuation={continuation && !item.replyTo}
        readers={readers.get(item.event_id) ?? []}
        {...(props.inThread ? { inThread: true } : {})}
      />,
    );
    prev = item;
  }
  return <>{rows}</>;
}

export function Timeline() {
  const ref = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  /** While older items load: the distance from the content's bottom to the view's top, kept so the view does not jump. */
  const anchor = useRef<number | null>(null);
  const items = timeline.value.filter((i) => !i.inThread);
  const roomId = currentRoomId.value;
  const backfill = roomId ? backfills.value[roomId] : undefined;
  const fetchingHistory = !!backfill && !backfill.done;

  // Keep the view pinned to the bottom while the reader is there, and in place while older items arrive above.
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    if (anchor.current !== null) el.scrollTop = el.scrollHeight - anchor.current;
    else if (stick.current) el.scrollTop = el.scrollHeight;
  });
  const older = () => {
    const el = ref.current;
    if (!el || !timelineHasMore.value || anchor.current !== null) return;
    anchor.current = el.scrollHeight - el.scrollTop;
    void loadOlder().finally(() =>
      requestAnimationFrame(() => {
        anchor.current = null;
      }),
    );
  };
  useEffect(() => {
    stick.current = true;
  }, [currentRoomId.value]);
  useEffect(() => {
    const onVisible = () => markRead();
    document.addEventListener('visibilitychange', onVisible);
    return () => document.removeEventListener('visibilitychange', onVisible);
  }, []);

  return (
    <div
      ref={ref}
      class="timeline"
      role="log"
      aria-label="Timeline"
      aria-live="polite"
      aria-busy={fetchingHistory ? 'true' : 'false'}
      // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable log must be reachable by keyboard
      tabIndex={0}
      onScroll={(e) => {
        const el = e.currentTarget;
        stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
        if (el.scrollTop < 40 && timelineHasMore.value) older();
      }}
    >
      {fetchingHistory && (
        <div class="backfill-progress">
          <progress aria-label="Loading older history" />
          <span>
            Loading older history… {backfill.fetched} {backfill.fetched === 1 ? 'event' : 'events'}
          </span>
        </div>
      )}
      {backfill?.done && backfill.error && (
        <p class="muted small-text center" title={backfill.error}>
          Some older history could not be fetched yet; it is retried when another member's server is reachable.
        </p>
      )}
      {timelineHasMore.value && (
        <p class="muted small-text center">
          <button type="button" class="link-button" onClick={older}>
            Load older messages
          </button>
        </p>
      )}
      {items.length === 0 && <p class="muted center">No messages yet. Say hello.</p>}
      <ItemList items={items} />
      <OutgoingList />
    </div>
  );
}

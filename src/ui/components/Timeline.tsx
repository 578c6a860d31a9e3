import { Component } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import type { TimelineItem } from '../api.ts';
import { dayKey, dayLabel } from '../format.ts';
import { loadOlder, markRead, openThread, say } from '../state/actions.ts';
import { backfills, currentRoomId, editingInPlace, focusEvent, jumpToLatest, myUserId, receipts, timeline, timelineHasMore } from '../state/store.ts';
import { withoutEchoed } from '../state/outgoing.ts';
import { creationLength } from '../creation.ts';
import { CreationSummary } from './CreationSummary.tsx';
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

type TileProps = { item: TimelineItem; continuation: boolean; readers: string[]; inThread?: boolean };

/**
 * An EventTile that its list re-renders only when the tile's own props change (the signals a
 * tile reads still re-render it). Each timeline read brings every item anew (unchanged ones keep
 * their object, see keepUnchanged in state/actions.ts), and re-rendering every tile for one new
 * message was a good part of the time between its arrival and its paint.
 */
class Tile extends Component<TileProps> {
  override shouldComponentUpdate(next: TileProps): boolean {
    const p = this.props;
    return p.item !== next.item || p.continuation !== next.continuation || p.inThread !== next.inThread || p.readers.join('\n') !== next.readers.join('\n');
  }

  override render() {
    return <EventTile {...this.props} />;
  }
}

/** A list of items with day separators and sender grouping. */
export function ItemList(props: { items: TimelineItem[]; inThread?: boolean; newFrom?: string | null }) {
  const readers = readersByEvent(receipts.value, myUserId.value);
  const rows = [];
  let prev: TimelineItem | undefined;
  // The room's creation (when the window reaches back to it) is one line, its details on request.
  const created = props.inThread ? 0 : creationLength(props.items);
  if (created > 0) {
    const first = props.items[0]!;
    rows.push(
      <div key={`day-${first.event_id}`} class="day-sep">
        <span>{dayLabel(first.ts)}</span>
      </div>,
      <CreationSummary key="creation" items={props.items.slice(0, created)} />,
    );
    prev = props.items[created - 1];
  }
  for (const item of props.items.slice(created)) {
    if (item.event_id === props.newFrom) {
      rows.push(
        <div key="new-messages" class="new-sep">
          <span>New messages</span>
        </div>,
      );
    }
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
      <Tile
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
  /** Whether the reader has scrolled away from the newest message (shows "Jump to latest"). */
  const [away, setAway] = useState(false);
  /** The first message that arrived while the reader was scrolled up: a "New messages" line goes above it. */
  const [newFrom, setNewFrom] = useState<string | null>(null);
  const lastSeen = useRef<string | undefined>(undefined);
  /** The log's content and view heights at the last scroll: a scroll that comes with a size change is layout, not the reader. */
  const size = useRef({ content: 0, view: 0 });
  /** While older items load: the distance from the content's bottom to the view's top, kept so the view does not jump. */
  const anchor = useRef<number | null>(null);
  const items = withoutEchoed(timeline.value).filter((i) => !i.inThread);
  const roomId = currentRoomId.value;
  const backfill = roomId ? backfills.value[roomId] : undefined;
  const fetchingHistory = !!backfill && !backfill.done;

  // Keep the view in place while older items arrive above. (Pinned to the bottom is kept by the
  // ResizeObserver below: reading scrollHeight here would lay the page out once more per render.)
  useLayoutEffect(() => {
    const el = ref.current;
    if (el && anchor.current !== null) el.scrollTop = el.scrollHeight - anchor.current;
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
  const toBottom = () => {
    const el = ref.current;
    stick.current = true;
    setAway(false);
    if (el) el.scrollTop = el.scrollHeight;
  };
  useEffect(() => {
    toBottom();
    setNewFrom(null);
    lastSeen.current = undefined;
    editingInPlace.value = null;
  }, [currentRoomId.value]);
  // Sending (or "Jump to latest") brings the newest message into view. Subscribed here, not read
  // while rendering: a send would otherwise re-render every tile in the frame that shows its echo.
  useEffect(
    () =>
      jumpToLatest.subscribe((n) => {
        if (n === 0) return;
        toBottom();
        setNewFrom(null);
      }),
    [],
  );
  // Stay at the bottom if there: new rows, rows growing (an edit, an image decoding), panels
  // opening or closing, the composer growing, the viewport changing. ResizeObserver reports in
  // the frame's own rendering step, after its layout and before its paint (a newly observed row
  // reports at once), so the view is pinned in the frame that shows the change, without a
  // layout of its own.
  useEffect(() => {
    const el = ref.current;
    if (!el || typeof ResizeObserver === 'undefined') return;
    const keep = () => {
      if (stick.current && anchor.current === null) el.scrollTop = el.scrollHeight;
    };
    const ro = new ResizeObserver(keep);
    ro.observe(el);
    for (const child of Array.from(el.children)) ro.observe(child);
    const mo = new MutationObserver(() => {
      for (const child of Array.from(el.children)) ro.observe(child);
    });
    mo.observe(el, { childList: true });
    return () => {
      ro.disconnect();
      mo.disconnect();
    };
  }, []);
  // Messages arriving while the reader is scrolled up: mark where the new ones begin.
  const newest = items.at(-1)?.event_id;
  useEffect(() => {
    const before = lastSeen.current;
    lastSeen.current = newest;
    if (!newest || !before || before === newest) return;
    if (stick.current) {
      setNewFrom(null);
      return;
    }
    if (newFrom) return;
    const i = items.findIndex((x) => x.event_id === before);
    const first = i >= 0 ? items[i + 1] : undefined;
    if (first && first.sender !== myUserId.value) setNewFrom(first.event_id);
  }, [newest]);
  // A permalink: bring its event into view (loading older items until it is there) and highlight it a moment.
  const focus = focusEvent.value;
  useEffect(() => {
    const el = ref.current;
    if (!focus || !el || items.length === 0) return;
    const tile = el.querySelector<HTMLElement>(`[data-event-id="${CSS.escape(focus)}"]`);
    if (!tile) {
      const threaded = timeline.value.find((i) => i.event_id === focus)?.inThread;
      if (threaded) {
        focusEvent.value = null;
        openThread(threaded);
      } else if (timelineHasMore.value) older();
      else if (!fetchingHistory) {
        focusEvent.value = null;
        say('That message is not in the history this homeserver has of the room.', true);
      }
      return;
    }
    stick.current = false;
    setAway(true);
    tile.scrollIntoView({ block: 'center' });
    const timer = setTimeout(() => {
      if (focusEvent.value === focus) focusEvent.value = null;
    }, 4000);
    return () => clearTimeout(timer);
  }, [focus, items.length, timelineHasMore.value, fetchingHistory]);
  useEffect(() => {
    const onVisible = () => markRead();
    document.addEventListener('visibilitychange', onVisible);
    return () => document.removeEventListener('visibilitychange', onVisible);
  }, []);

  return (
    <div class="timeline-wrap">
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
          const resized = el.scrollHeight !== size.current.content || el.clientHeight !== size.current.view;
          size.current = { content: el.scrollHeight, view: el.clientHeight };
          // Scroll anchoring moving the view after a reflow (a panel opening, the window narrowing) is not the reader scrolling away.
          if (resized && stick.current && anchor.current === null) {
            el.scrollTop = el.scrollHeight;
            return;
          }
          stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
          if (away === stick.current) setAway(!stick.current);
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
        <ItemList items={items} newFrom={newFrom} />
        <OutgoingList />
      </div>
      {away && (
        <button type="button" class="jump-latest" onClick={() => jumpToLatest.value++}>
          {newFrom ? 'New messages: jump to latest' : 'Jump to latest'}
        </button>
      )}
    </div>
  );
}

/**
 * Each read of the open room's timeline brings every item as a new object (Comlink copies
 * them). Items equal to those already shown keep their old object, so the timeline's tiles
 * re-render only for what changed (Timeline.tsx's Tile compares items by identity): a new
 * message re-renders one tile, not all of them — most of the time between a message's arrival
 * and its paint was re-rendering unchanged tiles.
 */
import type { TimelineItem } from '../api.ts';

/**
 * `next` when it differs from `shown`, else `shown` itself: a signal assigned the object it
 * already holds notifies nobody. The room's members, state and receipts are read anew after
 * every event; a fresh but equal member list made a fresh display-name map, and every tile
 * (each reads the names) re-rendered for each message.
 */
export function keepIfEqual<T>(next: T, shown: T): T {
  return next === shown || JSON.stringify(next) === JSON.stringify(shown) ? shown : next;
}

/**
 * Each item of `next` equal to the shown one keeps the shown object (see the module comment), and
 * the shown list itself is kept when nothing in it changed (a read after the event was stored, say).
 */
export function keepUnchanged(next: readonly TimelineItem[], shown: TimelineItem[]): TimelineItem[] {
  const old = new Map(shown.map((i) => [i.event_id, i]));
  const out = next.map((i) => {
    const o = old.get(i.event_id);
    // Comlink's structured clone keeps key order, so equal items serialise alike.
    return o !== undefined && JSON.stringify(o) === JSON.stringify(i) ? o : i;
  });
  return out.length === shown.length && out.every((i, k) => i === shown[k]) ? shown : out;
}

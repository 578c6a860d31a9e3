/**
 * Each read of the open room's timeline brings every item as a new object (Comlink copies
 * them). Items equal to those already shown keep their old object, so the timeline's tiles
 * re-render only for what changed (Timeline.tsx's Tile compares items by identity): a new
 * message re-renders one tile, not all of them — most of the time between a message's arrival
 * and its paint was re-rendering unchanged tiles.
 */
import type { TimelineItem } from '../api.ts';

export function keepUnchanged(next: readonly TimelineItem[], shown: readonly TimelineItem[]): TimelineItem[] {
  const old = new Map(shown.map((i) => [i.event_id, i]));
  return next.map((i) => {
    const o = old.get(i.event_id);
    // Comlink's structured clone keeps key order, so equal items serialise alike.
    return o !== undefined && JSON.stringify(o) === JSON.stringify(i) ? o : i;
  });
}

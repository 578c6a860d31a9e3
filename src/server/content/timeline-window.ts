/**
 * The last `limit` items of a room's timeline, at the cost of the window rather than of the
 * room's whole history.
 *
 * Aggregating every event the viewer may see and keeping the last `limit` items is the
 * definition (and what this returns, item for item: test/server/timeline-window.test.ts
 * checks it against that on random rooms); it costs the whole history, and the app reads the
 * timeline after every event — 50 ms a read at 10,000 events, on the path of every message to
 * the screen. What an item in the window depends on outside it:
 * - the state before it (a notice says what changed: "Alice changed their name to A."):
 *   the room's state events before the window, folded in order;
 * - the event a reply quotes (its sender and edited body) and a thread's root (whether it
 *   is a valid root): those events, and the edits and reactions naming them;
 * - relations that sort before their target (an edit on a fork that did not see its target
 *   yet): every event before the window naming an event of the window.
 * Those are found by a scan of the events before the window that reads only their IDs,
 * state keys and relations; only what the scan keeps is checked for visibility and
 * aggregated. The window starts far enough back to hold `limit` + 1 items (the one more says
 * whether there is more), and twice as far when aggregation yields fewer than that.
 */
import { isJsonObject, type JsonObject } from '../../core/json.ts';
import { type TimelineInput, type TimelineItem, aggregateTimeline, yieldsItem } from './aggregate.ts';
import { type Relation, relationOf } from './messages.ts';

/** A room's events in timeline order, as a window reads them. */
export interface TimelineSource {
  readonly length: number;
  /** The i-th event's ID. */
  id(i: number): string;
  /** Whether the i-th event is a state event (has a state key). */
  isState(i: number): boolean;
  /** The i-th event's relation as aggregation reads it (from its cleartext when decrypted), without checking visibility. */
  relation(i: number): Relation | undefined;
  /** The i-th event as aggregation reads it, or undefined when the viewer may not see it. */
  input(i: number): TimelineInput | undefined;
}

/** The last `limit` items of the events before index `end`, and whether there are items before them. */
export function timelineWindow(src: TimelineSource, end: number, limit: number): { items: TimelineItem[]; hasMore: boolean } {
  if (end <= 0 || limit <= 0) return { items: [], hasMore: yieldsBefore(src, end) };
  for (let want = limit + 1; ; want *= 2) {
    const tail: TimelineInput[] = [];
    let start = end;
    for (let yielded = 0; start > 0 && yielded < want; ) {
      const input = src.input(--start);
      if (!input) continue;
      tail.push(input);
      if (yieldsItem(input)) yielded++;
    }
    tail.reverse();
    if (start === 0) {
      const items = aggregateTimeline(tail);
      return { items: items.slice(Math.max(0, items.length - limit)), hasMore: items.length > limit };
    }
    const { context, stateBefore } = before(src, start, tail);
    const items = aggregateTimeline([...context, ...tail], { stateBefore, context: new Set(context.map((c) => c.event_id)) });
    if (items.length > limit) return { items: items.slice(items.length - limit), hasMore: true };
  }
}

/** Whether any event before `end` yields an item (an empty window's `hasMore`). */
function yieldsBefore(src: TimelineSource, end: number): boolean {
  for (let i = 0; i < end; i++) {
    const input = src.input(i);
    if (input && yieldsItem(input)) return true;
  }
  return false;
}

/** What the window starting at `start` needs from the events before it (see the module comment). */
function before(src: TimelineSource, start: number, tail: readonly TimelineInput[]): { context: TimelineInput[]; stateBefore: Map<string, JsonObject> } {
  const inTail = new Set(tail.map((t) => t.event_id));
  // Events the window's items quote or hang from.
  const named = new Set<string>();
  for (const t of tail) {
    const rel = relationOf(t);
    if (rel?.in_reply_to !== undefined && !inTail.has(rel.in_reply_to)) named.add(rel.in_reply_to);
    if (rel?.rel_type === 'm.thread' && rel.event_id !== undefined && !inTail.has(rel.event_id)) named.add(rel.event_id);
  }
  const context: TimelineInput[] = [];
  const stateBefore = new Map<string, JsonObject>();
  for (let i = 0; i < start; i++) {
    const isState = src.isState(i);
    let wanted = named.has(src.id(i));
    if (!wanted) {
      const target = src.relation(i)?.event_id;
      wanted = target !== undefined && (inTail.has(target) || named.has(target));
    }
    if (!wanted && !isState) continue;
    const input = src.input(i);
    if (!input) continue;
    if (wanted) context.push(input);
    // As aggregateTimeline folds state: a state event not hidden; its content, or {} when not an object.
    if (isState && !input.hidden && typeof input.state_key === 'string') {
      stateBefore.set(`${input.type}\u0000${input.state_key}`, isJsonObject(input.content) ? input.content : {});
    }
  }
  return { context, stateBefore };
}

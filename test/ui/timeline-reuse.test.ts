import { describe, expect, it } from 'vitest';
import type { TimelineItem } from '../../src/ui/api.ts';
import { keepUnchanged } from '../../src/ui/state/timeline-reuse.ts';

function msg(id: string, body: string, reactions: TimelineItem['reactions'] = []): TimelineItem {
  return { event_id: id, sender: '@alice:hs1', ts: 1_000, kind: 'message', edited: false, reactions, body };
}

/** A read of the timeline as Comlink delivers it: every item a fresh copy. */
const copy = (items: TimelineItem[]) => structuredClone(items);

describe('keepUnchanged: a new timeline read re-renders only what changed', () => {
  it('keeps the shown object of every unchanged item and takes the new one for changed and new items', () => {
    const shown = [msg('$a', 'one'), msg('$b', 'two'), msg('$c', 'three')];
    const read = copy(shown);
    read[1] = { ...read[1]!, body: 'two (edited)', edited: true };
    read[2] = { ...read[2]!, reactions: [{ key: '👍', count: 1, senders: ['@bob:hs2'] }] };
    read.push(msg('$d', 'four'));
    const next = keepUnchanged(read, shown);
    expect(next).toHaveLength(4);
    expect(next[0]).toBe(shown[0]);
    expect(next[1]).toBe(read[1]);
    expect(next[1]).not.toBe(shown[1]);
    expect(next[2]).toBe(read[2]);
    expect(next[3]).toBe(read[3]);
    expect(next.map((i) => i.body)).toEqual(['one', 'two (edited)', 'three', 'four']);
  });

  it('follows the new read, not the old list: items gone stay gone, order is the read’s', () => {
    const shown = [msg('$a', 'one'), msg('$b', 'two')];
    const read = copy([shown[1]!, msg('$z', 'new')]);
    const next = keepUnchanged(read, shown);
    expect(next.map((i) => i.event_id)).toEqual(['$b', '$z']);
    expect(next[0]).toBe(shown[1]);
  });
});

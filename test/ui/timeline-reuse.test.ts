import { describe, expect, it } from 'vitest';
import type { TimelineItem } from '../../src/ui/api.ts';
import { displayNames, members } from '../../src/ui/state/store.ts';
import { keepIfEqual, keepUnchanged } from '../../src/ui/state/timeline-reuse.ts';

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

describe('keepUnchanged: a read that changes nothing', () => {
  it('returns the shown list itself, so the timeline signal notifies nobody', () => {
    const shown = [msg('$a', 'one'), msg('$b', 'two')];
    expect(keepUnchanged(copy(shown), shown)).toBe(shown);
  });

  it('returns a new list when only the order or the length changed', () => {
    const shown = [msg('$a', 'one'), msg('$b', 'two')];
    const swapped = keepUnchanged(copy([shown[1]!, shown[0]!]), shown);
    expect(swapped).not.toBe(shown);
    expect(swapped[0]).toBe(shown[1]);
    expect(keepUnchanged(copy(shown.slice(0, 1)), shown)).not.toBe(shown);
  });
});

describe('keepIfEqual: re-read room metadata', () => {
  it('keeps the shown value when the read is equal, takes the read when it differs', () => {
    const shown = [{ userId: '@a:hs1', membership: 'join', powerLevel: 0 }];
    expect(keepIfEqual(structuredClone(shown), shown)).toBe(shown);
    const changed = [{ ...shown[0]!, powerLevel: 50 }];
    expect(keepIfEqual(changed, shown)).toBe(changed);
  });
});

describe('displayNames: the same map while the names are the same', () => {
  it('keeps its map across an equal member list and a power level change, and makes a new one for a rename', () => {
    members.value = [
      { userId: '@a:hs1', membership: 'join', displayName: 'Alice', powerLevel: 100 },
      { userId: '@b:hs2', membership: 'join', displayName: 'Bob', powerLevel: 0 },
    ];
    const first = displayNames.value;
    expect(first.get('@b:hs2')).toBe('Bob');
    members.value = structuredClone(members.value);
    expect(displayNames.value).toBe(first);
    members.value = members.value.map((m) => (m.userId === '@b:hs2' ? { ...m, powerLevel: 50 } : m));
    expect(displayNames.value).toBe(first);
    members.value = members.value.map((m) => (m.userId === '@b:hs2' ? { ...m, displayName: 'Robert' } : m));
    expect(displayNames.value).not.toBe(first);
    expect(displayNames.value.get('@b:hs2')).toBe('Robert');
    members.value = [];
    expect(displayNames.value.size).toBe(0);
  });
});

import { describe, expect, it } from 'vitest';
import { mergeWriteBatches } from '../../src/server/store/merge.ts';
import type { OutboxEntry, WriteBatch } from '../../src/server/store/types.ts';

const entry = (destination: string, seq: number): OutboxEntry => ({ destination, seq, kind: 'pdu', event_id: `$e${seq}` }) as OutboxEntry;

describe('mergeWriteBatches', () => {
  it('concatenates lists in order and lets later meta win', () => {
    const a: WriteBatch = { meta: { stream_pos: 1, x: 'a' }, rooms: [{ room_id: '!r' } as never] };
    const b: WriteBatch = { meta: { stream_pos: 2 }, rooms: [{ room_id: '!s' } as never], events: [{ event_id: '$1' } as never] };
    expect(mergeWriteBatches([a, b])).toEqual({
      meta: { stream_pos: 2, x: 'a' },
      rooms: [{ room_id: '!r' }, { room_id: '!s' }],
      events: [{ event_id: '$1' }],
    });
  });

  it('drops an outbox entry that a later batch deletes (the store applies deletes before puts)', () => {
    const merged = mergeWriteBatches([
      { outboxPut: [entry('b', 1), entry('b', 2), entry('c', 1)] },
      { outboxDelete: [{ destination: 'b', seq: 1 }] },
    ]);
    expect(merged.outboxPut).toEqual([entry('b', 2), entry('c', 1)]);
    expect(merged.outboxDelete).toEqual([{ destination: 'b', seq: 1 }]);
  });

  it('of one batch is that batch', () => {
    const only: WriteBatch = { events: [{ event_id: '$1' } as never] };
    expect(mergeWriteBatches([only])).toEqual(only);
  });

  it("drops earlier records of a room a later batch purges, keeps later ones and other rooms'", () => {
    const ev = (id: string, room: string) => ({ event_id: id, room_id: room }) as never;
    const merged = mergeWriteBatches([
      { rooms: [{ room_id: '!r' } as never, { room_id: '!s' } as never], events: [ev('$1', '!r'), ev('$2', '!s')], receipts: [{ room_id: '!r' } as never] },
      { purgeRooms: ['!r'], stateGroups: [{ room_id: '!r', id: 9 } as never] },
      { events: [ev('$3', '!r')] },
    ]);
    expect(merged.purgeRooms).toEqual(['!r']);
    expect(merged.rooms).toEqual([{ room_id: '!s' }]);
    expect(merged.events).toEqual([ev('$2', '!s'), ev('$3', '!r')]);
    expect(merged.receipts).toBeUndefined();
    // The purging batch's own puts come after its purge (the store applies purges first).
    expect(merged.stateGroups).toEqual([{ room_id: '!r', id: 9 }]);
  });

  it('keeps media deletes, and drops an earlier put of media a later batch deletes', () => {
    const blob = (id: string) => ({ media_id: id }) as never;
    const merged = mergeWriteBatches([{ media: [blob('x/1'), blob('x/2')] }, { mediaDelete: ['x/1'] }]);
    expect(merged.media).toEqual([blob('x/2')]);
    expect(merged.mediaDelete).toEqual(['x/1']);
  });
});

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
});

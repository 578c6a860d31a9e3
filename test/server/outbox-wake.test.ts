/**
 * A destination reported back (`Outbox.peerUp`) is sent to at once — also
 * when the report comes while a transaction is still in flight on the link
 * that broke: that attempt's failure must not put the queue into a backoff
 * the reconnection already cancelled (issue 16 item 2: after a heal, every
 * queue should drain on the new link right away).
 */
import { describe, expect, it } from 'vitest';
import { type FederationResponse, UnreachableError } from '../../src/server/federation/types.ts';
import { Outbox } from '../../src/server/outbox.ts';
import type { OutboxEntry, WriteBatch } from '../../src/server/store/types.ts';
import { manualClock } from '../helpers/manual-clock.ts';

const settle = () => new Promise((r) => setTimeout(r, 0));

function setup() {
  const time = manualClock();
  const calls: { destination: string; resolve: (r: FederationResponse) => void; reject: (e: unknown) => void }[] = [];
  const outbox = new Outbox(
    {
      write: async (_batch: WriteBatch) => {},
      clock: time.clock,
      log: () => {},
      origin: 'me',
      send: (destination) => new Promise((resolve, reject) => calls.push({ destination, resolve, reject })),
      loadPdu: (id) => ({ event_id: id }) as never,
    },
    { baseBackoffMs: 250, maxBackoffMs: 30_000 },
  );
  const entries: OutboxEntry[] = outbox.entriesFor(['peer'], { eventId: '$e1' });
  return { time, calls, outbox, entries };
}

describe('outbox: a reconnection wakes the queue', () => {
  it('a failure after several attempts backs off; peerUp sends at once', async () => {
    const { time, calls, outbox, entries } = setup();
    outbox.added(entries);
    for (let i = 0; i < 4; i++) {
      await settle();
      expect(calls.length).toBe(i + 1);
      calls[i]!.reject(new UnreachableError('peer', 'down'));
      await settle();
      // Waits out a growing backoff (250, 500, 1000, 2000 ms).
      expect(time.pendingTimers()).toEqual([250 * 2 ** i]);
      if (i < 3) time.advance(250 * 2 ** i);
    }
    outbox.peerUp('peer');
    await settle();
    expect(calls.length).toBe(5);
    calls[4]!.resolve({ ok: true, body: { pdus: {} } });
    await settle();
    expect(outbox.totalPending()).toBe(0);
  });

  it('peerUp while a transaction is in flight: that attempt failing does not start a backoff', async () => {
    const { time, calls, outbox, entries } = setup();
    outbox.added(entries);
    await settle();
    expect(calls.length).toBe(1);
    // The link comes back while the first attempt is still waiting on the old one.
    outbox.peerUp('peer');
    calls[0]!.reject(new UnreachableError('peer', 'the old connection closed'));
    await settle();
    await settle();
    // Sent again at once on the new link, no timer in between.
    expect(time.pendingTimers()).toEqual([]);
    expect(calls.length).toBe(2);
    // A failure without a reconnection in between backs off as usual.
    calls[1]!.reject(new UnreachableError('peer', 'down again'));
    await settle();
    expect(calls.length).toBe(2);
    expect(time.pendingTimers()).toEqual([250]);
    time.advance(250);
    await settle();
    expect(calls.length).toBe(3);
    calls[2]!.resolve({ ok: true, body: { pdus: {} } });
    await settle();
    expect(outbox.totalPending()).toBe(0);
  });
});

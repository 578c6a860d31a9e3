/**
 * A PDU just broadcast to a destination gets a head start there: its
 * transaction waits `gossipHeadStartMs`, so the two copies do not race over
 * one connection and through the receiver's verification while a person waits
 * for the message (issue 16 item 1). Destinations the broadcast did not reach,
 * and EDUs, go at once; the transaction is still sent after the wait unless
 * the destination is shown to hold the event.
 */
import { describe, expect, it } from 'vitest';
import type { FederationResponse, Transaction } from '../../src/server/federation/types.ts';
import { Outbox } from '../../src/server/outbox.ts';
import { manualClock } from '../helpers/manual-clock.ts';

const settle = () => new Promise((r) => setTimeout(r, 0));
const OK: FederationResponse = { ok: true, body: { pdus: {} } };

function setup(gossipHeadStartMs: number, held = new Map<string, Set<string>>()) {
  const time = manualClock();
  const sent: { destination: string; txn: Transaction }[] = [];
  const outbox = new Outbox(
    {
      write: async () => {},
      clock: time.clock,
      log: () => {},
      origin: 'me',
      send: async (destination, _txnId, txn) => {
        sent.push({ destination, txn });
        return OK;
      },
      loadPdu: (id) => ({ event_id: id }) as never,
      held: (destination, ids) => new Set(ids.filter((id) => held.get(destination)?.has(id))),
    },
    { baseBackoffMs: 250, maxBackoffMs: 30_000, gossipHeadStartMs },
  );
  const what = () => sent.map((s) => `${s.destination}:${[...s.txn.pdus.map((p) => p.event_id), ...s.txn.edus.map((e) => e.edu_type)].join(',')}`);
  return { time, outbox, what };
}

describe('outbox: a broadcast PDU gets a head start', () => {
  it('waits for the destinations the broadcast reached, not for the others', async () => {
    const { time, outbox, what } = setup(300);
    outbox.added(outbox.entriesFor(['a', 'b'], { eventId: '$e1' }), ['a']);
    await settle();
    expect(what()).toEqual(['b:$e1']);
    time.advance(299);
    await settle();
    expect(what()).toEqual(['b:$e1']);
    time.advance(1);
    await settle();
    expect(what()).toEqual(['b:$e1', 'a:$e1']);
    expect(outbox.totalPending()).toBe(0);
  });

  it('a transaction sent meanwhile for something else leaves the waiting PDU out', async () => {
    const { time, outbox, what } = setup(300);
    outbox.added(outbox.entriesFor(['a'], { eventId: '$e1' }), ['a']);
    time.advance(100);
    outbox.added(outbox.entriesFor(['a'], { edu: { edu_type: 'm.receipt', content: {} } }), ['a']);
    outbox.added(outbox.entriesFor(['a'], { eventId: '$e2' }));
    await settle();
    expect(what()).toEqual(['a:m.receipt', 'a:$e2']);
    time.advance(200);
    await settle();
    expect(what()).toEqual(['a:m.receipt', 'a:$e2', 'a:$e1']);
  });

  it('a destination shown to hold the event by then is not sent it at all', async () => {
    const held = new Map<string, Set<string>>();
    const { time, outbox, what } = setup(300, held);
    outbox.added(outbox.entriesFor(['a', 'b'], { eventId: '$e1' }), ['a', 'b']);
    await settle();
    expect(what()).toEqual([]);
    // a answered with an event of its own that descends from $e1: it holds $e1.
    held.set('a', new Set(['$e1']));
    time.advance(300);
    await settle();
    expect(what()).toEqual(['b:$e1']);
    expect(outbox.stats.pdusSkipped).toBe(1);
    expect(outbox.totalPending()).toBe(0);
  });

  it('a head start of 0 sends at once', async () => {
    const { outbox, what } = setup(0);
    outbox.added(outbox.entriesFor(['a'], { eventId: '$e1' }), ['a']);
    await settle();
    expect(what()).toEqual(['a:$e1']);
  });
});

/**
 * A PDU owed to several servers is one stored outbox row (EVERY_DESTINATION),
 * not one row per server (outbox.ts): the row stays until every server named
 * has the PDU, a restart sends it again to every server it names (a duplicate
 * for those that had it, never a loss), and a purge rewrites it to carry its
 * event for the servers still owed it. Rows stored one per server (before
 * this, or for a single server) load and are deleted as before.
 */
import { describe, expect, it } from 'vitest';
import { type FederationResponse, UnreachableError } from '../../src/server/federation/types.ts';
import { EVERY_DESTINATION, Outbox } from '../../src/server/outbox.ts';
import type { OutboxEntry, WriteBatch } from '../../src/server/store/types.ts';
import { manualClock } from '../helpers/manual-clock.ts';

const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
};

/** The outbox rows a store would hold, keyed as the stores key them. */
class Rows {
  readonly map = new Map<string, OutboxEntry>();
  writes = 0;
  apply(batch: WriteBatch): void {
    this.writes++;
    for (const d of batch.outboxDelete ?? []) this.map.delete(`${d.destination}/${d.seq}`);
    for (const e of batch.outboxPut ?? []) this.map.set(`${e.destination}/${e.seq}`, structuredClone(e));
  }
  list(): OutboxEntry[] {
    return [...this.map.values()].map((e) => structuredClone(e));
  }
}

interface Call {
  destination: string;
  pdus: unknown[];
  resolve: (r: FederationResponse) => void;
  reject: (e: unknown) => void;
}

/** An outbox over `rows`; `up` decides which destinations answer (the others are unreachable). */
function outboxOver(rows: Rows, opts: { up: Set<string>; events?: Map<string, object> }) {
  const time = manualClock();
  const calls: Call[] = [];
  const outbox = new Outbox(
    {
      write: async (batch) => rows.apply(batch),
      clock: time.clock,
      log: () => {},
      origin: 'a',
      send: (destination, _txnId, txn) =>
        opts.up.has(destination)
          ? new Promise((resolve, reject) => calls.push({ destination, pdus: txn.pdus, resolve, reject }))
          : Promise.reject(new UnreachableError(destination, 'down')),
      loadPdu: (id) => (opts.events ?? new Map([[id, { event_id: id, type: 'm.room.message' }]])).get(id) as never,
    },
    { baseBackoffMs: 250, maxBackoffMs: 30_000 },
  );
  return { time, calls, outbox };
}

/** Answers every transaction waiting, each PDU as stored. */
function answerAll(calls: Call[]): void {
  for (const c of calls.splice(0)) c.resolve({ ok: true, body: { pdus: {} } });
}

describe('outbox: one stored row for a PDU owed to several servers', () => {
  it('one row names every server; it is deleted once the last of them has the PDU', async () => {
    const rows = new Rows();
    const { calls, outbox } = outboxOver(rows, { up: new Set(['b', 'c', 'd']) });
    const entries = outbox.entriesFor(['a', 'b', 'c', 'd', 'c'], { eventId: '$m' });
    expect(entries).toEqual([{ destination: EVERY_DESTINATION, seq: 0, kind: 'pdu', event_id: '$m', destinations: ['b', 'c', 'd'] }]);
    rows.apply({ outboxPut: entries });
    outbox.added(entries);
    await settle();
    expect(calls.map((c) => c.destination).sort()).toEqual(['b', 'c', 'd']);
    const [first, ...rest] = calls.splice(0);
    first!.resolve({ ok: true, body: { pdus: {} } });
    await settle();
    // One of three has it: the row stays, untouched, and nothing was written for it.
    expect(rows.list()).toEqual(entries);
    expect(rows.writes).toBe(1);
    for (const c of rest) c.resolve({ ok: true, body: { pdus: {} } });
    await settle();
    expect(rows.list()).toEqual([]);
    expect(outbox.totalPending()).toBe(0);
  });

  it('after a restart the row is sent to every server it names: a duplicate for one that had it, the PDU for one that did not', async () => {
    const rows = new Rows();
    const before = outboxOver(rows, { up: new Set(['b']) });
    const entries = before.outbox.entriesFor(['b', 'c'], { eventId: '$m' });
    rows.apply({ outboxPut: entries });
    before.outbox.added(entries);
    await settle();
    answerAll(before.calls);
    await settle();
    expect(before.outbox.pendingFor(['$m'])).toEqual({ $m: 1 }); // c is down
    before.outbox.stop(); // the crash

    const after = outboxOver(rows, { up: new Set(['b', 'c']) });
    after.outbox.load(rows.list());
    expect(after.outbox.pendingFor(['$m'])).toEqual({ $m: 2 });
    for (const d of ['b', 'c']) after.outbox.peerUp(d);
    await settle();
    expect(after.calls.map((c) => [c.destination, c.pdus.length]).sort()).toEqual([
      ['b', 1],
      ['c', 1],
    ]);
    answerAll(after.calls);
    await settle();
    expect(rows.list()).toEqual([]);
    // A PDU queued after the restart does not reuse the loaded row's sequence number.
    const next = after.outbox.entriesFor(['b', 'c'], { eventId: '$n' });
    expect(next[0]!.seq).toBeGreaterThan(entries[0]!.seq);
  });

  it('a purge rewrites the row to carry its event, naming only the servers still owed it', async () => {
    const rows = new Rows();
    const events = new Map<string, object>([['$leave', { event_id: '$leave', type: 'm.room.member' }]]);
    const { calls, outbox } = outboxOver(rows, { up: new Set(['b']), events });
    const entries = outbox.entriesFor(['b', 'c', 'd'], { eventId: '$leave' });
    rows.apply({ outboxPut: entries });
    outbox.added(entries);
    await settle();
    answerAll(calls);
    await settle();
    const carried = outbox.carryPdus((id) => events.get(id) as never);
    expect(carried).toEqual([
      { destination: EVERY_DESTINATION, seq: 0, kind: 'pdu', event_id: '$leave', destinations: ['c', 'd'], pdu: { event_id: '$leave', type: 'm.room.member' } },
    ]);
    rows.apply({ outboxPut: carried });
    events.clear(); // the room's events are gone

    // Reloaded from the rewritten row (as after a restart): c and d get the carried event, b nothing.
    const again = outboxOver(rows, { up: new Set(['b', 'c', 'd']), events });
    again.outbox.load(rows.list());
    for (const d of ['b', 'c', 'd']) again.outbox.peerUp(d);
    await settle();
    expect(again.calls.map((c) => [c.destination, c.pdus]).sort()).toEqual([
      ['c', [{ event_id: '$leave', type: 'm.room.member' }]],
      ['d', [{ event_id: '$leave', type: 'm.room.member' }]],
    ]);
    answerAll(again.calls);
    await settle();
    expect(rows.list()).toEqual([]);
  });

  it('rows stored one per server (a single server, an EDU, or written before shared rows) are deleted one by one', async () => {
    const rows = new Rows();
    const old: OutboxEntry[] = [
      { destination: 'b', seq: 4, kind: 'pdu', event_id: '$old' },
      { destination: 'c', seq: 5, kind: 'pdu', event_id: '$old' },
    ];
    rows.apply({ outboxPut: old });
    const { calls, outbox } = outboxOver(rows, { up: new Set(['b', 'c']) });
    // A row naming no other server (only a damaged store holds one) is handed back to be deleted.
    expect(outbox.load([...rows.list(), { destination: EVERY_DESTINATION, seq: 3, kind: 'pdu', event_id: '$x', destinations: ['a'] }])).toEqual([
      { destination: EVERY_DESTINATION, seq: 3 },
    ]);
    const single = outbox.entriesFor(['b'], { eventId: '$dm' });
    const edus = outbox.entriesFor(['b', 'c'], { edu: { edu_type: 'm.typing', content: {} } });
    expect(single).toEqual([{ destination: 'b', seq: 6, kind: 'pdu', event_id: '$dm' }]);
    expect(edus.map((e) => e.destination)).toEqual(['b', 'c']);
    rows.apply({ outboxPut: [...single, ...edus] });
    outbox.added([...single, ...edus]);
    for (const d of ['b', 'c']) outbox.peerUp(d);
    await settle();
    const toB = calls.find((c) => c.destination === 'b')!;
    toB.resolve({ ok: true, body: { pdus: {} } });
    await settle();
    expect(rows.list().map((e) => `${e.destination}/${e.seq}`)).toEqual(['c/5', 'c/8']);
    answerAll(calls);
    await settle();
    expect(rows.list()).toEqual([]);
  });
});

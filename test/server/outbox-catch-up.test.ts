/**
 * The outbox's catch-up (outbox.ts): after a failed transaction, a backlog
 * of PDUs that are ancestors of a newer queued one is held back behind that
 * newest one; once the destination has answered for it, it is asked which of
 * the held-back events it now holds, and only the others are sent. An entry
 * is never dropped without the destination saying it holds the event.
 *
 * Events here are `$<line>.<n>`: each is an ancestor of every later one of its line.
 */
import { describe, expect, it } from 'vitest';
import { HISTORY_PENDING, type FederationResponse, type Transaction, UnreachableError } from '../../src/server/federation/types.ts';
import { Outbox } from '../../src/server/outbox.ts';
import type { WriteBatch } from '../../src/server/store/types.ts';
import { manualClock } from '../helpers/manual-clock.ts';

const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
};

const parse = (id: string) => {
  const [line, n] = id.slice(1).split('.');
  return { line, n: Number(n) };
};

function setup(opts: { holds?: (ids: readonly string[]) => Promise<Set<string>> | Set<string> } = {}) {
  const time = manualClock();
  let down = false;
  const sent: Transaction[] = [];
  const asked: string[][] = [];
  const deleted: string[] = [];
  let answer: (txn: Transaction) => FederationResponse = () => ({ ok: true, body: { pdus: {} } });
  const outbox = new Outbox(
    {
      write: async (batch: WriteBatch) => {
        for (const d of batch.outboxDelete ?? []) deleted.push(`${d.destination}#${d.seq}`);
      },
      clock: time.clock,
      log: () => {},
      origin: 'me',
      send: async (destination, _txnId, txn) => {
        if (down) throw new UnreachableError(destination);
        sent.push(txn);
        return answer(txn);
      },
      loadPdu: (id) => ({ event_id: id }) as never,
      covers: (newest, older) => {
        const a = parse(newest);
        return new Set(older.filter((id) => parse(id).line === a.line && parse(id).n < a.n));
      },
      holds: async (_destination, ids) => {
        asked.push([...ids]);
        return (await opts.holds?.(ids)) ?? new Set();
      },
    },
    { baseBackoffMs: 250, maxBackoffMs: 1_000 },
  );
  const add = (...ids: string[]) => {
    for (const id of ids) outbox.added(outbox.entriesFor(['a'], { eventId: id }));
  };
  const pdus = () => sent.map((t) => t.pdus.map((p) => p.event_id).join(','));
  return {
    time,
    outbox,
    add,
    pdus,
    asked,
    deleted,
    setDown: (d: boolean) => {
      down = d;
    },
    setAnswer: (f: typeof answer) => {
      answer = f;
    },
  };
}

/** A destination down while five events of line x are queued, then back. */
async function backlog(s: ReturnType<typeof setup>) {
  s.setDown(true);
  s.add('$x.1');
  await settle();
  s.add('$x.2', '$x.3', '$x.4', '$x.5');
  await settle();
  s.setDown(false);
  s.outbox.peerUp('a');
  await settle();
}

describe('outbox: catching up after a failure', () => {
  it('sends only the newest of a backlog, then asks about the rest: what the destination holds is done', async () => {
    const s = setup({ holds: (ids) => new Set(ids) });
    await backlog(s);
    expect(s.pdus()).toEqual(['$x.5']);
    expect(s.asked).toEqual([['$x.1', '$x.2', '$x.3', '$x.4']]);
    expect(s.outbox.totalPending()).toBe(0);
    expect(s.outbox.stats.pdusCaughtUp).toBe(4);
    expect(s.deleted).toHaveLength(5);
  });

  it('sends what the destination does not hold, as usual', async () => {
    const s = setup({ holds: () => new Set(['$x.1', '$x.3']) });
    await backlog(s);
    expect(s.pdus()).toEqual(['$x.5', '$x.2,$x.4']);
    expect(s.outbox.totalPending()).toBe(0);
  });

  it('keeps the backlog behind the newest while the destination is still fetching its history', async () => {
    const s = setup({ holds: (ids) => new Set(ids) });
    s.setAnswer((txn) => ({
      ok: true,
      body: { pdus: Object.fromEntries(txn.pdus.map((p) => [p.event_id, { error: `${HISTORY_PENDING}: fetching` }])) },
    }));
    await backlog(s);
    expect(s.pdus()).toEqual(['$x.5']);
    expect(s.asked).toEqual([]);
    // A newer event meanwhile: it stands for the whole line now.
    s.add('$x.6');
    await settle();
    expect(s.pdus()).toEqual(['$x.5', '$x.6']);
    s.setAnswer(() => ({ ok: true, body: { pdus: {} } }));
    s.time.advance(5_000);
    await settle();
    expect(s.pdus()).toEqual(['$x.5', '$x.6', '$x.6']);
    expect(s.asked).toEqual([['$x.1', '$x.2', '$x.3', '$x.4', '$x.5']]);
    expect(s.outbox.totalPending()).toBe(0);
  });

  it('a destination that cannot be asked keeps the entries held back until it can', async () => {
    let reachable = false;
    const s = setup({
      holds: (ids) => {
        if (!reachable) throw new UnreachableError('a');
        return new Set(ids);
      },
    });
    await backlog(s);
    expect(s.pdus()).toEqual(['$x.5']);
    expect(s.outbox.totalPending()).toBe(4);
    reachable = true;
    s.time.advance(1_000);
    await settle();
    expect(s.outbox.totalPending()).toBe(0);
    expect(s.pdus()).toEqual(['$x.5']);
  });

  it('holds nothing back that is not an ancestor of a newer queued event', async () => {
    const s = setup({ holds: (ids) => new Set(ids) });
    s.setDown(true);
    s.add('$x.1');
    await settle();
    s.add('$y.1', '$x.2', '$z.1');
    await settle();
    s.setDown(false);
    s.outbox.peerUp('a');
    await settle();
    expect(s.pdus()).toEqual(['$y.1,$x.2,$z.1']);
    expect(s.asked).toEqual([['$x.1']]);
    expect(s.outbox.totalPending()).toBe(0);
  });

  it('without a failure nothing is held back', async () => {
    const s = setup({ holds: (ids) => new Set(ids) });
    s.add('$x.1', '$x.2', '$x.3');
    await settle();
    expect(s.pdus().join(',')).toBe('$x.1,$x.2,$x.3');
    expect(s.asked).toEqual([]);
  });
});

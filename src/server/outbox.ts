/**
 * Durable per-destination delivery. Every PDU we create (and every
 * persistent EDU) is queued per destination in the Store in the same
 * transaction that stores the event; a sender per destination drains the
 * queue as transactions of at most 50 PDUs and 100 EDUs (the spec's limits),
 * retrying with exponential backoff while the destination is unreachable.
 * When the transport reports the peer back, the backoff is cleared at once.
 *
 * A PDU the destination demonstrably holds already is not sent again: room
 * traffic also reaches every server by broadcast, and once the destination
 * has created an event that descends from ours (`held`), it has ours. The
 * entry is then acknowledged as if delivered. This is only ever proof, never
 * a guess: an entry not shown to be held is sent as before, so delivery
 * stays durable across partitions.
 *
 * A PDU also broadcast to a destination waits `gossipHeadStartMs` before its
 * transaction: the broadcast is what that server's people wait for, and a
 * transaction sent with it races it — both copies cross the same connection
 * and are verified side by side at the other end, at the moment the message
 * is on its way to a screen (bench/latency.ts: the gossip hop took ~10 ms
 * longer with the transaction beside it). Arriving later, the transaction
 * finds the event placed and costs only its recognition; it is still sent,
 * so delivery does not depend on the broadcast.
 *
 * A PDU owed to several servers is stored as one row (EVERY_DESTINATION,
 * naming them), not one row per server: a message in a room of a hundred
 * servers wrote a hundred rows with the event and deleted each as its
 * transaction was answered — twice as many rows as the events themselves
 * (scale-100 on SQLite). Which servers have had it is kept in memory; the
 * row goes once every one of them has. After a restart the row is loaded
 * whole, so a server that had the PDU before the crash is sent it again
 * and acknowledges it as held: delivery stays durable, at the cost of a
 * duplicate only after a crash.
 *
 * Catch-up. Once a transaction to a destination has failed (a partition, the
 * peer offline), the backlog is not sent PDU by PDU when the destination is
 * back. The destination, handed an event whose history it lacks, fetches
 * that history itself (get_missing_events), and so does anti-entropy on
 * reconnection: the backlog sent beside it was every event twice (ten servers
 * healing 1,000 events a side: 6.6 MB of transactions beside 8 MB of history
 * fetched). So while catching up, of the queued PDUs that are ancestors of a
 * newer queued PDU in our DAG, only the newest is sent ("covers" them). Once
 * the destination has answered for that one, it is asked which of the covered
 * events it now holds (`holds`, a Hearth request carrying event IDs only); those
 * are acknowledged, and the rest are sent as usual. The question is the proof:
 * an entry is never dropped on a guess (the destination may have stopped its
 * walk short and taken the state at the gap). Catch-up ends when the queue is
 * empty; the covering is kept in memory only, so after a restart the backlog
 * is simply sent.
 */
import { type JsonObject, isJsonObject } from '../core/json.ts';
import type { Pdu } from '../core/pdu.ts';
import type { Clock } from './clock.ts';
import type { FederationResponse, Transaction } from './federation/types.ts';
import { HISTORY_PENDING, UnreachableError } from './federation/types.ts';
import type { Logger } from './log.ts';
import type { OutboxEntry, WriteBatch } from './store/types.ts';

export interface OutboxOptions {
  baseBackoffMs: number;
  maxBackoffMs: number;
  /** How long a transaction waits behind a broadcast of the same PDU to the same server (see the header); 0: no wait. */
  gossipHeadStartMs?: number;
}

export interface OutboxDeps {
  /** Writes to the store (the engine's grouped commit: deletions ride with whatever else is written). */
  write(batch: WriteBatch): Promise<void>;
  clock: Clock;
  log: Logger;
  origin: string;
  send(destination: string, txnId: string, txn: Transaction): Promise<FederationResponse>;
  loadPdu(eventId: string): Pdu | undefined;
  /** Which of these event IDs the destination is known to hold (see the header). */
  held?(destination: string, eventIds: readonly string[]): Set<string>;
  /** Which of `older` are ancestors of event `newest` in our DAG (catch-up, see the header). */
  covers?(newest: string, older: readonly string[]): Set<string>;
  /**
   * Asks the destination which of these events it holds (catch-up). Throws UnreachableError when
   * it cannot be asked; a destination that cannot answer otherwise holds none of them.
   */
  holds?(destination: string, eventIds: readonly string[]): Promise<Set<string>>;
}

interface Queue {
  entries: OutboxEntry[];
  inFlight: boolean;
  attempts: number;
  timer?: unknown;
  nextAttempt: number;
  /**
   * PDUs the destination answered as pending (its history fetch for them is
   * still running: HISTORY_PENDING), by entry: when to send each again, and
   * how many times it was answered so. Kept in memory only — after a restart
   * they are simply sent again.
   */
  pending: Map<OutboxEntry, { at: number; times: number }>;
  /** Entries not sent before this time (a broadcast of theirs has a head start; memory only). */
  notBefore: Map<OutboxEntry, number>;
  /** A transaction failed since the queue was last empty: the backlog is caught up (see the header). */
  catchingUp: boolean;
  /** Catch-up: each entry held back, and the newer queued entry whose delivery stands for it. */
  coveredBy: Map<OutboxEntry, OutboxEntry>;
  /** Catch-up: entries the destination was asked about and does not hold; sent as usual from now on. */
  checked: WeakSet<OutboxEntry>;
  /**
   * The peer was reported back while a transaction was in flight: if that
   * attempt fails (it was most likely sent into the link that just broke),
   * the next one goes at once instead of waiting out a backoff.
   */
  wokenInFlight?: boolean;
}

/** The `destination` of a stored row that queues one PDU for the servers in its `destinations` (see the header). */
export const EVERY_DESTINATION = '*';

/** A stored EVERY_DESTINATION row, and the servers still owed its PDU. */
interface SharedRow {
  row: OutboxEntry;
  owed: Set<string>;
}

const MAX_PDUS = 50;
const MAX_EDUS = 100;
/**
 * A PDU answered as pending is sent again after this, doubling each time; a
 * destination still fetching its history after PENDING_CHECKS answers (about
 * twenty minutes) is taken at its word that it is trying (as a PDU answered with
 * an error is), and the entry ends.
 */
export const PENDING_RECHECK_MS = 5_000;
const PENDING_CHECKS = 8;

export class Outbox {
  private readonly queues = new Map<string, Queue>();
  private seq = 0;
  private txnCounter = 0;
  private stopped = false;
  readonly stats = { transactions: 0, pdusSent: 0, edusSent: 0, failures: 0, pdusSkipped: 0, pdusPending: 0, pdusCaughtUp: 0 };
  /** Each queued entry that stands for one server of an EVERY_DESTINATION row: that row. */
  private readonly shared = new WeakMap<OutboxEntry, SharedRow>();

  constructor(
    private readonly deps: OutboxDeps,
    private readonly opts: OutboxOptions,
  ) {}

  /**
   * Restores pending entries after a restart. Returns the keys of stored rows that owe nothing
   * (an EVERY_DESTINATION row naming no other server, as only a damaged store or backup holds),
   * for the caller to delete: nothing would ever finish them.
   */
  load(entries: readonly OutboxEntry[]): { destination: string; seq: number }[] {
    const owingNothing: { destination: string; seq: number }[] = [];
    for (const e of entries) {
      const queued = this.perDestination(e);
      if (queued.length === 0) owingNothing.push({ destination: e.destination, seq: e.seq });
      for (const one of queued) this.queue(one.destination).entries.push(one);
      this.seq = Math.max(this.seq, e.seq + 1);
    }
    return owingNothing;
  }

  /**
   * New entries for the store batch; call `added` once the batch has committed. A PDU for
   * several servers is one EVERY_DESTINATION row (see the header); an EDU is a row per server.
   */
  entriesFor(destinations: Iterable<string>, item: { eventId?: string; edu?: JsonObject }): OutboxEntry[] {
    const to = [...new Set(destinations)].filter((d) => d !== this.deps.origin);
    if (item.eventId && to.length > 1) {
      return [{ destination: EVERY_DESTINATION, seq: this.seq++, kind: 'pdu', event_id: item.eventId, destinations: to }];
    }
    return to.map((destination) => ({
      destination,
      seq: this.seq++,
      kind: item.eventId ? 'pdu' : 'edu',
      ...(item.eventId ? { event_id: item.eventId } : {}),
      ...(item.edu ? { edu: item.edu } : {}),
    }));
  }

  /** A stored row as the queue holds it: an EVERY_DESTINATION row becomes one entry per server owed. */
  private perDestination(row: OutboxEntry): OutboxEntry[] {
    if (row.destination !== EVERY_DESTINATION) return [row];
    const owed = new Set((row.destinations ?? []).filter((d) => typeof d === 'string' && d !== this.deps.origin && d !== EVERY_DESTINATION));
    const link: SharedRow = { row, owed };
    return [...owed].map((destination) => {
      const one: OutboxEntry = { destination, seq: row.seq, kind: 'pdu', ...(row.event_id ? { event_id: row.event_id } : {}) };
      this.shared.set(one, link);
      return one;
    });
  }

  /**
   * The stored rows to delete now that these entries are done with: an entry's own row, or
   * its EVERY_DESTINATION row once no server is owed that row's PDU any more.
   */
  private finished(entries: Iterable<OutboxEntry>): { destination: string; seq: number }[] {
    const out: { destination: string; seq: number }[] = [];
    for (const e of entries) {
      const link = this.shared.get(e);
      if (!link) {
        out.push({ destination: e.destination, seq: e.seq });
        continue;
      }
      if (!link.owed.delete(e.destination)) continue;
      if (link.owed.size === 0) out.push({ destination: EVERY_DESTINATION, seq: link.row.seq });
    }
    return out;
  }

  /** The event an entry sends, when it carries it itself (its room was purged): on the entry or its shared row. */
  private carried(e: OutboxEntry): Pdu | undefined {
    return e.pdu ?? this.shared.get(e)?.row.pdu;
  }

  /**
   * Queues entries whose batch has committed. `broadcastTo`: the servers a broadcast of these
   * entries' PDUs was just handed to; their transactions wait `gossipHeadStartMs`.
   */
  added(rows: readonly OutboxEntry[], broadcastTo?: readonly string[]): void {
    const headStart = this.opts.gossipHeadStartMs ?? 0;
    const reached = headStart > 0 && broadcastTo && broadcastTo.length > 0 ? new Set(broadcastTo) : undefined;
    const until = reached ? this.deps.clock.now() + headStart : 0;
    const entries = rows.flatMap((row) => this.perDestination(row));
    for (const e of entries) {
      const q = this.queue(e.destination);
      q.entries.push(e);
      if (reached?.has(e.destination) && e.kind === 'pdu') q.notBefore.set(e, until);
    }
    for (const d of new Set(entries.map((e) => e.destination))) this.kick(d);
  }

  /** The destination is reachable again: forget the backoff and send now. */
  peerUp(destination: string): void {
    const q = this.queues.get(destination);
    if (!q) return;
    q.attempts = 0;
    q.nextAttempt = 0;
    if (q.inFlight) q.wokenInFlight = true;
    this.kick(destination);
  }

  depth(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [d, q] of this.queues) if (q.entries.length) out[d] = q.entries.length;
    return out;
  }

  /** Queued PDUs per room (`roomOf` maps an event ID to its room), counting each destination's copy. */
  depthByRoom(roomOf: (eventId: string) => string | undefined): Record<string, number> {
    const out: Record<string, number> = {};
    for (const q of this.queues.values()) {
      for (const e of q.entries) {
        const room = e.event_id ? roomOf(e.event_id) : undefined;
        if (room) out[room] = (out[room] ?? 0) + 1;
      }
    }
    return out;
  }

  /** Per event ID (of those given), how many destinations still wait for it; events delivered everywhere are left out. */
  pendingFor(eventIds: readonly string[]): Record<string, number> {
    const wanted = new Set(eventIds);
    const out: Record<string, number> = {};
    for (const q of this.queues.values()) {
      for (const e of q.entries) if (e.event_id && wanted.has(e.event_id)) out[e.event_id] = (out[e.event_id] ?? 0) + 1;
    }
    return out;
  }

  /**
   * For a room about to be purged (purge.ts): every queued PDU entry whose
   * event `pduOf` knows now carries that event itself, as the events store
   * will no longer hold it. Returns the rewritten entries, for the store
   * batch that purges the room (same keys: they replace the stored ones).
   */
  carryPdus(pduOf: (eventId: string) => Pdu | undefined): OutboxEntry[] {
    const out: OutboxEntry[] = [];
    for (const q of this.queues.values()) {
      for (const e of q.entries) {
        if (e.kind !== 'pdu' || this.carried(e) || !e.event_id) continue;
        const pdu = pduOf(e.event_id);
        if (!pdu) continue;
        const link = this.shared.get(e);
        if (!link) {
          e.pdu = pdu;
          out.push({ ...e });
          continue;
        }
        // The shared row is rewritten once, naming only the servers still owed it.
        link.row.pdu = pdu;
        out.push({ ...link.row, destinations: [...link.owed] });
      }
    }
    return out;
  }

  /** The person asked to retry: every destination with something queued is tried now, backoff forgotten. */
  retryAll(): void {
    for (const [destination, q] of this.queues) if (q.entries.length > 0) this.peerUp(destination);
  }

  totalPending(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.entries.length;
    return n;
  }

  stop(): void {
    this.stopped = true;
    for (const q of this.queues.values()) if (q.timer !== undefined) this.deps.clock.clearTimeout(q.timer);
  }

  private queue(destination: string): Queue {
    let q = this.queues.get(destination);
    if (!q) {
      q = {
        entries: [],
        inFlight: false,
        attempts: 0,
        nextAttempt: 0,
        pending: new Map(),
        notBefore: new Map(),
        catchingUp: false,
        coveredBy: new Map(),
        checked: new WeakSet(),
      };
      this.queues.set(destination, q);
    }
    return q;
  }

  private kick(destination: string): void {
    const q = this.queue(destination);
    if (this.stopped || q.inFlight || q.entries.length === 0) return;
    const now = this.deps.clock.now();
    // Not finite: every entry is covered by one no longer queued; the flush releases them.
    const due = this.dueAt(q, now);
    const wait = Math.max(q.nextAttempt, Number.isFinite(due) ? due : now) - now;
    if (q.timer !== undefined) {
      this.deps.clock.clearTimeout(q.timer);
      q.timer = undefined;
    }
    if (wait > 0) {
      q.timer = this.deps.clock.setTimeout(() => {
        q.timer = undefined;
        this.kick(destination);
      }, wait);
      return;
    }
    void this.flush(destination, q);
  }

  /**
   * When the queue next has something to send: now, unless every entry waits (for a pending
   * re-check or behind its broadcast). An entry is in at most one of the two maps: `notBefore`
   * before its first transaction, `pending` only after one.
   */
  private dueAt(q: Queue, now: number): number {
    if (q.pending.size + q.notBefore.size + q.coveredBy.size < q.entries.length) return now;
    let at = Number.POSITIVE_INFINITY;
    for (const e of q.entries) at = Math.min(at, entryDue(q, e, now));
    return at;
  }

  /**
   * Takes out of the queue the PDUs the destination already holds (nothing
   * is in flight for it now); the caller deletes them from the store.
   */
  private takeHeld(destination: string, q: Queue): OutboxEntry[] {
    if (!this.deps.held) return [];
    const ids = q.entries.filter((e) => e.kind === 'pdu' && e.event_id).map((e) => e.event_id!);
    if (ids.length === 0) return [];
    const held = this.deps.held(destination, ids);
    if (held.size === 0) return [];
    const isHeld = (e: OutboxEntry) => e.kind === 'pdu' && e.event_id !== undefined && held.has(e.event_id);
    const taken = q.entries.filter(isHeld);
    q.entries = q.entries.filter((e) => !isHeld(e));
    for (const e of taken) {
      q.pending.delete(e);
      q.notBefore.delete(e);
      q.coveredBy.delete(e);
    }
    this.stats.pdusSkipped += taken.length;
    return taken;
  }

  /**
   * Catch-up (see the header): holds back each queued PDU that is an ancestor of a newer queued
   * one, newest first, so that only the newest of each line goes. Entries the destination was
   * already asked about are left alone, and what a held-back entry's cover was itself covering
   * now waits on the newer cover.
   */
  private cover(q: Queue): void {
    if (!this.deps.covers) return;
    let open = q.entries.filter((e) => e.kind === 'pdu' && e.event_id && !q.coveredBy.has(e) && !q.checked.has(e));
    open.sort((a, b) => b.seq - a.seq);
    while (open.length > 1) {
      const [newest, ...older] = open as [OutboxEntry, ...OutboxEntry[]];
      const covered = this.deps.covers(newest.event_id!, older.map((e) => e.event_id!));
      if (covered.size > 0) {
        for (const [e, by] of q.coveredBy) if (covered.has(by.event_id!)) q.coveredBy.set(e, newest);
        for (const e of older) if (covered.has(e.event_id!)) q.coveredBy.set(e, newest);
      }
      open = older.filter((e) => !covered.has(e.event_id!));
    }
  }

  /**
   * Catch-up: the entries whose cover is no longer queued (answered, or found held) are asked
   * about; those the destination holds are done, the rest are sent as usual. Throws as `holds`
   * does (the entries stay covered, and are asked about at the next attempt).
   */
  private async checkUncovered(destination: string, q: Queue): Promise<void> {
    if (q.coveredBy.size === 0) return;
    const queued = new Set(q.entries);
    const released = q.entries.filter((e) => {
      const by = q.coveredBy.get(e);
      return by !== undefined && !queued.has(by);
    });
    if (released.length === 0) return;
    const held = this.deps.holds ? await this.deps.holds(destination, released.map((e) => e.event_id!)) : new Set<string>();
    for (const e of released) {
      q.coveredBy.delete(e);
      q.checked.add(e);
    }
    const taken = new Set(released.filter((e) => held.has(e.event_id!)));
    if (taken.size === 0) return;
    q.entries = q.entries.filter((e) => !taken.has(e));
    for (const e of taken) {
      q.pending.delete(e);
      q.notBefore.delete(e);
    }
    this.stats.pdusCaughtUp += taken.size;
    const done = this.finished(taken);
    if (done.length > 0) await this.deps.write({ outboxDelete: done });
  }

  private async flush(destination: string, q: Queue): Promise<void> {
    q.inFlight = true;
    q.wokenInFlight = false;
    try {
      while (!this.stopped && q.entries.length > 0) {
        const held = this.finished(this.takeHeld(destination, q));
        if (held.length > 0) await this.deps.write({ outboxDelete: held });
        if (q.coveredBy.size > 0) await this.checkUncovered(destination, q);
        if (q.entries.length === 0) break;
        if (q.catchingUp) this.cover(q);
        const now = this.deps.clock.now();
        if (this.dueAt(q, now) > now) break;
        const batch: OutboxEntry[] = [];
        const pdus: Pdu[] = [];
        const edus: Transaction['edus'] = [];
        for (const e of q.entries) {
          if (entryDue(q, e, 0) > now) continue;
          if (e.kind === 'pdu') {
            if (pdus.length >= MAX_PDUS) continue;
            // An entry of a purged room carries its event (purge.ts); the others read it from the room.
            const pdu = this.carried(e) ?? (e.event_id ? this.deps.loadPdu(e.event_id) : undefined);
            if (pdu) pdus.push(pdu);
          } else {
            if (edus.length >= MAX_EDUS || !e.edu) continue;
            edus.push(e.edu as Transaction['edus'][number]);
          }
          batch.push(e);
          if (pdus.length >= MAX_PDUS && edus.length >= MAX_EDUS) break;
        }
        const txnId = `${this.deps.clock.now()}-${this.txnCounter++}`;
        const txn: Transaction = { origin: this.deps.origin, origin_server_ts: this.deps.clock.now(), pdus, edus };
        const res = await this.deps.send(destination, txnId, txn);
        if (!res.ok) {
          // The destination refused the whole transaction (e.g. bad origin): retrying cannot help.
          this.deps.log('warn', `transaction refused by ${destination}`, { error: res.body });
        }
        this.stats.transactions++;
        this.stats.pdusSent += pdus.length;
        this.stats.edusSent += edus.length;
        // Answered as pending (the destination is still fetching their history): not stored there
        // yet, so kept, and sent again later; every other entry is delivered.
        const results = res.ok && isJsonObject(res.body.pdus) ? res.body.pdus : {};
        const later = new Set<OutboxEntry>();
        for (const e of batch) {
          const r = e.kind === 'pdu' && e.event_id ? results[e.event_id] : undefined;
          if (!isJsonObject(r) || typeof r.error !== 'string' || !r.error.startsWith(HISTORY_PENDING)) continue;
          const times = (q.pending.get(e)?.times ?? 0) + 1;
          if (times > PENDING_CHECKS) continue; // it has had its chances: answered, as a failed PDU would be
          q.pending.set(e, { at: this.deps.clock.now() + PENDING_RECHECK_MS * 2 ** (times - 1), times });
          later.add(e);
        }
        this.stats.pdusPending += later.size;
        const sent = new Set(batch.filter((e) => !later.has(e)));
        for (const e of batch) q.notBefore.delete(e);
        for (const e of sent) q.pending.delete(e);
        q.entries = q.entries.filter((e) => !sent.has(e));
        q.attempts = 0;
        const done = this.finished(sent);
        if (done.length > 0) await this.deps.write({ outboxDelete: done });
      }
    } catch (err) {
      this.stats.failures++;
      q.catchingUp = true;
      if (q.wokenInFlight) {
        // The failure belongs to the link before the reconnection: try the new one now.
        q.attempts = 0;
        q.nextAttempt = 0;
      } else {
        q.attempts++;
        const backoff = Math.min(this.opts.maxBackoffMs, this.opts.baseBackoffMs * 2 ** Math.min(q.attempts - 1, 16));
        q.nextAttempt = this.deps.clock.now() + backoff;
      }
      if (!(err instanceof UnreachableError)) {
        this.deps.log('warn', `sending to ${destination} failed`, { error: String(err) });
      }
    } finally {
      q.inFlight = false;
      if (q.entries.length === 0) {
        q.catchingUp = false;
        q.coveredBy.clear();
      }
    }
    if (!this.stopped && q.entries.length > 0) this.kick(destination);
  }
}

/** When an entry may next be sent (`now` when nothing holds it back). */
function entryDue(q: Queue, e: OutboxEntry, now: number): number {
  if (q.coveredBy.has(e)) return Number.POSITIVE_INFINITY;
  return q.pending.get(e)?.at ?? q.notBefore.get(e) ?? now;
}

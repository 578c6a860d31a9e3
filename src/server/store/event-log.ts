/**
 * How events sit in IndexedDB: packed into chunk records, not one record per
 * event. Every IndexedDB request costs a round trip to the browser's storage
 * backend (~30–80 µs of the worker's time in Chromium, whatever the record's
 * size), so a batch of 50 events written as 50 puts spent more on requests
 * than on verifying the events; as one chunk it is one put (measured
 * 86–160 µs per event as single records, 13 µs per event as chunks).
 *
 * A chunk is keyed [room_id, seq] (seq grows per room), so a room's events
 * are one key range and load in write order. There is no index by event ID
 * (a multiEntry index over the chunk's IDs doubled a write's cost; the engine keeps
 * rooms in memory and never looks events up here). An event written again (a redaction
 * rewrites its target, an outlier is placed, a status changes) goes into the
 * new chunk and is removed from its old one in the same transaction — the
 * old content must not linger (redacted content is purged). Should an old
 * copy ever survive (a write from a connection that never loaded the room),
 * reads still return the newest: the copy in the highest-seq chunk wins.
 *
 * A chunk holds its events as JSON text (schema v3). IndexedDB stores a
 * record with the structured clone algorithm, which walks every object of
 * every event on the thread that ingests (structuredClone of a stored event:
 * 13–19 µs in a Chromium worker, a put paying its serialising half; ~12–16 µs
 * in fake-indexeddb, which clones it whole). JSON.stringify of the same event
 * takes 1–2 µs in Chromium (~6 µs in Node 20) and a string is copied as it is. Stored events are JSON
 * by nature (PDUs and their bookkeeping: strings, safe integers, plain
 * objects), so the text loses nothing. v2 chunks (an `events` array) are
 * still read.
 */
import type { StoredEvent } from './types.ts';

export interface EventChunk {
  room_id: string;
  seq: number;
  /** The chunk's events as a JSON array (v3). */
  json?: string;
  /** The chunk's events as objects (v2; converted by the v3 migration, still read). */
  events?: StoredEvent[];
}

/** A chunk as stored: its events as JSON text. */
export function makeChunk(roomId: string, seq: number, events: readonly StoredEvent[]): EventChunk {
  for (const ev of events) {
    const where = nonJsonAt(ev, '');
    if (where !== undefined) {
      throw new DOMException(`event record ${String(ev?.event_id)} holds ${where}: not JSON data, so it cannot be stored`, 'DataCloneError');
    }
  }
  return { room_id: roomId, seq, json: JSON.stringify(events) };
}

/**
 * Where `value` holds something JSON.stringify would quietly change (drop a
 * function or symbol, turn NaN into null, a Map into {}, a Date into a
 * string, undefined in an array into null), or undefined when it is plain
 * JSON data. A record must come back as it was written, so such a value is
 * refused, as IndexedDB refuses what it cannot clone. A separate walk (not a
 * replacer) keeps JSON.stringify on its fast path.
 */
export function nonJsonAt(value: unknown, path: string): string | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return undefined;
    case 'number':
      return Number.isFinite(value) ? undefined : `${value} at ${path || 'the top'}`;
    case 'object': {
      if (value === null) return undefined;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          const v: unknown = value[i];
          const bad = v === undefined ? `undefined at ${path}[${i}]` : nonJsonAt(v, `${path}[${i}]`);
          if (bad !== undefined) return bad;
        }
        return undefined;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return `a ${proto?.constructor?.name ?? 'non-plain object'} at ${path || 'the top'}`;
      for (const key in value) {
        const v = (value as Record<string, unknown>)[key];
        // An optional member left undefined is simply absent in JSON, as it should be.
        if (v === undefined) continue;
        const bad = nonJsonAt(v, `${path}.${key}`);
        if (bad !== undefined) return bad;
      }
      return undefined;
    }
    default:
      return `a ${typeof value} at ${path || 'the top'}`;
  }
}

/** The events of a stored chunk, in either form. */
export function chunkEvents(chunk: EventChunk): StoredEvent[] {
  if (typeof chunk.json === 'string') return JSON.parse(chunk.json) as StoredEvent[];
  return chunk.events ?? [];
}

/** Events per chunk: large enough to amortise a request, small enough to rewrite one cheaply. */
export const CHUNK_EVENTS = 64;

export function chunkKey(roomId: string, seq: number): [string, number] {
  return [roomId, seq];
}

function requireEventKeys(ev: StoredEvent): void {
  if (typeof ev?.event_id !== 'string' || typeof ev.room_id !== 'string') {
    // The same error a key path violation raises, so callers see one kind of failure.
    throw new DOMException(
      `an event record needs string event_id and room_id (got ${typeof ev?.event_id} and ${typeof ev?.room_id})`,
      'DataError',
    );
  }
}

/**
 * Per-connection bookkeeping: the next seq of each room and where each event
 * this connection has read or written lives. The engine loads every room at
 * start (roomEvents), so both are complete for the rooms it writes.
 */
export class EventLog {
  private readonly nextSeq = new Map<string, number>();
  private readonly where = new Map<string, number>();

  knowsRoom(roomId: string): boolean {
    return this.nextSeq.has(roomId);
  }

  /** Records a room's highest seq found in the database (0 when it has none). */
  setLastSeq(roomId: string, seq: number): void {
    const next = Math.max(seq + 1, this.nextSeq.get(roomId) ?? 1);
    this.nextSeq.set(roomId, next);
  }

  /**
   * Folds a room's chunks (in key order) into its events, newest copy
   * winning, in stream order; remembers where each lives.
   */
  load(roomId: string, chunks: readonly EventChunk[]): StoredEvent[] {
    const latest = new Map<string, StoredEvent>();
    let last = 0;
    for (const chunk of chunks) {
      last = Math.max(last, chunk.seq);
      for (const ev of chunkEvents(chunk)) {
        latest.set(ev.event_id, ev);
        this.where.set(ev.event_id, chunk.seq);
      }
    }
    this.setLastSeq(roomId, last);
    return [...latest.values()].sort((a, b) => a.stream - b.stream);
  }

  /**
   * Puts `events` as new chunks into `os` and removes earlier copies of any
   * of them from their old chunks (by request callbacks, so within the same
   * transaction). Throws synchronously, before the transaction commits, on a
   * record that cannot be stored; `undo` restores the bookkeeping then.
   */
  write(os: IDBObjectStore, events: readonly StoredEvent[]): { undo: () => void } {
    const byRoom = new Map<string, StoredEvent[]>();
    for (const ev of events) {
      requireEventKeys(ev);
      const list = byRoom.get(ev.room_id);
      if (list) list.push(ev);
      else byRoom.set(ev.room_id, [ev]);
    }
    // Bookkeeping to restore if the batch fails: each event's old location, unless a later write
    // has moved it since (seqs are never reused, so a gap left by a failed batch is harmless).
    const moved: { id: string; old: number | undefined; now: number }[] = [];
    const undo = () => {
      for (const m of moved) {
        if (this.where.get(m.id) !== m.now) continue;
        if (m.old === undefined) this.where.delete(m.id);
        else this.where.set(m.id, m.old);
      }
    };
    try {
      for (const [roomId, list] of byRoom) {
        if (!this.nextSeq.has(roomId)) throw new Error(`event log: room ${roomId} was not loaded before writing`);
        // An event twice in one batch: the later record wins, as with one put per event.
        const unique = [...new Map(list.map((ev) => [ev.event_id, ev])).values()];
        const stale = new Map<number, Set<string>>();
        for (let i = 0; i < unique.length; i += CHUNK_EVENTS) {
          const part = unique.slice(i, i + CHUNK_EVENTS);
          const seq = this.nextSeq.get(roomId)!;
          this.nextSeq.set(roomId, seq + 1);
          for (const ev of part) {
            const old = this.where.get(ev.event_id);
            moved.push({ id: ev.event_id, old, now: seq });
            if (old !== undefined && old !== seq) {
              const ids = stale.get(old) ?? new Set<string>();
              ids.add(ev.event_id);
              stale.set(old, ids);
            }
            this.where.set(ev.event_id, seq);
          }
          os.put(makeChunk(roomId, seq, part));
        }
        for (const [oldSeq, ids] of stale) removeFromChunk(os, roomId, oldSeq, ids);
      }
    } catch (err) {
      undo();
      throw err;
    }
    return { undo };
  }

  /**
   * Deletes every chunk of a room (`range`: its key range) from `os`, within
   * the caller's transaction, and forgets where its events lived. The room's
   * next seq is kept: seqs are never reused, so a chunk written after a
   * purge (the room joined again) can never be taken for an old one. `undo`
   * restores the bookkeeping if the transaction fails.
   */
  purge(os: IDBObjectStore, range: IDBKeyRange): { undo: () => void } {
    const forgotten: [string, number][] = [];
    const read = os.getAll(range);
    read.onsuccess = () => {
      for (const chunk of read.result as EventChunk[]) {
        for (const ev of chunkEvents(chunk)) {
          if (this.where.get(ev.event_id) !== chunk.seq) continue;
          this.where.delete(ev.event_id);
          forgotten.push([ev.event_id, chunk.seq]);
        }
      }
    };
    os.delete(range);
    return {
      undo: () => {
        for (const [id, seq] of forgotten) if (!this.where.has(id)) this.where.set(id, seq);
      },
    };
  }
}

/** Rewrites chunk [roomId, seq] without `ids` (deletes it when nothing is left). */
function removeFromChunk(os: IDBObjectStore, roomId: string, seq: number, ids: ReadonlySet<string>): void {
  const req = os.get(chunkKey(roomId, seq));
  req.onsuccess = () => {
    const chunk = req.result as EventChunk | undefined;
    if (!chunk) return;
    const events = chunkEvents(chunk);
    const keep = events.filter((ev) => !ids.has(ev.event_id));
    if (keep.length === events.length) return;
    if (keep.length === 0) os.delete(chunkKey(roomId, seq));
    else os.put(makeChunk(roomId, seq, keep));
  };
}

/** The newest copy of `eventId` among `chunks` (an old copy may survive; see the header). */
export function newestCopy(chunks: readonly EventChunk[], eventId: string): StoredEvent | undefined {
  let best: { seq: number; ev: StoredEvent } | undefined;
  for (const chunk of chunks) {
    if (best && chunk.seq < best.seq) continue;
    const ev = chunkEvents(chunk).find((e) => e.event_id === eventId);
    if (ev) best = { seq: chunk.seq, ev };
  }
  return best?.ev;
}

/** Packs v1's one-record-per-event rows into chunks, per room in stream order (the v2 migration). */
export function packV1Events(rows: readonly StoredEvent[]): EventChunk[] {
  const byRoom = new Map<string, StoredEvent[]>();
  for (const ev of rows) {
    const list = byRoom.get(ev.room_id) ?? [];
    list.push(ev);
    byRoom.set(ev.room_id, list);
  }
  const out: EventChunk[] = [];
  for (const [roomId, list] of byRoom) {
    list.sort((a, b) => a.stream - b.stream);
    for (let i = 0, seq = 1; i < list.length; i += CHUNK_EVENTS, seq++) {
      const part = list.slice(i, i + CHUNK_EVENTS);
      out.push(makeChunk(roomId, seq, part));
    }
  }
  return out;
}

/**
 * Receiving PDUs — the checks performed on receipt of a PDU, in the spec's
 * order:
 *   1. format (room version's PDU format, size limits)        → drop
 *   2. signatures (the sender's server; PeerId-derived key)  → drop
 *   3. content hash                                          → redact, go on
 *   4. auth against the event's own auth events              → reject
 *   5. auth against the state before the event               → reject
 *   6. auth against the current state                        → soft-fail
 * Missing prev_events are fetched with get_missing_events; missing auth
 * events with event_auth — never under the room's lock: placement defers
 * an event whose history is missing, the history is fetched and verified
 * outside the lock with a budget (ingest-fetch.ts), and the event is placed
 * in a second, short turn of the lock. Rejected and soft-failed events are
 * kept and recorded as such. A batch commits in one Store transaction.
 */
import { checkAuth, checkAuthAgainstState, selectAuthEvents } from '../core/auth/index.ts';
import { isEventSignedByAsync } from '../core/event-signatures.ts';
import { sameBytes } from '../core/bytes.ts';
import { claimedContentHash, computeEventId, contentHashInput, eventIdFromReferenceHash, referenceHashInput } from '../core/hashing.ts';
import { roomIdFromCreateEventId } from '../core/ids.ts';
import { sha256Async, sha256Sync } from '../crypto/sha256.ts';
import { InvalidPduError } from '../core/errors.ts';
import { type Pdu, type RoomEvent, checkPduSize, pduSizeFromParts, stateKey, validatePdu } from '../core/pdu.ts';
import { type JsonObject, type JsonRecord, isJsonObject } from '../core/json.ts';
import { redactEvent } from '../core/redaction.ts';
import { ENCRYPTED_EVENT_TYPE } from './content/aggregate.ts';
import { type Placement, placeInDag } from './dag.ts';
import type { Engine } from './engine.ts';
import type { FetchedHistory, RemoteState } from './ingest-fetch.ts';
import { backfillHistory } from './membership.ts';
import { latencyTracing, traceMark } from './latency-trace.ts';
import { applyRedactions } from './redactions.ts';
import { type Room, samePdu, senderSignatures } from './room.ts';
import type { StateGroupRecord, StoredEvent } from './store/types.ts';

export type IngestSource = 'live' | 'backfill';

export interface PreparedEvent {
  ev: RoomEvent;
  hashMismatch: boolean;
  /**
   * Already in the DAG (the same event ID): not verified again and not
   * placed. Gossip and the outbox both deliver every PDU, and a room of N
   * servers forwards each event N-1 times, so this is the common case.
   */
  duplicate?: boolean;
}

/** Result per event ID, as the send-transaction response reports it. */
export type PduResults = Record<string, { error?: string }>;

function domainOf(userId: string): string {
  return userId.slice(userId.indexOf(':') + 1);
}

/** Steps 1–3 for one raw PDU. Throws a message (the PDU is dropped) or returns the event to place. */
export async function preparePdu(e: Engine, room: Room, raw: unknown): Promise<PreparedEvent> {
  // A copy of an event held in the same form (the usual second delivery) is named without hashing.
  const known = room.recognise(raw);
  const held = known !== undefined && room.isDagNode(known) && room.events.get(known)?.status !== 'outlier' ? room.get(known) : undefined;
  if (held) return { ev: held, hashMismatch: false, duplicate: true };
  const waiting = recogniseDeferred(room, raw);
  if (waiting) return waiting;
  const pdu: Pdu = validatePdu(raw, { sizeCheckedByCaller: true, rules: room.rules });
  // A v12 create event has no room_id: its own ID must be the room's (checked below, once computed).
  const impliedRoom = room.rules.auth.roomIdFromCreateEvent && pdu.type === 'm.room.create' && !('room_id' in pdu);
  if (!impliedRoom && pdu.room_id !== room.roomId) throw new Error(`event is for room ${pdu.room_id}, not ${room.roomId}`);
  const { event_id: _given, ...clean } = pdu;
  let signingBytes: Uint8Array;
  let contentInput: Uint8Array;
  try {
    // Canonicalises everything but unsigned/signatures/hashes: refuses floats and unsafe integers.
    contentInput = contentHashInput(clean);
    checkPduSize(pduSizeFromParts(contentInput.length, clean));
    signingBytes = referenceHashInput(clean, room.rules);
  } catch (err) {
    if (err instanceof InvalidPduError) throw err;
    throw new Error(`the event is not canonical JSON: ${(err as Error).message}`);
  }
  const eventId = eventIdFromReferenceHash(sha256Sync(signingBytes));
  if (impliedRoom && roomIdFromCreateEventId(eventId) !== room.roomId) {
    throw new Error(`the m.room.create event ${eventId} is not the one room ${room.roomId} was created with`);
  }
  // The event ID covers everything the signature covers, so an event we already hold (placed,
  // rejected or soft-failed) needs no second verification: whatever this copy's signatures or
  // unredacted content say, ours is kept.
  if (room.isDagNode(eventId) && room.events.get(eventId)?.status !== 'outlier') {
    return { ev: { ...(clean as Pdu), event_id: eventId }, hashMismatch: false, duplicate: true };
  }
  // The signature check starts before the content hash: WebCrypto verifies off the main thread
  // while the digest, and the next events of the batch, are prepared.
  const senderServer = domainOf(pdu.sender);
  const signature = isEventSignedByAsync(clean, senderServer, room.rules, e.identity.verifier, {}, signingBytes);
  const [contentHash, signed] = await Promise.all([sha256Async(contentInput), signature]);
  const claimed = claimedContentHash(clean);
  const hashOk = claimed !== undefined && sameBytes(claimed, contentHash);
  if (!signed) throw new Error(`event ${eventId} is not validly signed by ${senderServer}, the sender's server`);
  if (!hashOk) {
    // Step 3: the content was tampered with (or redacted on the way): keep the redacted form.
    const redacted = redactEvent(clean, room.rules) as unknown as Pdu;
    return { ev: { ...redacted, event_id: eventId }, hashMismatch: true };
  }
  return { ev: { ...(clean as Pdu), event_id: eventId }, hashMismatch: false };
}

/**
 * Events this server verified and deferred while their history is fetched, by their sender's
 * signature. After a partition each origin's transactions bring its events, which wait for the
 * rest of the gap, and the history walk that fills the gap brings most of them again: found here,
 * a copy identical to a deferred event (every member an event ID covers) is that event, already
 * verified by this server, so it is not hashed and verified a second time (as `Room.recognise`
 * does for placed events). Anything else takes the full path. Bounded; forgotten once placed.
 */
const deferredByRoom = new WeakMap<Room, Map<string, PreparedEvent>>();
const DEFERRED_REMEMBERED = 4096;

function rememberDeferred(room: Room, p: PreparedEvent): void {
  if (p.hashMismatch) return; // kept redacted: a copy of the original would not compare equal
  let m = deferredByRoom.get(room);
  if (!m) {
    m = new Map();
    deferredByRoom.set(room, m);
  }
  for (const sig of senderSignatures(p.ev as unknown as JsonObject)) m.set(sig, p);
  while (m.size > DEFERRED_REMEMBERED) m.delete(m.keys().next().value as string);
}

/** Forgets deferred events once they are placed or given up on. */
export function forgetDeferred(room: Room, ps: readonly PreparedEvent[]): void {
  const m = deferredByRoom.get(room);
  if (!m || m.size === 0) return;
  for (const p of ps) for (const sig of senderSignatures(p.ev as unknown as JsonObject)) if (m.get(sig) === p) m.delete(sig);
}

function recogniseDeferred(room: Room, raw: unknown): PreparedEvent | undefined {
  const m = deferredByRoom.get(room);
  if (!m || m.size === 0 || !isJsonObject(raw)) return undefined;
  for (const sig of senderSignatures(raw)) {
    const p = m.get(sig);
    if (p && samePdu(raw, p.ev as unknown as JsonObject)) return p;
  }
  return undefined;
}

/** Prepares a batch concurrently (signature checks overlap on the WebCrypto fast path). */
export async function prepareBatch(
  e: Engine,
  room: Room,
  raws: readonly unknown[],
  results: PduResults,
): Promise<PreparedEvent[]> {
  const settled = await Promise.allSettled(raws.map((raw) => preparePdu(e, room, raw)));
  const out: PreparedEvent[] = [];
  settled.forEach((s, i) => {
    if (s.status === 'fulfilled') out.push(s.value);
    else {
      e.stats.dropped++;
      results[droppedKey(room, raws[i], i)] = { error: (s.reason as Error).message ?? String(s.reason) };
      e.log('warn', 'dropped a PDU', { room: room.roomId, error: String((s.reason as Error).message ?? s.reason) });
    }
  });
  return out;
}

/**
 * The key of a dropped PDU's result: the event ID it gives, else the one
 * computed from it (PDUs of room versions 4+ carry none, and the spec keys
 * results by event ID, so the sender can tell which of its events failed),
 * else its position in the transaction when it is not an event at all.
 */
function droppedKey(room: Room, raw: unknown, i: number): string {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return `#${i}`;
  const given = (raw as { event_id?: unknown }).event_id;
  if (typeof given === 'string') return given;
  try {
    return computeEventId(raw as JsonRecord, room.rules);
  } catch {
    return `#${i}`; // not canonical JSON: it has no event ID
  }
}

export interface IngestOptions {
  origin: string;
  source: IngestSource;
  /**
   * The batch's missing prev/auth events may be fetched (from `origin` or
   * another member; off for events that are themselves fetched). Placement
   * never fetches — it runs under the room's lock: an event of `items`
   * whose prev or auth events are missing is refused in `results` and
   * returned in `deferred`, for `ingestWithFetch` (ingest-fetch.ts) to fetch
   * its history outside the lock and place it again.
   */
  fetchMissing: boolean;
  /** History fetched outside the lock for the deferred events (ingest-fetch.ts): placed with them. */
  fetched?: FetchedHistory;
  /**
   * Return once the batch is placed in memory and its write requested,
   * without waiting for the write to complete: the caller awaits
   * `committed` after releasing the room's lock, so the next batch can be
   * placed while this one's write is in flight. Writes land in the order
   * they were requested (`Engine.commit`), so a batch is never stored
   * before the history it builds on.
   */
  detachCommit?: boolean;
}

export interface IngestOutcome {
  results: PduResults;
  placed: StoredEvent[];
  /** Settles when the batch is in the store (already settled unless `detachCommit`). */
  committed: Promise<void>;
  /** Events of `items` not placed because their history is missing (only with `fetchMissing`). */
  deferred: PreparedEvent[];
}

/**
 * Starts steps 1–3 for every raw PDU at once, in depth order (signature
 * verification, off the thread where the platform allows, overlaps with
 * the placement of the PDUs whose checks are done), and returns
 * one promise per PDU (undefined for a dropped one, whose error is in
 * `results`). Needs no lock: it reads only the room's rules and which
 * events it already holds (a copy found held is skipped again when placed).
 */
export function startPreparing(
  e: Engine,
  room: Room,
  raws: readonly unknown[],
  results: PduResults,
): Promise<PreparedEvent | undefined>[] {
  const depthOf = (r: unknown) => {
    const d = (r as { depth?: unknown } | null)?.depth;
    return typeof d === 'number' ? d : 0;
  };
  const order = raws.map((raw, i) => ({ raw, i })).sort((a, b) => depthOf(a.raw) - depthOf(b.raw) || a.i - b.i);
  return order.map(({ raw, i }) =>
    preparePdu(e, room, raw).catch((err: unknown) => {
      e.stats.dropped++;
      results[droppedKey(room, raw, i)] = { error: (err as Error).message ?? String(err) };
      e.log('warn', 'dropped a PDU', { room: room.roomId, error: String((err as Error).message ?? err) });
      return undefined;
    }),
  );
}

/**
 * Places prepared events in the DAG (steps 4–6), fetching what is missing,
 * and commits them in one transaction. Runs under the room's lock. Given
 * promises, events are placed in the given order as each resolves.
 */
export async function ingestPrepared(
  e: Engine,
  room: Room,
  items: ReadonlyArray<PreparedEvent | Promise<PreparedEvent | undefined>>,
  opts: IngestOptions,
  results: PduResults = {},
): Promise<IngestOutcome> {
  const placements: Placement[] = [];
  const outliers: StoredEvent[] = [];
  const deferred: PreparedEvent[] = [];
  const fetched = opts.fetched;
  // Fetched history: its state and auth events are kept as outliers, its events placed with the batch.
  if (fetched) outliers.push(...storeOutliers(e, room, fetched.outliers));
  const streaming = items.some((i) => i instanceof Promise);
  const byDepth = streaming
    ? []
    : [...(fetched?.prevs ?? []), ...(items as PreparedEvent[])].sort(
        (a, b) => a.ev.depth - b.ev.depth || (a.ev.event_id < b.ev.event_id ? -1 : 1),
      );
  const pending = new Map(byDepth.map((p) => [p.ev.event_id, p]));
  // Fetched events are not the caller's: they are placed if they can be, never deferred.
  const fetchedIds = new Set((fetched?.prevs ?? []).map((p) => p.ev.event_id));
  let remotePlaced = false;

  const place = async (p: PreparedEvent, allowFetch: boolean): Promise<void> => {
    const ev = p.ev;
    // An outlier placed with a peer's state is re-placed once its own history is here.
    if (room.isDagNode(ev.event_id) && room.events.get(ev.event_id)?.status !== 'outlier') {
      e.stats.duplicates++;
      results[ev.event_id] = {};
      return;
    }
    e.stats.pdusReceived++;
    // Prev events: any still pending in this batch go first (depth order
    // normally guarantees it; a lying depth is handled by recursion).
    for (const prev of ev.prev_events) {
      const inBatch = pending.get(prev);
      if (inBatch && !room.isDagNode(prev)) {
        pending.delete(prev);
        await place(inBatch, allowFetch && !fetchedIds.has(prev));
      }
    }
    let missing = ev.prev_events.filter((p) => !room.isDagNode(p));
    if (missing.length > 0 && fetched && !fetchedIds.has(ev.event_id)) {
      // History beyond what get_missing_events reached: the state at each
      // missing prev, fetched from a peer (state_ids), places that prev as an
      // outlier whose state we know, so this event can be authorised.
      for (const prev of missing) {
        const remote = fetched.remote.get(prev);
        if (!remote || room.isDagNode(prev)) continue;
        placements.push(placeWithRemoteState(e, room, remote));
        remotePlaced = true;
      }
      missing = ev.prev_events.filter((p) => !room.isDagNode(p));
    }
    const missingAuth = ev.auth_events.filter((a) => !room.events.has(a));
    // Fetching is for the caller, outside the lock: defer (an auth chain fetched and still short is a rejection).
    const defer = allowFetch && (missing.length > 0 || (missingAuth.length > 0 && !fetched?.authTried.has(ev.event_id)));
    if (defer) {
      deferred.push(p);
      rememberDeferred(room, p);
    }
    if (missing.length > 0) {
      if (!defer) e.stats.dropped++;
      results[ev.event_id] = { error: `missing prev_events ${missing.join(', ')}; cannot place the event yet` };
      return;
    }
    if (defer) {
      results[ev.event_id] = { error: `auth events ${missingAuth.join(', ')} are missing; cannot place the event yet` };
      return;
    }
    const beforeGroup = room.resolveGroups(room.prevGroups(ev.prev_events));
    const extraGroups: StateGroupRecord[] = beforeGroup.created ? [beforeGroup.created] : [];
    const before = room.groups.get(beforeGroup.group);
    let status: 'accepted' | 'rejected' | 'soft_failed' = 'accepted';
    let reason: string | undefined;
    if (missingAuth.length > 0) {
      status = 'rejected';
      reason = `auth events ${missingAuth.join(', ')} could not be fetched`;
    } else {
      const authEvents = ev.auth_events.map((a) => room.get(a)!);
      const own = checkAuth(ev, authEvents, room.rules, room.authCtx);
      if (!own.allowed) {
        status = 'rejected';
        reason = `against its auth events, rule ${own.rule}: ${own.reason}`;
      } else {
        // Step 5. When the state before the event selects exactly the event's own
        // auth events (every linear stretch of a room), step 4 already decided it.
        const selected = selectAuthEvents(ev, room.lookup(before), room.rules);
        const same = selected.length === ev.auth_events.length && selected.every((a) => ev.auth_events.includes(a.event_id));
        const atEvent = same ? own : checkAuth(ev, selected, room.rules, room.authCtx);
        if (!atEvent.allowed) {
          status = 'rejected';
          reason = `against the state before it, rule ${atEvent.rule}: ${atEvent.reason}`;
        } else if (opts.source === 'live' && room.currentGroup >= 0 && room.currentGroup !== beforeGroup.group) {
          const now = checkAuthAgainstState(ev, room.lookup(room.currentState()), room.rules, room.authCtx);
          if (!now.allowed) {
            status = 'soft_failed';
            reason = `against the current state, rule ${now.rule}: ${now.reason}`;
          }
        }
      }
    }
    if (status === 'rejected') e.stats.rejected++;
    if (status === 'soft_failed') e.stats.softFailed++;
    const placement = placeInDag(e, room, ev, status, beforeGroup.group, reason);
    if (opts.source === 'backfill') placement.stored.historical = true;
    placement.groups.unshift(...extraGroups);
    placements.push(placement);
    results[ev.event_id] = status === 'rejected' ? { error: reason ?? 'rejected' } : {};
  };

  const placeSafely = async (p: PreparedEvent) => {
    try {
      await place(p, opts.fetchMissing && !fetchedIds.has(p.ev.event_id));
    } catch (err) {
      e.stats.dropped++;
      results[p.ev.event_id] = { error: `could not process: ${(err as Error).message}` };
      e.log('warn', 'failed to process a PDU', { room: room.roomId, event: p.ev.event_id, error: String(err) });
    }
  };
  if (streaming) {
    for (const item of items) {
      const p = await item;
      if (p) await placeSafely(p);
    }
  } else {
    for (const p of byDepth) {
      if (!pending.has(p.ev.event_id)) continue;
      pending.delete(p.ev.event_id);
      await placeSafely(p);
    }
  }

  const placed = placements.map((p) => p.stored);
  if (latencyTracing()) for (const p of placed) traceMark(p.event_id, 'placed');
  if (remotePlaced) {
    // We placed history we only know the state of: fetch the history itself,
    // so this replica ends up holding every event like the others.
    const origin = opts.origin;
    setTimeout(() => {
      void backfillHistory(e, room, origin).catch((err) =>
        e.log('warn', 'backfill of a gap failed', { room: room.roomId, error: String(err) }),
      );
    }, 0);
  }
  const redactionUpdates = applyRedactions(room, placed);
  if (opts.source === 'live') {
    // The page may show these before the write (Update 'placed'); an encrypted event waits for
    // its decryption, which follows the stored 'event' update.
    const shown = placed.filter((p) => p.status === 'accepted' && p.pdu.type !== ENCRYPTED_EVENT_TYPE).map((p) => p.event_id);
    if (shown.length > 0) {
      if (latencyTracing()) for (const id of shown) traceMark(id, 'told');
      e.emit({ kind: 'placed', roomId: room.roomId, eventIds: shown });
    }
  }
  room.syncServers(e.serverName);
  if (placed.some((p) => p.status === 'accepted' && room.leftBy(e.serverName, p.pdu))) e.transport.unsubscribe(room.roomId);
  // Nothing new (every PDU held already, or dropped): nothing to write.
  const nothing = placed.length === 0 && outliers.length === 0 && redactionUpdates.length === 0 && !e.hasUnstoredWrites;
  const written = nothing
    ? Promise.resolve()
    : e.commit({
        events: [...outliers, ...placed, ...redactionUpdates],
        stateGroups: placements.flatMap((p) => p.groups),
        rooms: [room.record()],
      });
  // Live updates only for what is stored: a listener may act on them (read receipts, UI).
  const committed = written.then(() => {
    for (const s of placed) {
      traceMark(s.event_id, 'committed');
      e.emit({ kind: 'event', roomId: room.roomId, eventId: s.event_id, status: s.status, stream: s.stream });
    }
  });
  if (opts.detachCommit) {
    // Handled by the caller once it has released the lock; marked here so the
    // rejection is not reported as unhandled in between.
    committed.catch(() => undefined);
  } else await committed;
  return { results, placed, committed, deferred };
}

/**
 * Places a missing prev event as an outlier that is a DAG node, with the
 * state a peer reported before it (fetched outside the lock; its state
 * events are already kept as outliers): its state is known, it is not part
 * of our accepted set.
 */
function placeWithRemoteState(e: Engine, room: Room, remote: RemoteState): Placement {
  const state = new Map<string, string>();
  for (const id of remote.stateIds) {
    const sev = room.get(id);
    if (sev && typeof sev.state_key === 'string') state.set(stateKey(sev.type, sev.state_key), id);
  }
  const group = room.groups.create(state);
  const placement = placeInDag(e, room, remote.prev.ev, 'outlier', group.id, 'placed with the state reported by a peer');
  placement.groups.unshift(group);
  return placement;
}

/**
 * Keeps events as outliers: known and verified, not placed in the DAG. Each
 * is checked against its own auth events where those are known; one that
 * fails is recorded as rejected so rule 2.3 sees it.
 */
export function storeOutliers(e: Engine, room: Room, prepared: readonly PreparedEvent[]): StoredEvent[] {
  const out: StoredEvent[] = [];
  const sorted = [...prepared].sort((a, b) => a.ev.depth - b.ev.depth);
  for (const { ev } of sorted) {
    if (room.events.has(ev.event_id)) continue;
    const auth = ev.auth_events.map((a) => room.get(a));
    let status: StoredEvent['status'] = 'outlier';
    let reason: string | undefined;
    if (auth.every((a) => a !== undefined)) {
      const verdict = checkAuth(ev, auth as RoomEvent[], room.rules, room.authCtx);
      if (!verdict.allowed) {
        status = 'rejected';
        reason = `against its auth events, rule ${verdict.rule}: ${verdict.reason}`;
      }
    }
    const { event_id, ...pdu } = ev;
    const stored: StoredEvent = {
      event_id,
      room_id: room.roomId,
      stream: e.nextStream(),
      status,
      ...(reason ? { reason } : {}),
      pdu: pdu as StoredEvent['pdu'],
    };
    room.put(stored);
    out.push(stored);
  }
  return out;
}

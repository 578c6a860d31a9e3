/**
 * Fetching the history an incoming event lacks — its missing prev events
 * (get_missing_events, then the state at the deepest gaps via state_ids)
 * and its missing auth events (event_auth) — outside the room's lock.
 *
 * A network round trip never happens while a room is locked: a peer that
 * sends an event built on something we lack and then never answers would
 * otherwise hold the room for the whole request timeout, delaying our own
 * users' sends and every other server's events. So ingestion runs as:
 *   1. under the lock: place what can be placed; an event whose history is
 *      missing is deferred (ingestPrepared with `fetchMissing`);
 *   2. no lock: fetch that history from the origin, within a budget, and
 *      verify the fetched events (signatures, hashes);
 *   3. under the lock again, briefly: place the deferred events with what
 *      was fetched. Still short (the fetch failed or ran out of budget):
 *      fetch and retry a bounded number of times, then park the events.
 *
 * Budgets: per incoming batch (a transaction's PDUs for one room, a
 * broadcast batch, an anti-entropy pull) at most FETCH_EVENTS events fetched
 * — so at most that many signatures verified — and FETCH_TIME_MS of wall
 * time. A get_missing_events walk that used up the events while still
 * progressing along a narrow stretch (a longer partition) goes on in the
 * next round from where it stopped, with FETCH_EVENTS more (at most
 * FETCH_ATTEMPTS rounds); only a walk that stalls, fans out, or runs out of
 * rounds falls back to the state at the gap (state_ids); each request gives up after FETCH_TIMEOUT_MS. Per origin, one fetch
 * at a time, and an origin that let a request time out is not asked again
 * for ORIGIN_COOLDOWN_MS: the rest of a 50-PDU transaction of events with
 * unknown history costs one timeout, not fifty.
 *
 * Per room, history fetches take turns (`inTurn`): a fetch and the placement
 * of what it brought run before the next batch's fetch starts, and a batch
 * that waited first tries to place its events with what is now known. After
 * a heal every reconnected peer's catch-up and every sender's outbox hands
 * us events built on the same missing stretch at once; fetched side by side,
 * that stretch was fetched and verified once per peer (ten servers healing
 * 1,000 events a side: 7.8 verifications per event, docs/benchmarks.md).
 *
 * A transaction is answered before that fetch (`ingestTransaction`): the
 * events lacking history are answered as pending (HISTORY_PENDING) and the
 * sender sends them again later. An event whose history could not be
 * fetched is then answered with an error in the per-PDU results (a 200: the
 * sender's outbox stops resending it — resending would meet the same
 * stall) and parked, in memory
 * and bounded: anti-entropy (`Homeserver.catchUp`, with any member, on
 * every reconnection and periodically) retries it with the peer it is
 * comparing with. If it is dropped from the park, it is not lost either:
 * anti-entropy compares forward extremities with every member, so an event
 * any other member holds is pulled again with its history.
 */
import type { Engine } from './engine.ts';
import { type FederationRequest, type FederationResponse, HISTORY_PENDING } from './federation/types.ts';
import { computeEventId } from '../core/hashing.ts';
import type { JsonRecord } from '../core/json.ts';
import {
  type IngestOptions,
  type IngestOutcome,
  type PduResults,
  type PreparedEvent,
  forgetDeferred,
  ingestPrepared,
  prepareBatch,
  startPreparing,
} from './ingest.ts';
import type { Room } from './room.ts';

/** Events fetched (and so signatures verified) per incoming batch. */
export const FETCH_EVENTS = 1000;
/** Wall time spent fetching per incoming batch. */
export const FETCH_TIME_MS = 15_000;
/** One fetch request's timeout. */
export const FETCH_TIMEOUT_MS = 5_000;
/** How long an origin that let a fetch time out is not asked again. */
export const ORIGIN_COOLDOWN_MS = 30_000;
/** Rounds of fetch-and-place before the still-unplaceable events are parked. */
const FETCH_ATTEMPTS = 3;
/** Missing prev events whose state is fetched (state_ids), and events whose auth chain is, per batch. */
const REMOTE_STATES = 5;
const AUTH_CHAINS = 5;
/**
 * get_missing_events page, and the latest events named per request. Each
 * round trip waits behind everything the peer is doing (after a heal every
 * server is busy: 0.4–0.8 s per request with ten servers over libp2p in one
 * process), so a 1,000-event stretch is walked in two rounds rather than ten.
 */
const MISSING_PAGE = 500;
const MISSING_LATEST = 20;
/** Parked events per room, and the retries each gets. */
const PARKED_PER_ROOM = 100;
const PARKED_TRIES = 5;

/** The state a peer reported before a missing prev event, with that event. */
export interface RemoteState {
  stateIds: string[];
  prev: PreparedEvent;
}

/** What was fetched (and verified) outside the lock for deferred events; placed under it. */
export interface FetchedHistory {
  /** Missing prev events (get_missing_events), placed with the deferred events. */
  prevs: PreparedEvent[];
  /** Per missing prev beyond what get_missing_events reached: the state before it. */
  remote: Map<string, RemoteState>;
  /** State and auth chain events, kept as outliers. */
  outliers: PreparedEvent[];
  /** Events whose auth chain was fetched: missing auth events after that are a rejection. */
  authTried: Set<string>;
  /**
   * Fetched prevs whose own ancestry is still unknown: the walk ran out of
   * this round's budget before it reached what we hold. The next round goes
   * on from them instead of fetching (and verifying) them again.
   */
  unplaced: PreparedEvent[];
}

/** What a batch may still spend on fetching. */
export interface FetchBudget {
  events: number;
  deadline: number;
}

export function newBudget(e: Engine): FetchBudget {
  return { events: FETCH_EVENTS, deadline: e.clock.now() + FETCH_TIME_MS };
}

/** Budget and counters a test or a progress report can read. */
/**
 * `eventsFetched`: events received in answers to history requests; `eventsVerified`: those of
 * them that were new here and so had their signatures checked (an answer re-sends everything back
 * to our extremities, so events a turn before this one placed come again and are only recognised).
 */
export const fetchStats = { timeouts: 0, skippedCooling: 0, parked: 0, eventsFetched: 0, eventsVerified: 0 };

interface OriginState {
  coolUntil: number;
  /** The fetch session running for this origin (sessions run one at a time). */
  tail: Promise<unknown>;
  waiting: number;
}

const originStates = new WeakMap<Engine, Map<string, OriginState>>();

function originState(e: Engine, origin: string): OriginState {
  let m = originStates.get(e);
  if (!m) {
    m = new Map();
    originStates.set(e, m);
  }
  let s = m.get(origin);
  if (!s) {
    s = { coolUntil: 0, tail: Promise.resolve(), waiting: 0 };
    m.set(origin, s);
  }
  return s;
}

/** True while `origin` is not asked for history (it let a fetch time out recently). */
export function originCooling(e: Engine, origin: string): boolean {
  return (originStates.get(e)?.get(origin)?.coolUntil ?? 0) > e.clock.now();
}

class FetchTimeout extends Error {}

/**
 * Runs `fn` as `origin`'s fetch session: after the sessions before it, and
 * not at all (undefined) while the origin cools down.
 */
async function asSession<T>(e: Engine, origin: string, fn: () => Promise<T>): Promise<T | undefined> {
  const s = originState(e, origin);
  if (s.coolUntil > e.clock.now()) {
    fetchStats.skippedCooling++;
    return undefined;
  }
  s.waiting++;
  const run = s.tail.then(async () => {
    if (s.coolUntil > e.clock.now()) {
      fetchStats.skippedCooling++;
      return undefined;
    }
    return fn();
  });
  s.tail = run.catch(() => undefined);
  try {
    return await run;
  } finally {
    s.waiting--;
    if (s.waiting === 0 && s.coolUntil <= e.clock.now()) originStates.get(e)?.delete(origin);
  }
}

/**
 * One request within the budget: undefined when the budget's time is out,
 * the request failed, or it timed out — then the origin cools down and the
 * session stops (FetchTimeout).
 */
async function fetchRequest(e: Engine, origin: string, req: FederationRequest, budget: FetchBudget): Promise<FederationResponse | undefined> {
  const left = budget.deadline - e.clock.now();
  if (left <= 0 || budget.events <= 0) return undefined;
  let timer: unknown;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = e.clock.setTimeout(() => resolve('timeout'), Math.min(FETCH_TIMEOUT_MS, left));
  });
  const sent = e.request(origin, req);
  sent.catch(() => undefined); // a late failure after the timeout is of no interest
  try {
    const res = await Promise.race([sent, timeout]);
    if (res === 'timeout') {
      fetchStats.timeouts++;
      originState(e, origin).coolUntil = e.clock.now() + ORIGIN_COOLDOWN_MS;
      e.log('debug', `${origin} did not answer ${req.kind} in time; not asking it for history for a while`, {});
      throw new FetchTimeout(`${origin} timed out`);
    }
    return res;
  } catch (err) {
    if (err instanceof FetchTimeout) throw err;
    return undefined;
  } finally {
    e.clock.clearTimeout(timer);
  }
}

/** Verifies fetched raw events, no more than the budget allows. */
async function prepareFetched(e: Engine, room: Room, raws: unknown, budget: FetchBudget, max = Number.POSITIVE_INFINITY): Promise<PreparedEvent[]> {
  if (!Array.isArray(raws)) return [];
  const taken = raws.slice(0, Math.max(0, Math.min(budget.events, max)));
  budget.events -= taken.length;
  fetchStats.eventsFetched += taken.length;
  const prepared = await prepareBatch(e, room, taken, {});
  for (const p of prepared) if (!p.duplicate) fetchStats.eventsVerified++;
  return prepared;
}

/**
 * Fetches, from `origin` and outside the room's lock, the history `events`
 * lack (see the module comment). Reads the room without its lock: anything
 * placed meanwhile is only more that is known, and placement re-checks.
 */
export async function fetchMissingHistory(
  e: Engine,
  room: Room,
  events: readonly PreparedEvent[],
  origin: string,
  budget: FetchBudget,
  opts: { carried?: readonly PreparedEvent[]; lastRound?: boolean } = {},
): Promise<FetchedHistory> {
  const out: FetchedHistory = { prevs: [], remote: new Map(), outliers: [], authTried: new Set(), unplaced: [] };
  try {
    await asSession(e, origin, async () => {
      const walk = await fetchMissingPrevs(e, room, events, origin, budget, out, opts.carried ?? []);
      out.prevs = walk.prevs;
      // Which prevs of the deferred events stay unknown, once what was fetched is placed?
      const known = new Set<string>();
      const isKnown = (id: string) => room.isDagNode(id) || known.has(id);
      const all = [...out.prevs, ...events].sort((a, b) => a.ev.depth - b.ev.depth);
      for (let pass = 0; pass < 2; pass++) {
        for (const p of all) if (p.ev.prev_events.every(isKnown)) known.add(p.ev.event_id);
      }
      const deferredIds = new Set(events.map((p) => p.ev.event_id));
      const gaps = new Set<string>();
      for (const p of events) for (const prev of p.ev.prev_events) if (!isKnown(prev) && !deferredIds.has(prev)) gaps.add(prev);
      // The walk stopped only because this round's budget ran out, and was still going: the next
      // round goes on from where it stopped. Taking the state at the gap instead (state_ids) would
      // place everything fetched on a peer's word for the state and backfill the gap afterwards —
      // a 1,001-event stretch after a heal cost that for want of one event.
      const goOn = walk.cutByBudget && !opts.lastRound;
      for (const prev of goOn ? [] : [...gaps].slice(0, REMOTE_STATES)) {
        const remote = await fetchRemoteState(e, room, prev, origin, budget, out);
        if (remote) out.remote.set(prev, remote);
      }
      // Only fetched events that can be placed go under the lock: their ancestry is known now, or
      // will be once the gaps fetched just now are placed (a hostile answer of events on made-up
      // prevs would otherwise cost placement attempts under the lock).
      for (const prev of out.remote.keys()) known.add(prev);
      for (let pass = 0; pass < 2; pass++) {
        for (const p of all) if (p.ev.prev_events.every(isKnown)) known.add(p.ev.event_id);
      }
      out.unplaced = goOn ? out.prevs.filter((p) => !known.has(p.ev.event_id)) : [];
      out.prevs = out.prevs.filter((p) => known.has(p.ev.event_id));
      // Auth events we lack, for the deferred events and what was fetched with them.
      const have = new Set([...out.outliers, ...out.prevs].map((p) => p.ev.event_id));
      const lacking = [...events, ...out.prevs].filter((p) => p.ev.auth_events.some((a) => !room.events.has(a) && !have.has(a)));
      for (const p of lacking.slice(0, AUTH_CHAINS)) {
        const res = await fetchRequest(e, origin, { kind: 'event_auth', room_id: room.roomId, event_id: p.ev.event_id }, budget);
        out.authTried.add(p.ev.event_id);
        if (res?.ok) out.outliers.push(...(await prepareFetched(e, room, res.body.auth_chain, budget)));
      }
    });
  } catch (err) {
    if (!(err instanceof FetchTimeout)) throw err;
  }
  return out;
}

/**
 * get_missing_events from `origin`, in rounds, until every prev is known, no
 * progress, or the budget is spent (`cutByBudget`: it was still making
 * progress). `carried`: what an earlier round of the same batch fetched and
 * could not place yet; the walk goes on from its deepest events.
 */
async function fetchMissingPrevs(
  e: Engine,
  room: Room,
  events: readonly PreparedEvent[],
  origin: string,
  budget: FetchBudget,
  out: FetchedHistory,
  carried: readonly PreparedEvent[],
): Promise<{ prevs: PreparedEvent[]; cutByBudget: boolean }> {
  e.stats.missingFetches++;
  const collected = new Map<string, PreparedEvent>();
  for (const p of carried) if (!room.isDagNode(p.ev.event_id)) collected.set(p.ev.event_id, p);
  const known = (id: string) => room.isDagNode(id) || collected.has(id);
  const deferred = new Set(events.map((p) => p.ev.event_id));
  const frontier = () =>
    [...collected.values(), ...events]
      .filter((p) => p.ev.prev_events.some((prev) => !known(prev) && !deferred.has(prev)))
      .sort((a, b) => a.ev.depth - b.ev.depth)
      .map((p) => p.ev.event_id);
  let latest = frontier();
  let cutByBudget = false;
  // What we have, for the walk to leave out: our forward extremities, and the latest event the
  // origin's own users created that we hold — after a partition our extremities are mostly events
  // the origin never saw, and that one it knows (federation-server.ts, onMissing).
  const earliest = () => {
    const theirs = room.latestOf(origin);
    return theirs && !room.extremities.has(theirs) ? [...room.extremities, theirs] : [...room.extremities];
  };
  for (let round = 0; round < e.limits.missingEventRounds && latest.length > 0; round++) {
    if (budget.events <= 0) {
      // Worth going on with only while the walk stays narrow: a real stretch of history narrows
      // down to where it forked from ours (a few senders' chains), while an answer whose events
      // each point at further unknown prevs fans out and reaches nothing we hold.
      cutByBudget = latest.length <= MISSING_LATEST;
      break;
    }
    let res: FederationResponse | undefined;
    try {
      res = await fetchRequest(
        e,
        origin,
        {
          kind: 'get_missing_events',
          room_id: room.roomId,
          body: { earliest_events: earliest(), latest_events: latest.slice(0, MISSING_LATEST), limit: MISSING_PAGE, min_depth: 0 },
        },
        budget,
      );
    } catch (err) {
      // Timed out: keep what was collected (placeable or not), then stop the session.
      out.prevs = [...collected.values()];
      throw err;
    }
    if (!res?.ok) break;
    const prepared = await prepareFetched(e, room, res.body.events, budget, MISSING_PAGE);
    let progress = false;
    for (const p of prepared) {
      if (!collected.has(p.ev.event_id) && !room.isDagNode(p.ev.event_id) && !deferred.has(p.ev.event_id)) {
        collected.set(p.ev.event_id, p);
        progress = true;
      }
    }
    if (!progress) break;
    latest = frontier();
  }
  return { prevs: [...collected.values()], cutByBudget };
}

/** The state before `prevId` (state_ids, then `state` for what we lack) and the event itself. */
async function fetchRemoteState(
  e: Engine,
  room: Room,
  prevId: string,
  origin: string,
  budget: FetchBudget,
  out: FetchedHistory,
): Promise<RemoteState | undefined> {
  const ids = await fetchRequest(e, origin, { kind: 'state_ids', room_id: room.roomId, event_id: prevId }, budget);
  if (!ids?.ok || !Array.isArray(ids.body.pdu_ids)) return undefined;
  const stateIds = ids.body.pdu_ids.filter((id): id is string => typeof id === 'string');
  const chainIds = Array.isArray(ids.body.auth_chain_ids) ? ids.body.auth_chain_ids : [];
  const have = new Set(out.outliers.map((p) => p.ev.event_id));
  if ([...stateIds, ...chainIds].some((id) => typeof id !== 'string' || (!room.events.has(id) && !have.has(id)))) {
    const full = await fetchRequest(e, origin, { kind: 'state', room_id: room.roomId, event_id: prevId }, budget);
    if (full?.ok) {
      const raws = [...(Array.isArray(full.body.auth_chain) ? full.body.auth_chain : []), ...(Array.isArray(full.body.pdus) ? full.body.pdus : [])];
      out.outliers.push(...(await prepareFetched(e, room, raws, budget)));
    }
  }
  const prevRes = await fetchRequest(e, origin, { kind: 'event', event_id: prevId }, budget);
  if (!prevRes?.ok || !Array.isArray(prevRes.body.pdus)) return undefined;
  const [prev] = await prepareFetched(e, room, prevRes.body.pdus, budget, 1);
  if (!prev || prev.ev.event_id !== prevId) return undefined;
  // Every state event must be known (held, or fetched just now) for the state to be used.
  const fetchedIds = new Set(out.outliers.map((p) => p.ev.event_id));
  if (!stateIds.every((id) => room.events.has(id) || fetchedIds.has(id))) return undefined;
  return { stateIds, prev };
}

/**
 * Per room, the transactions' events whose history is fetched after the
 * answer (ingestTransaction): their IDs (bounded), and per origin the events
 * waiting for that origin's running batch to end.
 */
interface Background {
  ids: Set<string>;
  queued: Map<string, PreparedEvent[]>;
}
const backgroundByRoom = new WeakMap<Room, Background>();
/** Events per room whose history is fetched in the background at once. */
const BACKGROUND_PER_ROOM = 2000;

function pendingResult(origin: string): { error: string } {
  return { error: `${HISTORY_PENDING} its missing history is being fetched from ${origin}; not stored yet, send it again later` };
}

/**
 * A transaction's PDUs for one room, answered without waiting for their
 * missing history: the events that can be placed are placed and written
 * (their results say so once stored); the others are answered as pending
 * (HISTORY_PENDING) and their history fetched and placed afterwards, outside
 * the transaction's round trip. The sender's request no longer outlives its
 * timeout while we fetch (a heal's 1,000-event fetch took longer than the
 * sender's 10 s, and the sender sent the transaction again), and nothing is
 * acknowledged that a crash could lose: a pending event stays in the
 * sender's queue until it is placed here. A PDU sent again while its history
 * is still being fetched costs only its event ID; one parked (its history
 * could not be fetched) gets that error, which ends the sender's retries.
 */
export async function ingestTransaction(e: Engine, room: Room, raws: readonly unknown[], origin: string, results: PduResults): Promise<void> {
  let background = backgroundByRoom.get(room);
  const parked = parkedByRoom.get(room);
  const fresh: unknown[] = [];
  // Naming an event costs a canonical serialisation and a digest, repeated in its preparation: only
  // worth it while some of the room's events are being fetched in the background or are parked.
  const watching = (background?.ids.size ?? 0) > 0 || (parked?.size ?? 0) > 0;
  for (const raw of raws) {
    if (!watching) {
      fresh.push(raw);
      continue;
    }
    const id = eventIdOf(room, raw);
    if (id !== undefined && background?.ids.has(id)) results[id] = pendingResult(origin);
    else if (id !== undefined && parked?.has(id) && !room.isDagNode(id)) results[id] = { error: unfetched(room, parked.get(id)!.p, origin) };
    else fresh.push(raw);
  }
  if (fresh.length === 0) return;
  const started = startPreparing(e, room, fresh, results);
  const first = await room.lock.run(
    () => ingestPrepared(e, room, started, { origin, source: 'live', fetchMissing: true, detachCommit: true }, results),
    'transaction',
  );
  await first.committed;
  if (first.deferred.length === 0) return;
  for (const p of first.deferred) results[p.ev.event_id] = pendingResult(origin);
  if (!background) {
    background = { ids: new Set(), queued: new Map() };
    backgroundByRoom.set(room, background);
  }
  // Past the bound, nothing is started: the sender keeps the events and sends them again later.
  const taken = first.deferred.slice(0, Math.max(0, BACKGROUND_PER_ROOM - background.ids.size));
  forgetDeferred(room, first.deferred.slice(taken.length));
  if (taken.length === 0) return;
  for (const p of taken) background.ids.add(p.ev.event_id);
  const queue = background.queued.get(origin);
  if (queue) {
    // That origin's earlier batch is still running: these go after it, together.
    queue.push(...taken);
    return;
  }
  background.queued.set(origin, []);
  void fetchInBackground(e, room, background, origin, taken);
}

/**
 * One origin's transaction batches, one after the other: before answers
 * waited, a sender had one transaction in flight, so one history fetch per
 * origin ran at a time; answered at once, a sender sends its next
 * transactions straight away, and each batch fetching on its own walked the
 * same stretch again. A batch that waited is first placed with what the
 * batches before it brought, and fetches only what is still missing.
 */
async function fetchInBackground(e: Engine, room: Room, bg: Background, origin: string, first: PreparedEvent[]): Promise<void> {
  let batch = first;
  for (let round = 0; batch.length > 0; round++) {
    try {
      let pending = batch;
      if (round > 0) {
        const retry = await room.lock.run(
          () => ingestPrepared(e, room, batch, { origin, source: 'live', fetchMissing: true, detachCommit: true }, {}),
          'transaction history',
        );
        await retry.committed;
        pending = retry.deferred;
      }
      if (pending.length > 0) await (await placeDeferred(e, room, pending, { origin, what: 'transaction history' })).committed;
    } catch (err) {
      e.log('warn', 'fetching the history of a transaction failed', { room: room.roomId, origin, error: String(err) });
    } finally {
      for (const p of batch) bg.ids.delete(p.ev.event_id);
      forgetDeferred(room, batch);
    }
    batch = bg.queued.get(origin) ?? [];
    bg.queued.set(origin, []);
  }
  bg.queued.delete(origin);
}

/** The event ID of a raw PDU, or undefined when it is not an event (its checks will say why). */
function eventIdOf(room: Room, raw: unknown): string | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const { event_id: _given, ...pdu } = raw as JsonRecord;
  try {
    return computeEventId(pdu, room.rules);
  } catch {
    return undefined;
  }
}

export interface LiveIngestOptions {
  origin: string;
  /** As IngestOptions.detachCommit: return once the writes are requested. */
  detachCommit?: boolean;
  /** Names the lock's task (progress reports). */
  what?: string;
}

/**
 * Ingests live events from `origin`: places them under the room's lock, and
 * fetches the history of those that lack it outside the lock (see the
 * module comment). Events still unplaceable are refused in `results` and
 * parked for anti-entropy.
 */
export async function ingestWithFetch(
  e: Engine,
  room: Room,
  items: ReadonlyArray<PreparedEvent | Promise<PreparedEvent | undefined>>,
  opts: LiveIngestOptions,
  results: PduResults = {},
): Promise<IngestOutcome> {
  const base: IngestOptions = { origin: opts.origin, source: 'live', fetchMissing: true, detachCommit: true };
  const first = await room.lock.run(() => ingestPrepared(e, room, items, base, results), opts.what ?? 'ingest');
  const outcome =
    first.deferred.length === 0 ? first : merge(first, await placeDeferred(e, room, first.deferred, opts, results));
  if (!opts.detachCommit) await outcome.committed;
  return outcome;
}

/**
 * Fetches the history of deferred events (outside the lock) and places
 * them (under it), a bounded number of times; parks what is left.
 */
export async function placeDeferred(
  e: Engine,
  room: Room,
  deferred: readonly PreparedEvent[],
  opts: LiveIngestOptions,
  results: PduResults = {},
): Promise<IngestOutcome> {
  const budget = newBudget(e);
  let pending = [...deferred];
  // History fetched in an earlier round that does not reach what we hold yet (see FetchedHistory.unplaced).
  let carried: PreparedEvent[] = [];
  let outcome: IngestOutcome = { results, placed: [], committed: Promise.resolve(), deferred: pending };
  const place = (opt: IngestOptions) => room.lock.run(() => ingestPrepared(e, room, pending, opt, results), opts.what ?? 'ingest');
  for (let attempt = 0; attempt < FETCH_ATTEMPTS && pending.length > 0; attempt++) {
    const fetchedSomething = await inTurn(e, room, async (waited) => {
      if (waited) {
        // Another batch's fetch ran meanwhile, most likely of the same history: place what
        // that made placeable before asking anyone for more.
        const retry = await place({ origin: opts.origin, source: 'live', fetchMissing: true, detachCommit: true });
        outcome = merge(outcome, retry);
        pending = retry.deferred;
        if (pending.length === 0) return true;
      }
      // A round that goes on with a walk the last one had to cut (narrow, still progressing) may
      // verify FETCH_EVENTS more events, in FETCH_TIME_MS more — a batch at most FETCH_ATTEMPTS
      // times either.
      if (carried.length > 0) {
        budget.events = FETCH_EVENTS;
        budget.deadline = Math.max(budget.deadline, e.clock.now() + FETCH_TIME_MS);
      }
      const fetched = await fetchMissingHistory(e, room, pending, opts.origin, budget, { carried, lastRound: attempt === FETCH_ATTEMPTS - 1 });
      carried = fetched.unplaced;
      if (fetched.prevs.length === 0 && fetched.remote.size === 0 && fetched.outliers.length === 0) return carried.length > 0;
      const again = await place({ origin: opts.origin, source: 'live', fetchMissing: true, detachCommit: true, fetched });
      outcome = merge(outcome, again);
      pending = again.deferred;
      return true;
    });
    if (!fetchedSomething) break;
  }
  // Placed, or parked for anti-entropy (which prepares what it fetches again): either way done.
  forgetDeferred(room, deferred);
  for (const p of pending) {
    e.stats.dropped++;
    results[p.ev.event_id] = { error: unfetched(room, p, opts.origin) };
    park(room, p);
  }
  if (pending.length > 0) e.log('debug', `parked ${pending.length} events whose history ${opts.origin} did not give`, { room: room.roomId });
  return { ...outcome, deferred: pending };
}

/** The result for an event whose history `origin` did not give. */
function unfetched(room: Room, p: PreparedEvent, origin: string): string {
  const missing = p.ev.prev_events.filter((id) => !room.isDagNode(id));
  return `${missing.length > 0 ? `missing prev_events ${missing.join(', ')}` : 'missing auth events'} could not be fetched from ${origin}; kept to retry with other members`;
}

/** Per room, the tail of the history fetches' turns (see the module comment). */
const turns = new WeakMap<Room, Promise<unknown>>();

/**
 * Runs `fn` (a history fetch and the placement of what it brought) after the
 * room's earlier turns; `waited` says whether one ran since this was asked.
 * A turn is waited for at most FETCH_TIMEOUT_MS: an origin that answers
 * slowly, but each time just within the timeout, holds its own batch for up
 * to FETCH_TIME_MS, and the other origins' batches must not wait that long —
 * they then fetch side by side, as before turns. Lock order: a turn may take
 * the room's lock and an origin's fetch session, never the other way round,
 * so turns cannot deadlock with either.
 */
async function inTurn<T>(e: Engine, room: Room, fn: (waited: boolean) => Promise<T>): Promise<T> {
  const before = turns.get(room);
  let timer: unknown;
  const turn = before
    ? Promise.race([before, new Promise<void>((resolve) => (timer = e.clock.setTimeout(() => resolve(), FETCH_TIMEOUT_MS)))]).finally(() =>
        e.clock.clearTimeout(timer),
      )
    : Promise.resolve();
  const run = turn.then(() => fn(before !== undefined));
  const tail = run.catch(() => undefined);
  turns.set(room, tail);
  try {
    return await run;
  } finally {
    if (turns.get(room) === tail) turns.delete(room);
  }
}

function merge(a: IngestOutcome, b: IngestOutcome): IngestOutcome {
  const committed = Promise.all([a.committed, b.committed]).then(() => undefined);
  committed.catch(() => undefined);
  return { results: { ...a.results, ...b.results }, placed: [...a.placed, ...b.placed], committed, deferred: b.deferred };
}

const parkedByRoom = new WeakMap<Room, Map<string, { p: PreparedEvent; tries: number }>>();

function park(room: Room, p: PreparedEvent): void {
  let m = parkedByRoom.get(room);
  if (!m) {
    m = new Map();
    parkedByRoom.set(room, m);
  }
  const entry = m.get(p.ev.event_id);
  if (entry) {
    if (++entry.tries >= PARKED_TRIES) m.delete(p.ev.event_id);
    return;
  }
  fetchStats.parked++;
  m.set(p.ev.event_id, { p, tries: 0 });
  // Oldest out first (Maps iterate in insertion order).
  while (m.size > PARKED_PER_ROOM) m.delete(m.keys().next().value as string);
}

/** Parked events of a room (still unplaced), for anti-entropy to retry with another peer. */
export function parkedEvents(room: Room): PreparedEvent[] {
  const m = parkedByRoom.get(room);
  if (!m) return [];
  for (const [id] of m) if (room.isDagNode(id) && room.events.get(id)?.status !== 'outlier') m.delete(id);
  return [...m.values()].map((x) => x.p);
}


/**
 * A Hearth homeserver: identity, accounts, rooms, federation, EDUs and the
 * API the UI and tools use. Runs the same in a browser worker and in Node;
 * everything outside — storage, network, time — comes in through the Store,
 * Transport and Clock interfaces.
 */
import { type JsonObject, isJsonObject } from '../core/json.ts';
import { isValidUserId, localpartError } from '../core/ids.ts';
import { isSupportedRoomVersion, roomVersion } from '../core/room-versions/registry.ts';
import { type Clock, type RandomSource, cryptoRandom, systemClock } from './clock.ts';
import { HeldWriteError } from './held-write.ts';
import type { Engine, EngineLimits, EngineStats, Ephemeral, PendingTables } from './engine.ts';
import { MatrixError, forbidden, invalidParam, notFound } from './errors.ts';
import { MAX_HOLDS_IDS, handleFederationRequest } from './federation-server.ts';
import type { FederationRequest, FederationResponse } from './federation/types.ts';
import { FederationError, UnreachableError } from './federation/types.ts';
import type { Ed25519Verifier } from '../core/ed25519.ts';
import { type ServerIdentity, loadOrCreateIdentity } from './identity.ts';
import { type PduResults, type PreparedEvent, ingestPrepared, prepareBatch, startPreparing } from './ingest.ts';
import { ingestWithFetch, parkedEvents, placeDeferred } from './ingest-fetch.ts';
import { type Logger, silentLogger } from './log.ts';
import { backfillHistory, loadPendingTables } from './membership.ts';
import { Outbox } from './outbox.ts';
import { type PurgeOptions, type PurgeResult, purgeRoom, withoutPurged } from './purge.ts';
import { redactsOf } from './redactions.ts';
import { Room, samePdu, senderSignatures } from './room.ts';
import { mergeWriteBatches } from './store/merge.ts';
import type { AccountRecord, Store, WriteBatch } from './store/types.ts';
import type { RoomBroadcast, Transport } from './transport/types.ts';
import type { Update, UpdateListener } from './updates.ts';
import { handleEdus } from './edus.ts';
import { E2ee } from './e2ee/state.ts';
import { latencyTracing, traceMark, traceNow } from './latency-trace.ts';

/** Peers compared per periodic anti-entropy round (see `antiEntropyPeers`). */
const ANTI_ENTROPY_FANOUT = 3;
/**
 * A broadcast PDU waiting for its room's lock. Its checks (format,
 * signature, hashes) need no lock, so the first PREPARE_AHEAD entries of a
 * room's inbox have them started: a room that is behind would otherwise take
 * each turn of its lock waiting for a batch's verifications (under Node,
 * behind every other verification in the process's thread pool). The rest
 * wait as received, and are started as the window moves on: a check in
 * flight holds its canonical JSON and the verification job's copies, and a
 * server far behind (a flood, or a simulation run over capacity) used to
 * start one for every PDU it queued — gigabytes of buffers at once across
 * a process of 100 servers, which the allocator did not give back after.
 * `prepared` is undefined until started, and resolves to undefined when the
 * PDU was dropped (startPreparing counts and logs it).
 */
interface InboxEntry {
  from: string;
  raw: unknown;
  /** Its sender's server's signatures, under which `Inbox.bySignature` holds it. */
  signatures: string[];
  prepared?: Promise<PreparedEvent | undefined>;
  /** When the broadcast arrived (latency tracing only). */
  arrived: number;
}

/** Entries of which the first `started` have their checks started (see `prepareAhead`). */
interface PrepareWindow {
  entries: InboxEntry[];
  started: number;
}

/** A room's inbox: its entries, and the queued PDUs by signature. */
interface Inbox extends PrepareWindow {
  /** The queued PDUs by their sender's server's signatures, with their entries (see `queuedCopy`). */
  bySignature: Map<string, { entry: InboxEntry; pdu: JsonObject }>;
}

/**
 * Signatures of one PDU under which the inbox indexes it, and a transaction's copy is looked up:
 * a server signs with its key (two while it rotates). The PDUs are not verified yet, and one
 * carrying hundreds of made-up signatures must not make hundreds of index entries.
 */
const INDEXED_SIGNATURES = 2;

/** Broadcast PDUs ingested per turn of the room's lock (see `onBroadcast`). */
const INBOX_BATCH = 1000;
/**
 * Broadcast PDUs of a room whose checks run ahead of its lock (see `InboxEntry`): enough to keep
 * the verifier busy while a batch is placed, few enough that a flood holds them only as received.
 */
export const PREPARE_AHEAD = 256;
/** Unknown forward extremities a catch-up asks a peer for at once (of at most 20). */
const CATCH_UP_PARALLEL = 5;
/** The longest a transaction waits for the broadcasts that arrived before it (see `broadcastsBefore`). */
const BROADCASTS_WAIT_MS = 300_000;

/**
 * How long a transaction waits behind a broadcast of the same event to the same server
 * (outbox.ts). Gossip over a relay arrives in tens of milliseconds; a few hundred leaves it
 * placed before the transaction comes, and delays only a peer the broadcast did not reach.
 */
export const GOSSIP_HEAD_START_MS = 300;

export interface HomeserverOptions {
  store: Store;
  /** The transport, built once the server name (our PeerId) is known. */
  transport: (serverName: string, identity: ServerIdentity) => Transport | Promise<Transport>;
  clock?: Clock;
  random?: RandomSource;
  log?: Logger;
  /** Outbox timing (outbox.ts); `gossipHeadStartMs` defaults to GOSSIP_HEAD_START_MS. */
  outbox?: { baseBackoffMs?: number; maxBackoffMs?: number; gossipHeadStartMs?: number };
  /** How often to compare forward extremities with reachable peers (0 = only on reconnect). */
  antiEntropyMs?: number;
  limits?: Partial<EngineLimits>;
  /**
   * Signature verification; default: the best in-thread verifier (WebCrypto,
   * else the pure one). The browser worker passes a pool of helper workers.
   */
  verifier?: Ed25519Verifier | undefined;
}

export class Homeserver implements Engine {
  readonly rooms = new Map<string, Room>();
  readonly stats: EngineStats = {
    pdusReceived: 0,
    duplicates: 0,
    rejected: 0,
    softFailed: 0,
    dropped: 0,
    missingFetches: 0,
    backfills: 0,
  };
  readonly ephemeral: Ephemeral = { typing: new Map(), receipts: new Map(), presence: new Map() };
  readonly pending: PendingTables = { invites: new Map(), knocks: new Map() };
  readonly accounts = new Map<string, AccountRecord>();
  readonly outbox: Outbox;
  readonly e2ee: E2ee;
  readonly limits: EngineLimits;
  private streamPos = 0;
  private groupPos = 0;
  private readonly listeners = new Set<UpdateListener>();
  private antiEntropyTimer: unknown;
  private running = false;
  private catchingUp = new Set<string>();
  private antiEntropyCursor = 0;
  /** Per destination, the latest events it had created when the outbox last asked what it holds. */
  private readonly heldChecked = new Map<string, string>();
  /** Rooms purged in this process and not joined again: writes still queued for them are dropped (purge.ts). */
  private readonly purged = new Set<string>();
  /** Batches whose store write failed, written again with the next one (see commit), with who waits for them to be stored. */
  private unstored: { batch: WriteBatch; stored: (() => void)[] }[] = [];
  /** Writes in flight that carry held batches again (see hasUnstoredWrites). */
  private rewriting = 0;
  /** The store write in flight, and the batches waiting to go together after it (see commit). */
  private writing: Promise<void> | undefined;
  private nextWrite: { batches: WriteBatch[]; done: Promise<void> } | undefined;
  /** Broadcast PDUs waiting for their room's lock, per room (see onBroadcast). */
  private readonly inbox = new Map<string, Inbox>();
  /** Per room: broadcast PDUs queued in the inbox so far, ingested so far, and who waits for which (broadcastsBefore). */
  private readonly inboxProgress = new Map<string, { queued: number; ingested: number; waiters: { upTo: number; resolve: () => void }[] }>();
  /** Broadcast batches ingested, and broadcast PDUs shed because the inbox was full. */
  readonly gossipStats = { batches: 0, shed: 0 };

  private constructor(
    readonly identity: ServerIdentity,
    readonly store: Store,
    readonly transport: Transport,
    readonly clock: Clock,
    readonly random: RandomSource,
    readonly log: Logger,
    private readonly opts: HomeserverOptions,
  ) {
    this.limits = { missingEventRounds: 50, broadcastInbox: 10_000, presenceEntries: 10_000, ...(opts.limits ?? {}) };
    this.outbox = new Outbox(
      {
        // Deletions of delivered entries go through the grouped commit: a server in a room of a
        // hundred has ~99 queues acknowledging, and one store transaction each queued its other
        // writes (its own new events included) behind them.
        write: (batch) => this.commit(batch),
        clock,
        log,
        origin: identity.serverName,
        send: async (destination, txnId, txn) => {
          const res = await this.transport.request(destination, { kind: 'send', txn_id: txnId, body: txn });
          return res;
        },
        loadPdu: (id) => this.findStoredPdu(id),
        held: (destination, ids) => this.heldBy(destination, ids),
        covers: (newest, older) => this.roomOf(newest)?.ancestorsAmong(newest, older) ?? new Set(),
        holds: (destination, ids) => this.askHolds(destination, ids),
      },
      {
        baseBackoffMs: opts.outbox?.baseBackoffMs ?? 250,
        maxBackoffMs: opts.outbox?.maxBackoffMs ?? 30_000,
        gossipHeadStartMs: opts.outbox?.gossipHeadStartMs ?? GOSSIP_HEAD_START_MS,
      },
    );
    this.e2ee = new E2ee(this, (userId) => this.accounts.get(userId)?.devices.map((d) => d.device_id) ?? []);
    this.e2ee.setDisplayNames((userId) => new Map((this.accounts.get(userId)?.devices ?? []).map((d) => [d.device_id, d.display_name])));
  }

  get serverName(): string {
    return this.identity.serverName;
  }

  /** Opens (or creates) the homeserver stored in `opts.store` and starts it. */
  static async open(opts: HomeserverOptions): Promise<Homeserver> {
    const clock = opts.clock ?? systemClock;
    const random = opts.random ?? cryptoRandom;
    const identity = await loadOrCreateIdentity(opts.store, random, opts.verifier);
    const transport = await opts.transport(identity.serverName, identity);
    const hs = new Homeserver(identity, opts.store, transport, clock, random, opts.log ?? silentLogger, opts);
    await hs.load();
    await hs.start();
    return hs;
  }

  private async load(): Promise<void> {
    this.streamPos = Number((await this.store.getMeta('stream_pos')) ?? 0);
    this.groupPos = Number((await this.store.getMeta('group_pos')) ?? 0);
    for (const a of await this.store.listAccounts()) this.accounts.set(a.user_id, a);
    for (const record of await this.store.listRooms()) {
      if (!isSupportedRoomVersion(record.room_version)) continue;
      const room = new Room(record.room_id, roomVersion(record.room_version), () => this.allocateGroupId(), record);
      room.groups.load(await this.store.roomStateGroups(record.room_id));
      for (const ev of await this.store.roomEvents(record.room_id)) room.put(ev);
      // Redactions still waiting for their target live only in memory: rebuild them, or a
      // target arriving after a restart would never be redacted.
      for (const s of room.events.values()) {
        const target = s.status === 'accepted' || s.status === 'soft_failed' ? redactsOf(s.pdu, room) : undefined;
        if (target && !room.events.has(target)) room.pendingRedactions.set(target, s.event_id);
      }
      // A backfill cut short by a crash (or by its peer) is finished by anti-entropy after the
      // restart, as it would have been without one.
      room.needsBackfill = room.hasHistoryGaps();
      this.rooms.set(record.room_id, room);
    }
    for (const r of await Promise.all([...this.rooms.keys()].map((id) => this.store.roomReceipts(id)))) {
      for (const rec of r) {
        let m = this.ephemeral.receipts.get(rec.room_id);
        if (!m) {
          m = new Map();
          this.ephemeral.receipts.set(rec.room_id, m);
        }
        m.set(rec.user_id, { eventId: rec.event_id, ts: rec.ts });
      }
    }
    const owingNothing = this.outbox.load(await this.store.outbox());
    if (owingNothing.length > 0) await this.store.write({ outboxDelete: owingNothing });
    await loadPendingTables(this);
    this.e2ee.load(await this.store.listClientData());
  }

  private async start(): Promise<void> {
    this.running = true;
    await this.transport.start((origin, req) => this.onRequest(origin, req), {
      onPeerUp: (peer) => this.onPeerUp(peer),
      onPeerDown: (peer) => this.emit({ kind: 'network', peer, up: false }),
      // Fire-and-forget, so a failure (e.g. the store closed by stop() mid-ingest) must be caught
      // here: an unhandled rejection would take down a Node process.
      onBroadcast: (from, msg) =>
        void this.onBroadcast(from, msg).catch((err) =>
          this.log(this.running ? 'warn' : 'debug', `handling a broadcast from ${from} failed`, { error: String(err) }),
        ),
    });
    for (const room of this.rooms.values()) if (this.isJoinedAnywhere(room)) this.transport.subscribe(room.roomId);
    // Deliver whatever was queued before a restart.
    for (const d of Object.keys(this.outbox.depth())) this.outbox.peerUp(d);
    const every = this.opts.antiEntropyMs ?? 5000;
    if (every > 0) {
      const tick = () => {
        if (!this.running) return;
        for (const peer of this.antiEntropyPeers()) void this.catchUp(peer, { periodic: true });
        this.antiEntropyTimer = this.clock.setTimeout(tick, every);
      };
      this.antiEntropyTimer = this.clock.setTimeout(tick, every);
    }
  }

  /** Stops cleanly: timers, outbox, transport, store. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.antiEntropyTimer !== undefined) this.clock.clearTimeout(this.antiEntropyTimer);
    this.outbox.stop();
    await this.transport.stop();
    await this.store.close();
  }

  // ---- Engine plumbing -------------------------------------------------

  nextStream(): number {
    return ++this.streamPos;
  }

  /** The latest stream position handed out (every event placed so far has one at most this). */
  get currentStream(): number {
    return this.streamPos;
  }

  allocateGroupId(): number {
    return ++this.groupPos;
  }

  /**
   * Writes one batch — grouped: while a write is in flight, the batches that
   * come meanwhile wait and go together in the next one (one store
   * transaction for all of them). IndexedDB runs a server's transactions one
   * after the other anyway, and each costs a few turns of the event loop;
   * under load (a hundred federating servers, or one catching up) a queue of
   * small transactions made every write wait seconds. Each caller's promise
   * settles when the write holding its batch does, so "written" still means
   * written, and batches are written in the order they were committed.
   *
   * A batch whose write failed (a full disk, say) is already part of the
   * rooms in memory, and its events count as held: a sender's retry would be
   * acknowledged without them ever being stored. So it is kept and written
   * again in front of the next batch, and until then `hasUnstoredWrites`
   * tells the fast paths not to skip writing.
   */
  commit(batch: WriteBatch): Promise<void> {
    if (this.purged.size > 0) batch = withoutPurged(batch, this.purged);
    if (this.nextWrite) {
      this.nextWrite.batches.push(batch);
      return this.nextWrite.done;
    }
    const inFlight = this.writing;
    if (!inFlight) return this.startWrite([batch]);
    const group: { batches: WriteBatch[]; done: Promise<void> } = { batches: [batch], done: Promise.resolve() };
    group.done = inFlight.then(
      () => this.startNext(group),
      () => this.startNext(group),
    );
    this.nextWrite = group;
    return group.done;
  }

  private startNext(group: { batches: WriteBatch[] }): Promise<void> {
    this.nextWrite = undefined;
    return this.startWrite(group.batches);
  }

  private startWrite(batches: WriteBatch[]): Promise<void> {
    const held = this.unstored;
    this.unstored = [];
    // Held batches being written again are still unstored until this write lands.
    if (held.length > 0) this.rewriting++;
    const all = [...held.map((h) => h.batch), ...batches];
    let merged = all.length === 1 ? all[0]! : mergeWriteBatches(all);
    // A room purged ahead of this write (commitAhead) must not come back with it.
    if (this.purged.size > 0) merged = withoutPurged(merged, this.purged);
    const write = this.store.write({ ...merged, meta: { ...(merged.meta ?? {}), stream_pos: this.streamPos, group_pos: this.groupPos } }).then(
      () => {
        if (held.length > 0) this.rewriting--;
        for (const h of held) for (const done of h.stored) done();
      },
      (err: unknown) => {
        if (held.length > 0) this.rewriting--;
        // The merged batch holds the earlier held ones too: whoever waits for those waits for this.
        let storedNow!: () => void;
        const stored = new Promise<void>((resolve) => {
          storedNow = resolve;
        });
        this.unstored.push({ batch: merged, stored: [...held.flatMap((h) => h.stored), storedNow] });
        this.log('warn', 'a store write failed; it is retried with the next one', { error: String(err) });
        throw new HeldWriteError(err, stored);
      },
    );
    this.writing = write;
    const settled = () => {
      if (this.writing === write) this.writing = undefined;
    };
    write.then(settled, settled);
    return write;
  }

  /**
   * Writes a batch that frees space (a room's purge) at once and on its own when an earlier
   * write is held: behind a held write that no longer fits (a full disk) it would be refused
   * with it every time, and the space it frees never freed. Writes already started land before
   * it (the store runs its transactions in the order they began); the held and queued writes
   * follow it without the purged rooms' records (startWrite). If it fails too, it is held.
   * Only the deleting half of `batch` goes ahead when the whole is refused (see below).
   */
  async commitAhead(batch: WriteBatch): Promise<void> {
    if (!this.hasUnstoredWrites) return this.commit(batch);
    try {
      // No counters: a purge allocates no stream position, and a browser over its quota refuses a
      // transaction that puts anything (a delete-only one shrinks the site's usage).
      await this.store.write(batch);
    } catch {
      if (!batch.outboxPut?.length) return this.commit(batch);
      // The deliveries it rewrites (to carry their events) are puts: the deletes go now, the
      // rewrites wait with the held writes. Until they land, the deliveries live in memory.
      const { outboxPut, ...deletes } = batch;
      try {
        await this.store.write(deletes);
      } catch {
        return this.commit(batch);
      }
      // Held like any refused write (and written with the next one that succeeds): not an error here.
      this.commit({ outboxPut }).catch(() => undefined);
    }
  }

  /**
   * Writes what an earlier failed write held (the app's and the API's retry
   * of a message that was not saved); resolves at once when nothing is held.
   */
  async flushWrites(): Promise<void> {
    if (this.unstored.length > 0) await this.commit({});
  }

  get hasUnstoredWrites(): boolean {
    return this.unstored.length > 0 || this.rewriting > 0;
  }

  emit(update: Update): void {
    if (update.kind === 'event') traceMark(update.eventId, 'emitted');
    for (const l of this.listeners) {
      try {
        l(update);
      } catch (err) {
        this.log('warn', 'an update listener threw', { error: String(err) });
      }
    }
  }

  subscribe(listener: UpdateListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  openRoom(roomId: string, version: string): Room {
    const existing = this.rooms.get(roomId);
    if (existing) return existing;
    this.purged.delete(roomId);
    const room = new Room(roomId, roomVersion(version), () => this.allocateGroupId());
    this.rooms.set(roomId, room);
    return room;
  }

  request(destination: string, request: FederationRequest): Promise<FederationResponse> {
    return this.transport.request(destination, request);
  }

  /**
   * Deletes a room from this server's store and memory (purge.ts), if
   * `opts.refuse` allows: the Client-Server API's forget, once every local
   * user is done with the room.
   */
  purgeRoom(roomId: string, opts: PurgeOptions): Promise<PurgeResult | undefined> {
    return purgeRoom(this, roomId, opts);
  }

  /** The in-memory half of a purge (purge.ts, under the room's lock): nothing of the room is kept or served. */
  forgetRoomInMemory(roomId: string): void {
    this.rooms.delete(roomId);
    this.purged.add(roomId);
    this.transport.unsubscribe(roomId);
    this.inbox.delete(roomId);
    const progress = this.inboxProgress.get(roomId);
    this.inboxProgress.delete(roomId);
    for (const w of progress?.waiters ?? []) w.resolve();
    this.ephemeral.typing.delete(roomId);
    this.ephemeral.receipts.delete(roomId);
    this.heldChecked.clear();
  }

  isLocalUser(userId: string): boolean {
    return this.accounts.has(userId);
  }

  /**
   * The events (of any room) that `server` is known to hold, among `eventIds`
   * (Room.heldBy), for the outbox, which drops what is found. When the
   * server's latest events are the ones of the previous call, nothing can
   * have become provably held since (an entry queued after that call is
   * newer than what the server had built on then), so the walk is skipped.
   */
  private heldBy(server: string, eventIds: readonly string[]): Set<string> {
    const latest = [...this.rooms.values()].map((r) => r.latestOf(server) ?? '').join(' ');
    if (this.heldChecked.get(server) === latest) return new Set();
    this.heldChecked.set(server, latest);
    const out = new Set<string>();
    for (const [room, ids] of this.byRoom(eventIds)) for (const id of room.heldBy(server, ids)) out.add(id);
    return out;
  }

  /**
   * Which of these events `destination` says it holds (the outbox's catch-up), asked per room in
   * requests of at most MAX_HOLDS_IDS. A destination that cannot answer (an older Hearth, a refusal)
   * holds none of them, so they are sent; an unreachable one throws, for the outbox's backoff.
   */
  private async askHolds(destination: string, eventIds: readonly string[]): Promise<Set<string>> {
    const held = new Set<string>();
    for (const [room, ids] of this.byRoom(eventIds)) {
      for (let i = 0; i < ids.length; i += MAX_HOLDS_IDS) {
        const page = ids.slice(i, i + MAX_HOLDS_IDS);
        let res: FederationResponse;
        try {
          res = await this.transport.request(destination, { kind: 'holds', room_id: room.roomId, event_ids: page });
        } catch (err) {
          if (err instanceof UnreachableError) throw err;
          this.log('warn', `${destination} could not say which events it holds`, { error: String(err) });
          continue;
        }
        // A destination that lies about holding an event only goes without it.
        const asked = new Set(page);
        const list = res.ok && Array.isArray(res.body.held) ? res.body.held : [];
        for (const id of list) if (typeof id === 'string' && asked.has(id)) held.add(id);
      }
    }
    return held;
  }

  /** The room holding an event (stored in it, whatever its status). */
  private roomOf(eventId: string): Room | undefined {
    for (const room of this.rooms.values()) if (room.events.has(eventId)) return room;
    return undefined;
  }

  /** Event IDs grouped by the room holding them; IDs no room holds are left out. */
  private byRoom(eventIds: readonly string[]): Map<Room, string[]> {
    const out = new Map<Room, string[]>();
    for (const id of eventIds) {
      const room = this.roomOf(id);
      if (!room) continue;
      const list = out.get(room);
      if (list) list.push(id);
      else out.set(room, [id]);
    }
    return out;
  }

  private findStoredPdu(eventId: string) {
    return this.roomOf(eventId)?.events.get(eventId)?.pdu;
  }

  private isJoinedAnywhere(room: Room): boolean {
    if (room.currentGroup < 0) return false;
    return room.members().some((m) => m.membership === 'join' && this.isLocalUser(m.userId));
  }

  // ---- Network events --------------------------------------------------

  private async onRequest(origin: string, req: FederationRequest): Promise<FederationResponse> {
    return handleFederationRequest(this, origin, req);
  }

  private onPeerUp(peer: string): void {
    this.emit({ kind: 'network', peer, up: true });
    this.outbox.peerUp(peer);
    void this.catchUp(peer);
  }

  /**
   * Room broadcasts (gossip) wait in a per-room inbox while the room is
   * busy, and are then ingested together: one store transaction for the
   * batch instead of one per event. The inbox is bounded: a server that
   * cannot keep up sheds broadcasts beyond `limits.broadcastInbox` — gossip
   * is only the fast path; the senders' outboxes deliver every event durably.
   */
  private async onBroadcast(from: string, msg: RoomBroadcast): Promise<void> {
    const room = typeof msg?.room_id === 'string' ? this.rooms.get(msg.room_id) : undefined;
    if (!room || room.currentGroup < 0) return;
    if (Array.isArray(msg.pdus) && msg.pdus.length > 0) {
      let box = this.inbox.get(room.roomId);
      const idle = box === undefined;
      if (!box) {
        box = { entries: [], started: 0, bySignature: new Map() };
        this.inbox.set(room.roomId, box);
      }
      const progress = this.progressOf(room.roomId);
      const arrived = latencyTracing() ? traceNow() : 0;
      for (const pdu of msg.pdus.slice(0, 50)) {
        if (box.entries.length < this.limits.broadcastInbox) {
          const signatures = isJsonObject(pdu) ? senderSignatures(pdu).slice(0, INDEXED_SIGNATURES) : [];
          const entry: InboxEntry = { from, raw: pdu, signatures, arrived };
          box.entries.push(entry);
          for (const sig of signatures) box.bySignature.set(sig, { entry, pdu: pdu as JsonObject });
          progress.queued++;
        } else this.gossipStats.shed++;
      }
      this.prepareAhead(room, box, PREPARE_AHEAD);
      if (idle) await this.drainInbox(room);
    }
    if (Array.isArray(msg.edus)) await handleEdus(this, from, msg.edus.slice(0, 100));
  }

  /** Ingests up to INBOX_BATCH broadcast PDUs of a room under its lock; queues itself again for the rest. */
  private async drainInbox(room: Room): Promise<void> {
    const deferred = await room.lock.run(async () => {
      const box = this.inbox.get(room.roomId) ?? { entries: [], started: 0, bySignature: new Map() };
      const batch = box.entries.splice(0, INBOX_BATCH);
      for (const entry of batch) for (const sig of entry.signatures) if (box.bySignature.get(sig)?.entry === entry) box.bySignature.delete(sig);
      box.started = Math.max(0, box.started - batch.length);
      if (box.entries.length === 0) this.inbox.delete(room.roomId);
      else {
        // The next batch's first checks run while this one is placed.
        this.prepareAhead(room, box, PREPARE_AHEAD);
        // Behind whatever else waits for the room (local sends, transactions), not ahead of it.
        void this.drainInbox(room).catch((err) =>
          this.log(this.running ? 'warn' : 'debug', 'handling broadcasts failed', { room: room.roomId, error: String(err) }),
        );
      }
      try {
        return await this.ingestBroadcasts(room, batch);
      } finally {
        this.ingested(room.roomId, batch.length);
      }
    }, 'broadcasts');
    // Events whose history is missing: fetched from their senders outside the lock, each sender
    // on its own (the room's history fetches take turns, but a stalled sender delays the others
    // by at most one request timeout — ingest-fetch.ts; the inbox goes on meanwhile).
    for (const [from, list] of deferred) {
      void placeDeferred(this, room, list, { origin: from, what: 'broadcasts' }).catch((err) =>
        this.log(this.running ? 'warn' : 'debug', 'fetching the history of broadcasts failed', { room: room.roomId, error: String(err) }),
      );
    }
  }

  /**
   * Ingests broadcast PDUs (under the room's lock): one batch, and the stragglers with their
   * senders. Returns, per sender, the events whose history is missing (fetched outside the lock).
   */
  private async ingestBroadcasts(room: Room, batch: readonly InboxEntry[]): Promise<Map<string, PreparedEvent[]>> {
    const deferred = new Map<string, PreparedEvent[]>();
    if (batch.length === 0) return deferred;
    this.gossipStats.batches++;
    const prepared: { p: PreparedEvent; from: string }[] = [];
    // The batch's checks start PREPARE_AHEAD ahead of the one awaited (those of its head already run).
    const ahead: PrepareWindow = { entries: batch as InboxEntry[], started: 0 };
    for (let i = 0; i < batch.length; i++) {
      this.prepareAhead(room, ahead, i + PREPARE_AHEAD);
      const { from, prepared: pending } = batch[i]!;
      const p = await pending;
      if (p) prepared.push({ p, from });
    }
    // Events whose prev events are known (or come earlier in the batch) go in together; the others
    // are ingested with their sender, from which their missing history is fetched.
    const ready: PreparedEvent[] = [];
    const readyOrigin = prepared[0]?.from ?? '';
    const waiting = new Map<string, PreparedEvent[]>();
    const seen = new Set<string>();
    for (const { p, from } of prepared.sort((a, b) => a.p.ev.depth - b.p.ev.depth)) {
      const id = p.ev.event_id;
      if (seen.has(id) || room.isDagNode(id)) continue;
      seen.add(id);
      if (p.ev.prev_events.every((prev) => room.isDagNode(prev) || seen.has(prev))) ready.push(p);
      else {
        const list = waiting.get(from);
        if (list) list.push(p);
        else waiting.set(from, [p]);
      }
    }
    if (ready.length > 0) await ingestPrepared(this, room, ready, { origin: readyOrigin, source: 'live', fetchMissing: true });
    for (const [from, list] of waiting) {
      const outcome = await ingestPrepared(this, room, list, { origin: from, source: 'live', fetchMissing: true });
      if (outcome.deferred.length > 0) deferred.set(from, outcome.deferred);
    }
    return deferred;
  }

  /** Starts the checks of `box`'s entries up to the first `upTo` (those already started are left as they are). */
  private prepareAhead(room: Room, box: PrepareWindow, upTo: number): void {
    const end = Math.min(upTo, box.entries.length);
    for (let i = box.started; i < end; i++) {
      const entry = box.entries[i]!;
      if (entry.prepared) continue;
      const prepared = startPreparing(this, room, [entry.raw], {})[0]!;
      entry.prepared = prepared;
      entry.raw = undefined; // the preparation holds it now
      // Latency breakdown (bench/latency.ts): when the gossip arrived, and when its checks were done.
      const arrived = entry.arrived;
      if (arrived) {
        void prepared.then((p) => {
          if (!p) return;
          traceMark(p.ev.event_id, 'received', arrived);
          traceMark(p.ev.event_id, 'verified');
        });
      }
    }
    box.started = Math.max(box.started, end);
  }

  /** Broadcast PDUs of a room waiting in its inbox (for progress reports). */
  inboxSize(roomId: string): number {
    return this.inbox.get(roomId)?.entries.length ?? 0;
  }

  queuedCopy(raw: unknown): JsonObject | undefined {
    if (!isJsonObject(raw) || typeof raw.room_id !== 'string') return undefined;
    const box = this.inbox.get(raw.room_id);
    if (!box) return undefined;
    for (const sig of senderSignatures(raw).slice(0, INDEXED_SIGNATURES)) {
      const queued = box.bySignature.get(sig)?.pdu;
      if (queued && samePdu(raw, queued)) return queued;
    }
    return undefined;
  }

  broadcastsBefore(roomId: string): Promise<void> | undefined {
    const progress = this.inboxProgress.get(roomId);
    if (!progress || progress.ingested >= progress.queued) return undefined;
    const upTo = progress.queued;
    return new Promise((resolve) => {
      // Never wait forever: past BROADCASTS_WAIT_MS the transaction goes ahead as it would have.
      const timer = this.clock.setTimeout(resolve, BROADCASTS_WAIT_MS);
      progress.waiters.push({
        upTo,
        resolve: () => {
          this.clock.clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  private progressOf(roomId: string) {
    let progress = this.inboxProgress.get(roomId);
    if (!progress) {
      progress = { queued: 0, ingested: 0, waiters: [] };
      this.inboxProgress.set(roomId, progress);
    }
    return progress;
  }

  private ingested(roomId: string, n: number): void {
    const progress = this.progressOf(roomId);
    progress.ingested += n;
    const ready = progress.waiters.filter((w) => w.upTo <= progress.ingested);
    if (ready.length === 0) return;
    progress.waiters = progress.waiters.filter((w) => w.upTo > progress.ingested);
    for (const w of ready) w.resolve();
  }

  /**
   * The peers of this anti-entropy round: reachable servers we share a room
   * with, at most ANTI_ENTROPY_FANOUT of them, taken in turn. Any member can
   * serve any event, so a few peers per round suffice, and a room of 100
   * servers does not have each one query all 99 others every round.
   */
  private antiEntropyPeers(): string[] {
    const inRooms = new Set<string>();
    for (const r of this.rooms.values()) if (r.currentGroup >= 0) for (const s of r.servers) inRooms.add(s);
    const peers = this.transport
      .reachablePeers()
      .filter((p) => inRooms.has(p))
      .sort();
    if (peers.length <= ANTI_ENTROPY_FANOUT) return peers;
    const start = this.antiEntropyCursor % peers.length;
    this.antiEntropyCursor = start + ANTI_ENTROPY_FANOUT;
    return Array.from({ length: ANTI_ENTROPY_FANOUT }, (_, i) => peers[(start + i) % peers.length]!);
  }

  /**
   * Anti-entropy with one peer: compare forward extremities for the rooms
   * we share and pull what we lack (the events, then their missing history
   * through get_missing_events). Any member can serve any event. A periodic
   * round leaves alone a room whose incoming events are still queued for
   * processing: the extremities we lack are then most likely among them,
   * and pulling them again would only add to the backlog (the outbox
   * delivers them durably anyway). A reconnection always compares.
   */
  async catchUp(peer: string, opts: { periodic?: boolean } = {}): Promise<void> {
    if (this.catchingUp.has(peer) || !this.running) return;
    this.catchingUp.add(peer);
    try {
      const shared = [...this.rooms.values()].filter(
        // Only rooms one of our users is joined to: a server that left or was banned stops pulling.
        (r) =>
          r.currentGroup >= 0 &&
          r.servers.has(peer) &&
          r.joinedServers().has(this.serverName) &&
          !(opts.periodic && r.lock.pending > 0 && !r.needsBackfill),
      );
      if (shared.length === 0) return;
      const res = await this.transport.request(peer, { kind: 'extremities', room_ids: shared.map((r) => r.roomId) });
      if (!res.ok) return;
      const rooms = (res.body.rooms ?? {}) as Record<string, unknown>;
      for (const room of shared) {
        if (room.needsBackfill) {
          // An earlier backfill (after a join, or of a gap) was cut short: finish it with this peer.
          await backfillHistory(this, room, peer).catch((err) =>
            this.log('debug', `backfill retry with ${peer} failed`, { room: room.roomId, error: String(err) }),
          );
        }
        const theirs = rooms[room.roomId];
        const unknown = Array.isArray(theirs)
          ? theirs.filter((id): id is string => typeof id === 'string' && !room.isDagNode(id)).slice(0, 20)
          : [];
        // Events parked because their sender did not give their history: this peer may.
        const parked = parkedEvents(room);
        if (unknown.length === 0 && parked.length === 0) continue;
        // Asked side by side, a few at a time: one after the other, each round trip waited for the
        // last, and after a heal (every server busy) that put seconds before the history walk.
        const pdus: unknown[] = [];
        for (let i = 0; i < unknown.length; i += CATCH_UP_PARALLEL) {
          const answers = await Promise.all(
            unknown.slice(i, i + CATCH_UP_PARALLEL).map((id) => this.transport.request(peer, { kind: 'event', event_id: id })),
          );
          for (const ev of answers) if (ev.ok && Array.isArray(ev.body.pdus)) pdus.push(...ev.body.pdus);
        }
        // Verified and their history fetched outside the room's lock; only placement takes it.
        const results: PduResults = {};
        const prepared = await prepareBatch(this, room, pdus, results);
        const fresh = parked.filter((p) => !prepared.some((q) => q.ev.event_id === p.ev.event_id));
        await ingestWithFetch(this, room, [...prepared, ...fresh], { origin: peer, what: 'catch-up' });
      }
    } catch (err) {
      if (!(err instanceof FederationError)) this.log('debug', `catch-up with ${peer} failed`, { error: String(err) });
    } finally {
      this.catchingUp.delete(peer);
    }
  }

  // ---- Accounts ----------------------------------------------------------

  /**
   * Creates a local account `@localpart:<server>`: by default with the tab's
   * one device; `extra` replaces fields (the Client-Server API's accounts
   * start with no device and a password hash).
   */
  async register(localpart: string, displayName?: string, extra: Partial<Pick<AccountRecord, 'devices' | 'password_hash'>> = {}): Promise<string> {
    const err = localpartError(localpart);
    if (err) throw new MatrixError('M_INVALID_USERNAME', err);
    const userId = `@${localpart}:${this.serverName}`;
    if (!isValidUserId(userId)) throw new MatrixError('M_INVALID_USERNAME', `user ID ${userId} is too long`);
    if (this.accounts.has(userId)) throw new MatrixError('M_USER_IN_USE', `${userId} already exists`);
    const now = this.clock.now();
    const account: AccountRecord = {
      user_id: userId,
      display_name: displayName?.trim() || localpart,
      devices: [{ device_id: 'HEARTH', display_name: 'Hearth tab', created_ts: now }],
      created_ts: now,
      ...extra,
    };
    await this.store.write({ accounts: [account] });
    this.accounts.set(userId, account);
    return userId;
  }

  requireLocalUser(userId: string): AccountRecord {
    const a = this.accounts.get(userId);
    if (!a) throw forbidden(`${userId} is not an account on this server`);
    return a;
  }

  requireRoom(roomId: string): Room {
    const room = this.rooms.get(roomId);
    if (!room || room.currentGroup < 0) throw notFound(`this server is not in room ${roomId}`);
    return room;
  }

  /** All the IDs of a request target that may be a user label. */
  static checkUserId(userId: string): void {
    if (!isValidUserId(userId)) throw invalidParam(`${JSON.stringify(userId)} is not a user ID (@name:server)`);
  }
}


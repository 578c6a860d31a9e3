/**
 * The `Store` on IndexedDB, through `idb` (the Hydrogen way: one logical
 * operation = one transaction, one migration function per schema version,
 * errors that name the database and object store).
 *
 * This file uses no platform API beyond the injected `IDBFactory` (default
 * `globalThis.indexedDB`) and the `IDBKeyRange` global. In a browser or worker
 * those are native; under Node, `node.ts` installs fake-indexeddb's classes
 * first (idb recognises IDB objects with `instanceof` against the globals), so
 * the browser bundle never pulls fake-indexeddb in.
 */
import { type DBSchema, type IDBPDatabase, type IDBPTransaction, type StoreNames, unwrap, wrap } from 'idb';
import type { JsonValue } from '../../core/json.ts';
import { type EventChunk, EventLog, chunkEvents, makeChunk, newestCopy, packV1Events } from './event-log.ts';
import {
  type AccountRecord,
  type ClientDataRecord,
  type MediaRecord,
  type OutboxEntry,
  type ReceiptRecord,
  type RoomRecord,
  type StateGroupRecord,
  type Store,
  StoreError,
  type StoredEvent,
  type WriteBatch,
} from './types.ts';

/** The schema at the latest version; migrations below build it step by step. */
export interface HearthDbSchema extends DBSchema {
  /** Out-of-line string keys: server keys, stream counters, settings. */
  meta: { key: string; value: JsonValue };
  accounts: { key: string; value: AccountRecord };
  rooms: { key: string; value: RoomRecord };
  /**
   * Events packed into chunks keyed [room_id, seq] (event-log.ts). No index by
   * event ID: its per-event index entries doubled the cost of a write, and the
   * engine keeps its rooms in memory, so it never looks an event up here.
   */
  events: { key: [string, number]; value: EventChunk };
  /**
   * Keyed [room_id, id] so a room's groups are a primary-key range (no index
   * to maintain on every write) and group ids need only be unique per room.
   */
  state_groups: { key: [string, number]; value: StateGroupRecord };
  /** Keyed [destination, seq]: key order *is* delivery order. */
  outbox: { key: [string, number]; value: OutboxEntry };
  /**
   * Out-of-line key [room_id, user_id, receipt_type, thread_id ?? ''] (a key
   * path cannot express "or ''"); room_id first makes a room's receipts a
   * primary-key range, which serves as the by-room index.
   */
  receipts: { key: [string, string, string, string]; value: ReceiptRecord };
  media: { key: string; value: MediaRecord };
  /** Keyed [user_id, kind, key] (Client-Server API data: account data, filters, transaction IDs). */
  client_data: { key: [string, string, string]; value: ClientDataRecord };
}

export type HearthStoreName = StoreNames<HearthDbSchema>;
type UpgradeTx = IDBPTransaction<HearthDbSchema, HearthStoreName[], 'versionchange'>;
type Migration = (db: IDBPDatabase<HearthDbSchema>, tx: UpgradeTx) => void | Promise<void>;

export const STORE_NAMES: readonly HearthStoreName[] = [
  'meta',
  'accounts',
  'rooms',
  'events',
  'state_groups',
  'outbox',
  'receipts',
  'media',
  'client_data',
];

/**
 * MIGRATIONS[v] upgrades a database from version v to v + 1; the schema
 * version is their count. Adding v2 = appending one function. A migration may
 * return a promise only if it awaits nothing but requests on `tx` (the
 * versionchange transaction commits as soon as it has nothing pending).
 */
export const MIGRATIONS: readonly Migration[] = [
  function v1InitialSchema(db) {
    db.createObjectStore('meta');
    db.createObjectStore('accounts', { keyPath: 'user_id' });
    db.createObjectStore('rooms', { keyPath: 'room_id' });
    // v1 kept one record per event (keyPath event_id, index by_room_stream); v2 replaces it.
    const events = (db as unknown as IDBPDatabase).createObjectStore('events', { keyPath: 'event_id' });
    events.createIndex('by_room_stream', ['room_id', 'stream']);
    db.createObjectStore('state_groups', { keyPath: ['room_id', 'id'] });
    db.createObjectStore('outbox', { keyPath: ['destination', 'seq'] });
    db.createObjectStore('receipts');
    db.createObjectStore('media', { keyPath: 'media_id' });
  },
  async function v2EventChunks(db, tx) {
    // One request per event was the ingest bottleneck: events move into chunks (event-log.ts).
    const rows = (await (tx as unknown as IDBPTransaction<unknown, ['events'], 'versionchange'>)
      .objectStore('events')
      .getAll()) as StoredEvent[];
    db.deleteObjectStore('events');
    const events = db.createObjectStore('events', { keyPath: ['room_id', 'seq'] });
    await Promise.all(packV1Events(rows).map((chunk) => events.put(chunk)));
  },
  async function v3ChunksAsJsonText(_db, tx) {
    // A chunk's events become JSON text (event-log.ts): structured clone of the objects cost the
    // ingesting thread more than anything else in a write. Same keys; the events are unchanged.
    // A chunk holding something JSON cannot represent stays as it is (readers take both forms):
    // refusing it would fail the upgrade and leave the database unopenable.
    const events = tx.objectStore('events');
    const chunks = await events.getAll();
    const converted: EventChunk[] = [];
    for (const c of chunks) {
      if (typeof c.json === 'string') continue;
      try {
        converted.push(makeChunk(c.room_id, c.seq, chunkEvents(c)));
      } catch {
        // kept in the v2 form
      }
    }
    await Promise.all(converted.map((c) => events.put(c)));
  },
  function v4ClientData(db) {
    db.createObjectStore('client_data', { keyPath: ['user_id', 'kind', 'key'] });
  },
];

export const SCHEMA_VERSION = MIGRATIONS.length;

export interface IdbStoreOptions {
  /** The IndexedDB to use (default `globalThis.indexedDB`); tests pass a fresh fake one. */
  indexedDB?: IDBFactory;
  /**
   * Another connection (an older tab that does not close on versionchange)
   * keeps the upgrade waiting. Opening continues once it closes.
   */
  onBlocked?: () => void;
  /**
   * The connection was closed under us: another tab upgrades or deletes the
   * database ('versionchange'), or the browser dropped it ('terminated', e.g.
   * storage eviction). Every later call rejects with a StoreError.
   */
  onClose?: (reason: 'versionchange' | 'terminated') => void;
}

function describe(cause: unknown): string {
  if (typeof cause === 'object' && cause !== null && 'message' in cause) {
    const name = 'name' in cause ? String(cause.name) : 'Error';
    return `${name}: ${String(cause.message)}`;
  }
  return String(cause);
}

function factoryOf(opts: { indexedDB?: IDBFactory } | undefined, database: string): IDBFactory {
  const factory = opts?.indexedDB ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  if (!factory) {
    throw new StoreError('no IndexedDB in this environment (under Node use openNodeStore)', database);
  }
  return factory;
}

/** Resolves/rejects with a raw IDBRequest (for factory requests, which idb's openDB/deleteDB bind to the global). */
function requestDone<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    request.addEventListener('success', () => resolve(request.result));
    request.addEventListener('error', () => reject(request.error));
  });
}

function keyRange(): typeof IDBKeyRange {
  const kr = (globalThis as { IDBKeyRange?: typeof IDBKeyRange }).IDBKeyRange;
  if (!kr) throw new Error('IDBKeyRange is not defined (under Node use openNodeStore)');
  return kr;
}

/** Keys of one room in a store whose key starts with room_id: [roomId] < [roomId, …] < [roomId, []] (arrays sort last). */
function roomPrefix(roomId: string): IDBKeyRange {
  return keyRange().bound([roomId], [roomId, []]);
}

function receiptKey(r: ReceiptRecord): [string, string, string, string] {
  return [r.room_id, r.user_id, r.receipt_type, r.thread_id ?? ''];
}

/**
 * How each part of a batch is written: the store it touches and the raw
 * requests it issues. Raw (unwrapped) requests because a batch can hold
 * thousands of records and idb would build a promise per request; the
 * transaction's `done` is the only completion we wait for.
 */
const BATCH_WRITERS: readonly {
  store: HearthStoreName;
  has(b: WriteBatch): boolean;
  apply(os: IDBObjectStore, b: WriteBatch, log: EventLog, undo: (() => void)[]): void;
}[] = [
  {
    store: 'meta',
    has: (b) => b.meta !== undefined && Object.keys(b.meta).length > 0,
    apply(os, b) {
      for (const [k, v] of Object.entries(b.meta ?? {})) os.put(v, k);
    },
  },
  putAll('accounts', (b) => b.accounts),
  putAll('rooms', (b) => b.rooms),
  putAll('state_groups', (b) => b.stateGroups),
  {
    store: 'events',
    has: (b) => (b.events?.length ?? 0) > 0,
    apply(os, b, log, undo) {
      undo.push(log.write(os, b.events ?? []).undo);
    },
  },
  {
    store: 'outbox',
    has: (b) => (b.outboxDelete?.length ?? 0) > 0 || (b.outboxPut?.length ?? 0) > 0,
    // Deletes first: a batch that acknowledges an entry and queues one under the same key keeps the new one.
    apply(os, b) {
      for (const d of b.outboxDelete ?? []) os.delete([d.destination, d.seq]);
      for (const e of b.outboxPut ?? []) os.put(e);
    },
  },
  {
    store: 'receipts',
    has: (b) => (b.receipts?.length ?? 0) > 0,
    apply(os, b) {
      for (const r of b.receipts ?? []) os.put(r, receiptKey(r));
    },
  },
  {
    store: 'media',
    has: (b) => (b.media?.length ?? 0) > 0 || (b.mediaDelete?.length ?? 0) > 0,
    apply(os, b) {
      for (const id of b.mediaDelete ?? []) os.delete(id);
      for (const m of b.media ?? []) os.put(m);
    },
  },
  {
    store: 'client_data',
    has: (b) => (b.clientData?.length ?? 0) > 0 || (b.clientDataDelete?.length ?? 0) > 0,
    apply(os, b) {
      for (const d of b.clientDataDelete ?? []) os.delete([d.user_id, d.kind, d.key]);
      for (const r of b.clientData ?? []) os.put(r);
    },
  },
];

/** The object stores a room's purge deletes from (WriteBatch.purgeRooms). */
const PURGED_STORES: readonly HearthStoreName[] = ['rooms', 'events', 'state_groups', 'receipts'];

/**
 * Deletes a room's record and every event chunk, state group and receipt
 * keyed under it: one range delete per object store (each keyed by room_id
 * first), in the batch's transaction. Throws (before anything commits) on a
 * room ID that is not a string.
 */
function purgeRoom(tx: IDBTransaction, roomId: string, log: EventLog, undo: (() => void)[]): void {
  if (typeof roomId !== 'string') {
    throw new DOMException(`a purged room needs a string room ID (got ${typeof roomId})`, 'DataError');
  }
  tx.objectStore('rooms').delete(roomId);
  undo.push(log.purge(tx.objectStore('events'), roomPrefix(roomId)).undo);
  tx.objectStore('state_groups').delete(roomPrefix(roomId));
  tx.objectStore('receipts').delete(roomPrefix(roomId));
}

function putAll(store: HearthStoreName, pick: (b: WriteBatch) => readonly unknown[] | undefined) {
  return {
    store,
    has: (b: WriteBatch) => (pick(b)?.length ?? 0) > 0,
    apply(os: IDBObjectStore, b: WriteBatch) {
      for (const r of pick(b) ?? []) os.put(r);
    },
  };
}

/** Runs MIGRATIONS[from..to) in order, synchronously unless a step returns a promise. */
function migrate(db: IDBPDatabase<HearthDbSchema>, tx: UpgradeTx, from: number, to: number): void | Promise<void> {
  for (let v = from; v < to; v++) {
    const step = MIGRATIONS[v];
    if (!step) throw new Error(`no migration from version ${v}`);
    const r = step(db, tx);
    if (r instanceof Promise) return r.then(() => migrate(db, tx, v + 1, to));
  }
  return undefined;
}

async function openDatabase(name: string, opts: IdbStoreOptions | undefined): Promise<IDBPDatabase<HearthDbSchema>> {
  const factory = factoryOf(opts, name);
  let request: IDBOpenDBRequest;
  try {
    request = factory.open(name, SCHEMA_VERSION);
  } catch (e) {
    throw new StoreError(`open failed (${describe(e)})`, name, undefined, { cause: e });
  }
  let migrationError: unknown;
  request.addEventListener('upgradeneeded', (event) => {
    const tx = request.transaction;
    if (!tx) return;
    const fail = (e: unknown) => {
      migrationError = e;
      try {
        tx.abort();
      } catch {
        // already finished: the open request reports the failure
      }
    };
    try {
      const db = wrap(request.result) as unknown as IDBPDatabase<HearthDbSchema>;
      const r = migrate(db, wrap(tx) as unknown as UpgradeTx, event.oldVersion, event.newVersion ?? SCHEMA_VERSION);
      if (r) r.catch(fail);
    } catch (e) {
      fail(e);
    }
  });
  request.addEventListener('blocked', () => opts?.onBlocked?.());
  try {
    const raw = await requestDone(request);
    return wrap(raw) as unknown as IDBPDatabase<HearthDbSchema>;
  } catch (e) {
    const cause = migrationError ?? e;
    const what = migrationError ? 'schema migration' : 'open';
    // VersionError: a newer Hearth (another tab) already upgraded this database.
    throw new StoreError(`${what} to version ${SCHEMA_VERSION} failed (${describe(cause)})`, name, undefined, {
      cause,
    });
  }
}

/** Opens (creating or migrating) the homeserver database `name`. */
export async function openIdbStore(name: string, opts?: IdbStoreOptions): Promise<Store> {
  const db = await openDatabase(name, opts);
  let closed: string | undefined;

  // Close on versionchange so another tab's upgrade (or deleteIdbStore) is
  // not blocked by us; this connection is stale from then on.
  db.addEventListener('versionchange', () => {
    closed = 'closed for a version change by another connection';
    db.close();
    opts?.onClose?.('versionchange');
  });
  db.addEventListener('close', () => {
    closed = 'closed by the browser';
    opts?.onClose?.('terminated');
  });

  const fail = (op: string, store: string | undefined, e: unknown): StoreError =>
    e instanceof StoreError
      ? e
      : new StoreError(closed ? `${op}: database ${closed}` : `${op} failed (${describe(e)})`, name, store, {
          cause: e,
        });

  async function read<T>(store: HearthStoreName, op: string, run: () => Promise<T>): Promise<T> {
    if (closed) throw new StoreError(`${op}: database ${closed}`, name, store);
    try {
      return await run();
    } catch (e) {
      throw fail(op, store, e);
    }
  }

  const log = new EventLog();
  /** A room's last chunk seq, read once per connection (roomEvents normally does it first). */
  const seqReads = new Map<string, Promise<void>>();
  function learnSeq(roomId: string): Promise<void> {
    let p = seqReads.get(roomId);
    if (!p) {
      p = (async () => {
        const cursor = await db.transaction('events').store.openKeyCursor(roomPrefix(roomId), 'prev');
        if (!log.knowsRoom(roomId)) log.setLastSeq(roomId, cursor ? (cursor.key as [string, number])[1] : 0);
      })();
      seqReads.set(roomId, p);
      p.catch(() => seqReads.delete(roomId));
    }
    return p;
  }

  async function write(batch: WriteBatch): Promise<void> {
    const parts = BATCH_WRITERS.filter((w) => w.has(batch));
    const purge = batch.purgeRooms ?? [];
    if (parts.length === 0 && purge.length === 0) return;
    const scope = [...new Set([...(purge.length > 0 ? PURGED_STORES : []), ...parts.map((p) => p.store)])];
    if (closed) throw new StoreError(`write: database ${closed}`, name, scope.join(','));
    const unknownRooms = new Set<string>();
    for (const ev of batch.events ?? []) {
      if (typeof ev?.room_id === 'string' && !log.knowsRoom(ev.room_id)) unknownRooms.add(ev.room_id);
    }
    if (unknownRooms.size > 0) {
      try {
        await Promise.all([...unknownRooms].map(learnSeq));
      } catch (e) {
        throw fail('write', 'events', e);
      }
    }
    const undo: (() => void)[] = [];
    let tx: IDBPTransaction<HearthDbSchema, HearthStoreName[], 'readwrite'>;
    try {
      // Relaxed durability: the transaction commits once the engine's data is
      // in the OS's hands, without waiting for fsync (~7 ms per commit on slow
      // disks, which would cap us near 140 writes/s). Losing the last moments
      // in a power cut is acceptable: events are re-fetched from peers
      // (backfill, missing-events) and the outbox is rebuilt from them.
      tx = db.transaction(scope, 'readwrite', { durability: 'relaxed' });
    } catch (e) {
      throw fail('write', scope.join(','), e);
    }
    const raw = unwrap(tx);
    // Errors that surface asynchronously (constraints, quota) arrive as
    // request error events that bubble to the transaction; remember which store.
    let failedStore: string | undefined;
    raw.addEventListener('error', (ev) => {
      const source = (ev.target as IDBRequest | null)?.source as IDBObjectStore | null | undefined;
      failedStore ??= source?.name;
    });
    let current: HearthStoreName | undefined;
    try {
      // Purges first: a room deleted and written again in one batch (joined again) keeps the new records.
      current = 'rooms';
      for (const roomId of purge) purgeRoom(raw, roomId, log, undo);
      for (const part of parts) {
        current = part.store;
        part.apply(raw.objectStore(part.store), batch, log, undo);
      }
    } catch (e) {
      for (const u of undo) u();
      // A put that throws (value cannot be cloned, key path missing or not a
      // valid key) does NOT abort the transaction by itself: abort it, so
      // nothing written earlier in this batch is committed.
      try {
        raw.abort();
      } catch {
        // already aborting
      }
      await tx.done.catch(() => undefined);
      throw fail('write', current, e);
    }
    try {
      await tx.done;
    } catch (e) {
      for (const u of undo) u();
      throw fail('write', failedStore ?? scope.join(','), e);
    }
  }

  async function usage(): Promise<Record<string, number>> {
    if (closed) throw new StoreError(`usage: database ${closed}`, name);
    const out: Record<string, number> = {};
    let current: string | undefined;
    try {
      const tx = db.transaction([...STORE_NAMES], 'readonly');
      for (const storeName of STORE_NAMES) {
        current = storeName;
        const store = tx.objectStore(storeName);
        const [values, keys] = await Promise.all([store.getAll(), store.getAllKeys()]);
        let bytes = 0;
        // Binary payloads count their byte length instead of JSON's "{"0":…}" rendering.
        // Event chunks hold JSON text: count its characters, not its escaped JSON-in-JSON rendering.
        const replacer = (k: string, v: unknown) => {
          if (ArrayBuffer.isView(v)) {
            bytes += v.byteLength;
            return undefined;
          }
          if (storeName === 'events' && k === 'json' && typeof v === 'string') {
            bytes += v.length;
            return undefined;
          }
          return v;
        };
        for (const v of values) {
          // Not `bytes += JSON.stringify(…)`: that reads `bytes` before the replacer adds to it.
          const json = JSON.stringify(v, replacer)?.length ?? 0;
          bytes += json;
        }
        // Out-of-line keys are stored besides the value.
        if (store.keyPath === null) for (const k of keys) bytes += JSON.stringify(k).length;
        out[storeName] = bytes;
      }
      await tx.done;
    } catch (e) {
      throw fail('usage', current, e);
    }
    return out;
  }

  return {
    name,
    getMeta: (key) => read('meta', 'getMeta', () => db.get('meta', key)),
    listMeta: () =>
      read('meta', 'listMeta', async () => {
        const tx = db.transaction('meta', 'readonly');
        const [keys, values] = await Promise.all([tx.store.getAllKeys(), tx.store.getAll()]);
        await tx.done;
        // A key "deleted" by writing undefined (see WriteBatch.meta) is no entry.
        return Object.fromEntries(keys.flatMap((k, i) => (values[i] === undefined ? [] : [[k, values[i]!]])));
      }),
    listAccounts: () => read('accounts', 'listAccounts', () => db.getAll('accounts')),
    listRooms: () => read('rooms', 'listRooms', () => db.getAll('rooms')),
    getRoom: (roomId) => read('rooms', 'getRoom', () => db.get('rooms', roomId)),
    // A scan of every chunk: for tools and tests (the engine never needs it).
    getEvent: (eventId) => read('events', 'getEvent', async () => newestCopy(await db.getAll('events'), eventId)),
    roomEvents: (roomId) =>
      read('events', 'roomEvents', async () => log.load(roomId, await db.getAll('events', roomPrefix(roomId)))),
    roomStateGroups: (roomId) =>
      read('state_groups', 'roomStateGroups', () => db.getAll('state_groups', roomPrefix(roomId))),
    roomReceipts: (roomId) => read('receipts', 'roomReceipts', () => db.getAll('receipts', roomPrefix(roomId))),
    outbox: () => read('outbox', 'outbox', () => db.getAll('outbox')),
    getMedia: (mediaId) => read('media', 'getMedia', () => db.get('media', mediaId)),
    listMediaIds: () => read('media', 'listMediaIds', () => db.getAllKeys('media')),
    listClientData: () => read('client_data', 'listClientData', () => db.getAll('client_data')),
    write,
    usage,
    async close() {
      closed ??= 'closed';
      db.close();
    },
  };
}

/**
 * Deletes the database `name` (also simulates storage eviction in tests).
 * Open Hearth connections close themselves on the resulting versionchange.
 */
export async function deleteIdbStore(
  name: string,
  opts?: { indexedDB?: IDBFactory; onBlocked?: () => void },
): Promise<void> {
  const factory = factoryOf(opts, name);
  try {
    const request = factory.deleteDatabase(name);
    request.addEventListener('blocked', () => opts?.onBlocked?.());
    await requestDone(request);
  } catch (e) {
    throw new StoreError(`delete failed (${describe(e)})`, name, undefined, { cause: e });
  }
}

/** Names of the databases starting with `prefix` (needs `IDBFactory.databases()`). */
export async function listIdbStores(prefix: string, opts?: { indexedDB?: IDBFactory }): Promise<string[]> {
  const factory = factoryOf(opts, prefix);
  if (typeof factory.databases !== 'function') {
    throw new StoreError('listing databases is not supported here (no IDBFactory.databases())', prefix);
  }
  try {
    const infos = await factory.databases();
    return infos
      .map((i) => i.name)
      .filter((n): n is string => typeof n === 'string' && n.startsWith(prefix))
      .sort();
  } catch (e) {
    throw new StoreError(`listing databases failed (${describe(e)})`, prefix, undefined, { cause: e });
  }
}

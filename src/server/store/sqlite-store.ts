/**
 * The `Store` on SQLite (better-sqlite3), for `hearth serve --data DIR`: the
 * server's key, accounts, rooms, outbox and media survive a restart.
 *
 * Same semantics as the IndexedDB store (idb-store.ts), checked by the same
 * acceptance suite: one `write` = one SQLite transaction (all or nothing);
 * records are JSON text (media bytes a BLOB), refused when JSON would change
 * them; outbox and client-data deletes apply before the batch's puts; receipts
 * are keyed [room_id, user_id, receipt_type, thread_id ?? '']; a room's events
 * come back in stream order; errors are StoreErrors naming the directory and
 * the logical store (the IndexedDB object store names, see STORE_NAMES).
 *
 * One event is one row keyed by event ID (the IndexedDB store packs events
 * into chunks to save per-request round trips, a cost SQLite does not have),
 * so an event written again replaces its only copy: redacted content is gone.
 *
 * A directory belongs to one process at a time: `DIR/LOCK` holds the owner's
 * pid, created exclusively; a lock whose process is gone is taken over.
 * better-sqlite3 is synchronous; every call is short (no call scans more
 * than one room, but getEvent's lookup by key and usage's sums).
 */
import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { JsonValue } from '../../core/json.ts';
import { nonJsonAt } from './event-log.ts';
import { type HearthStoreName, STORE_NAMES } from './idb-store.ts';
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

type Db = Database.Database;

/**
 * SQLITE_MIGRATIONS[v] upgrades the database from version v to v + 1 (the
 * version lives in the `schema_version` table). Key columns have no declared
 * type, so a key keeps its JavaScript type (numbers sort before strings, as
 * IndexedDB keys do); every record is whole in its `json` column.
 */
const SQLITE_MIGRATIONS: readonly ((db: Db) => void)[] = [
  function v1InitialSchema(db) {
    db.exec(`
      CREATE TABLE meta (key PRIMARY KEY, json TEXT NOT NULL) WITHOUT ROWID;
      CREATE TABLE accounts (user_id PRIMARY KEY, json TEXT NOT NULL) WITHOUT ROWID;
      CREATE TABLE rooms (room_id PRIMARY KEY, json TEXT NOT NULL) WITHOUT ROWID;
      CREATE TABLE events (event_id PRIMARY KEY, room_id NOT NULL, stream, json TEXT NOT NULL);
      CREATE INDEX events_by_room_stream ON events (room_id, stream);
      CREATE TABLE state_groups (room_id, id, json TEXT NOT NULL, PRIMARY KEY (room_id, id)) WITHOUT ROWID;
      CREATE TABLE outbox (destination, seq, json TEXT NOT NULL, PRIMARY KEY (destination, seq)) WITHOUT ROWID;
      CREATE TABLE receipts (room_id, user_id, receipt_type, thread_id, json TEXT NOT NULL,
        PRIMARY KEY (room_id, user_id, receipt_type, thread_id)) WITHOUT ROWID;
      CREATE TABLE media (media_id PRIMARY KEY, json TEXT NOT NULL, bytes BLOB NOT NULL);
      CREATE TABLE client_data (user_id, kind, key, json TEXT NOT NULL, PRIMARY KEY (user_id, kind, key)) WITHOUT ROWID;
    `);
  },
];

export const SQLITE_SCHEMA_VERSION = SQLITE_MIGRATIONS.length;

/** The lock file that keeps a second process off a data directory. */
export const LOCK_FILE = 'LOCK';
export const DATABASE_FILE = 'hearth.sqlite';

function describe(cause: unknown): string {
  if (typeof cause === 'object' && cause !== null && 'message' in cause) {
    const name = 'name' in cause ? String(cause.name) : 'Error';
    return `${name}: ${String(cause.message)}`;
  }
  return String(cause);
}

function errno(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e ? String(e.code) : undefined;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists, owned by someone else.
    return errno(e) === 'EPERM';
  }
}

/**
 * Takes `dir`'s lock: creates LOCK exclusively with our pid. A LOCK whose
 * process is alive (this one included: one Store per directory) refuses;
 * one left by a process that died is removed and taken over. Returns the
 * release function.
 */
function acquireLock(dir: string): () => void {
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; ; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx');
    } catch (e) {
      if (errno(e) !== 'EEXIST') throw new StoreError(`cannot create lock file ${path} (${describe(e)})`, dir, undefined, { cause: e });
      let text = '';
      try {
        text = readFileSync(path, 'utf8');
      } catch (readError) {
        if (errno(readError) === 'ENOENT' && attempt < 5) continue; // released meanwhile
        throw new StoreError(`cannot read lock file ${path} (${describe(readError)})`, dir, undefined, { cause: readError });
      }
      const pid = Number.parseInt(text.trim(), 10);
      if (Number.isSafeInteger(pid) && pid > 0 && processAlive(pid)) {
        throw new StoreError(
          `data directory in use by process ${pid}${pid === process.pid ? ' (this one)' : ''} (lock file ${path}; delete it only if no Hearth server runs there)`,
          dir,
        );
      }
      // Left by a process that is gone (or half-written by one that died creating it): take it over.
      if (attempt >= 5) throw new StoreError(`cannot take over the stale lock file ${path}`, dir);
      try {
        unlinkSync(path);
      } catch (unlinkError) {
        if (errno(unlinkError) !== 'ENOENT') {
          throw new StoreError(`cannot remove the stale lock file ${path} (${describe(unlinkError)})`, dir, undefined, {
            cause: unlinkError,
          });
        }
      }
      continue;
    }
    try {
      writeSync(fd, `${process.pid}\n`);
    } finally {
      closeSync(fd);
    }
    return () => {
      try {
        if (readFileSync(path, 'utf8').trim() === String(process.pid)) unlinkSync(path);
      } catch {
        // already gone
      }
    };
  }
}

/** Runs the migrations from the stored version up to SQLITE_SCHEMA_VERSION, in one transaction. */
function migrate(db: Db, dir: string): void {
  db.transaction(() => {
    db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
    const row = db.prepare('SELECT version FROM schema_version').get() as { version: number } | undefined;
    const from = row?.version ?? 0;
    if (from > SQLITE_SCHEMA_VERSION) {
      throw new StoreError(
        `the database is at schema version ${from}, newer than this Hearth's ${SQLITE_SCHEMA_VERSION}: upgrade Hearth`,
        dir,
      );
    }
    for (let v = from; v < SQLITE_SCHEMA_VERSION; v++) SQLITE_MIGRATIONS[v]!(db);
    if (row === undefined) db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(SQLITE_SCHEMA_VERSION);
    else if (from !== SQLITE_SCHEMA_VERSION) db.prepare('UPDATE schema_version SET version = ?').run(SQLITE_SCHEMA_VERSION);
  }).immediate();
}

/** A record as stored: JSON text, refused (as IndexedDB refuses what it cannot clone) if JSON would change it. */
function jsonText(value: unknown, what: string): string {
  const bad = nonJsonAt(value, '');
  if (bad !== undefined) throw new TypeError(`${what} holds ${bad}: not JSON data, so it cannot be stored`);
  return JSON.stringify(value);
}

type Key = string | number;

/** A valid key part (what IndexedDB's key paths would accept of these records: a string or a number). */
function key(record: unknown, field: string, what: string): Key {
  const v = (record as Record<string, unknown> | null | undefined)?.[field];
  if (typeof v === 'string' || (typeof v === 'number' && !Number.isNaN(v))) return v;
  throw new TypeError(`${what} needs a string or number ${field} as its key (got ${typeof v})`);
}

/** Buffers bind as BLOBs; other views are wrapped without copying. */
function blob(bytes: unknown, what: string): Buffer {
  if (!ArrayBuffer.isView(bytes)) throw new TypeError(`${what} needs bytes as a Uint8Array (got ${typeof bytes})`);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * How each part of a batch becomes rows, in the IndexedDB store's order (so
 * a bad batch names the same store): `rows` validates and serialises before
 * the transaction starts; `apply` runs inside it.
 */
interface BatchPart {
  store: HearthStoreName;
  rows(b: WriteBatch): { del: unknown[][]; put: unknown[][] };
}

const none: unknown[][] = [];

const BATCH_PARTS: readonly BatchPart[] = [
  {
    store: 'meta',
    rows(b) {
      const put: unknown[][] = [];
      const del: unknown[][] = [];
      for (const [k, v] of Object.entries(b.meta ?? {})) {
        // IndexedDB stores undefined and reads it back as undefined: the same as no record.
        if (v === undefined) del.push([k]);
        else put.push([k, jsonText(v, `meta ${k}`)]);
      }
      return { del, put };
    },
  },
  keyed('accounts', (b) => b.accounts, ['user_id']),
  keyed('rooms', (b) => b.rooms, ['room_id']),
  keyed('state_groups', (b) => b.stateGroups, ['room_id', 'id']),
  {
    store: 'events',
    rows(b) {
      const put = (b.events ?? []).map((ev: StoredEvent) => {
        const what = `event record ${String(ev?.event_id)}`;
        if (typeof ev?.event_id !== 'string' || typeof ev.room_id !== 'string') {
          throw new TypeError(
            `an event record needs string event_id and room_id (got ${typeof ev?.event_id} and ${typeof ev?.room_id})`,
          );
        }
        return [ev.event_id, ev.room_id, typeof ev.stream === 'number' ? ev.stream : null, jsonText(ev, what)];
      });
      return { del: none, put };
    },
  },
  {
    store: 'outbox',
    rows(b) {
      // Deletes run first: a batch that acknowledges an entry and queues one under the same key keeps the new one.
      const del = (b.outboxDelete ?? []).map((d) => [key(d, 'destination', 'an outbox delete'), key(d, 'seq', 'an outbox delete')]);
      const put = (b.outboxPut ?? []).map((e: OutboxEntry) => [
        key(e, 'destination', 'an outbox entry'),
        key(e, 'seq', 'an outbox entry'),
        jsonText(e, 'an outbox entry'),
      ]);
      return { del, put };
    },
  },
  {
    store: 'receipts',
    rows(b) {
      const put = (b.receipts ?? []).map((r: ReceiptRecord) => [
        key(r, 'room_id', 'a receipt'),
        key(r, 'user_id', 'a receipt'),
        key(r, 'receipt_type', 'a receipt'),
        r?.thread_id === undefined ? '' : key(r, 'thread_id', 'a receipt'),
        jsonText(r, 'a receipt'),
      ]);
      return { del: none, put };
    },
  },
  {
    store: 'media',
    rows(b) {
      const put = (b.media ?? []).map((m: MediaRecord) => {
        const what = `media ${String(m?.media_id)}`;
        const { bytes, ...rest } = m;
        return [key(m, 'media_id', what), jsonText(rest, what), blob(bytes, what)];
      });
      const del = (b.mediaDelete ?? []).map((id) => {
        if (typeof id !== 'string') throw new TypeError(`a media delete names ${typeof id}, not a media ID`);
        return [id];
      });
      return { del, put };
    },
  },
  {
    store: 'client_data',
    rows(b) {
      const fields = ['user_id', 'kind', 'key'];
      const del = (b.clientDataDelete ?? []).map((d) => fields.map((f) => key(d, f, 'a client-data delete')));
      const put = (b.clientData ?? []).map((r: ClientDataRecord) => [
        ...fields.map((f) => key(r, f, 'a client-data record')),
        jsonText(r, 'a client-data record'),
      ]);
      return { del, put };
    },
  },
];

/** A store whose records are their key fields plus the record as JSON. */
function keyed<T>(store: HearthStoreName, pick: (b: WriteBatch) => readonly T[] | undefined, fields: string[]): BatchPart {
  return {
    store,
    rows(b) {
      const what = `a ${store} record`;
      const put = (pick(b) ?? []).map((r) => [...fields.map((f) => key(r, f, what)), jsonText(r, what)]);
      return { del: none, put };
    },
  };
}

/** Columns of each table (key columns, then the record) and its primary key, for the upsert and delete statements. */
const TABLES: Record<HearthStoreName, { columns: string[]; key: string[] }> = {
  meta: { columns: ['key', 'json'], key: ['key'] },
  accounts: { columns: ['user_id', 'json'], key: ['user_id'] },
  rooms: { columns: ['room_id', 'json'], key: ['room_id'] },
  events: { columns: ['event_id', 'room_id', 'stream', 'json'], key: ['event_id'] },
  state_groups: { columns: ['room_id', 'id', 'json'], key: ['room_id', 'id'] },
  outbox: { columns: ['destination', 'seq', 'json'], key: ['destination', 'seq'] },
  receipts: { columns: ['room_id', 'user_id', 'receipt_type', 'thread_id', 'json'], key: ['room_id', 'user_id', 'receipt_type', 'thread_id'] },
  media: { columns: ['media_id', 'json', 'bytes'], key: ['media_id'] },
  client_data: { columns: ['user_id', 'kind', 'key', 'json'], key: ['user_id', 'kind', 'key'] },
};

/** An upsert (not INSERT OR REPLACE: that deletes and reinserts, giving a rewritten event a new place among equal streams). */
function upsertSql(table: HearthStoreName): string {
  const { columns, key: pk } = TABLES[table];
  const rest = columns.filter((c) => !pk.includes(c));
  return `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})
    ON CONFLICT (${pk.join(', ')}) DO UPDATE SET ${rest.map((c) => `${c} = excluded.${c}`).join(', ')}`;
}

function deleteSql(table: HearthStoreName): string {
  return `DELETE FROM ${table} WHERE ${TABLES[table].key.map((c) => `${c} = ?`).join(' AND ')}`;
}

function parseAll<T>(rows: unknown[]): T[] {
  return (rows as { json: string }[]).map((r) => JSON.parse(r.json) as T);
}

function parseOne<T>(row: unknown): T | undefined {
  return row === undefined ? undefined : (JSON.parse((row as { json: string }).json) as T);
}

/**
 * SQLite's page cache per database, in KiB. better-sqlite3 builds SQLite with
 * 16 MB (SQLite's own default is 2 MB), and a database holding a 10,000-event
 * room filled it: 16 MB of native memory per homeserver, more than its whole
 * in-memory room (scenarios/scale-100). The server reads the store once, at
 * start (rooms are kept in memory); after that the cache serves only writes —
 * the B-trees' inner pages and the pages being appended to, and the event-ID
 * index (~0.6 MB per 10,000 events) — so SQLite's default is enough, and a
 * page it drops is re-read from the OS's file cache.
 */
export const PAGE_CACHE_KIB = 2048;

/**
 * Opens (creating it and the directory if needed, migrating an older schema)
 * the homeserver database in `dir`. The Store's `name` is the directory's
 * absolute path. Refuses with a StoreError if another live process (or
 * another open Store in this one) has the directory.
 */
export async function openSqliteStore(dir: string): Promise<Store> {
  const name = resolve(dir);
  try {
    mkdirSync(name, { recursive: true });
  } catch (e) {
    throw new StoreError(`cannot create the data directory (${describe(e)})`, name, undefined, { cause: e });
  }
  const release = acquireLock(name);
  let opened: Db | undefined;
  try {
    opened = new Database(join(name, DATABASE_FILE));
    const db = opened;
    // WAL: readers never block the writer and a commit appends to one file
    // instead of rewriting pages through a rollback journal. synchronous=NORMAL
    // (safe with WAL): a commit no longer waits for fsync, only checkpoints do,
    // so writes are not capped by the disk's fsync rate (several ms each on
    // slow disks). A process crash loses nothing committed; a power cut may
    // lose the last commits but never corrupts the database — the trade-off the
    // IndexedDB store makes with durability 'relaxed' (lost events are
    // re-fetched from peers, the outbox is rebuilt from them).
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = OFF');
    db.pragma(`cache_size = -${PAGE_CACHE_KIB}`);
    migrate(db, name);
  } catch (e) {
    opened?.close();
    release();
    if (e instanceof StoreError) throw e;
    throw new StoreError(`open failed (${describe(e)})`, name, undefined, { cause: e });
  }
  const db = opened;

  const upserts = new Map<HearthStoreName, Database.Statement>();
  const deletes = new Map<HearthStoreName, Database.Statement>();
  for (const t of STORE_NAMES) {
    upserts.set(t, db.prepare(upsertSql(t)));
    deletes.set(t, db.prepare(deleteSql(t)));
  }
  /** A room's purge (WriteBatch.purgeRooms): its record and everything filed under it. */
  const purgeRoom: [HearthStoreName, Database.Statement][] = (['rooms', 'events', 'state_groups', 'receipts'] as const).map((t) => [
    t,
    db.prepare(`DELETE FROM ${t} WHERE room_id = ?`),
  ]);
  const q = {
    meta: db.prepare('SELECT json FROM meta WHERE key = ?'),
    allMeta: db.prepare('SELECT key, json FROM meta ORDER BY key'),
    mediaIds: db.prepare('SELECT media_id FROM media ORDER BY media_id'),
    accounts: db.prepare('SELECT json FROM accounts ORDER BY user_id'),
    rooms: db.prepare('SELECT json FROM rooms ORDER BY room_id'),
    room: db.prepare('SELECT json FROM rooms WHERE room_id = ?'),
    event: db.prepare('SELECT json FROM events WHERE event_id = ?'),
    roomEvents: db.prepare('SELECT json FROM events WHERE room_id = ? ORDER BY stream, rowid'),
    stateGroups: db.prepare('SELECT json FROM state_groups WHERE room_id = ? ORDER BY id'),
    receipts: db.prepare('SELECT json FROM receipts WHERE room_id = ? ORDER BY user_id, receipt_type, thread_id'),
    outbox: db.prepare('SELECT json FROM outbox ORDER BY destination, seq'),
    media: db.prepare('SELECT json, bytes FROM media WHERE media_id = ?'),
    clientData: db.prepare('SELECT json FROM client_data ORDER BY user_id, kind, key'),
  };

  let closed = false;

  async function read<T>(store: HearthStoreName, op: string, run: () => T): Promise<T> {
    if (closed) throw new StoreError(`${op}: database closed`, name, store);
    try {
      return run();
    } catch (e) {
      throw new StoreError(`${op} failed (${describe(e)})`, name, store, { cause: e });
    }
  }

  async function write(batch: WriteBatch): Promise<void> {
    let current: HearthStoreName | undefined;
    const work: { store: HearthStoreName; del: unknown[][]; put: unknown[][] }[] = [];
    try {
      for (const part of BATCH_PARTS) {
        current = part.store;
        const { del, put } = part.rows(batch);
        if (del.length > 0 || put.length > 0) work.push({ store: part.store, del, put });
      }
    } catch (e) {
      throw new StoreError(`write failed (${describe(e)})`, name, current, { cause: e });
    }
    const purge = batch.purgeRooms ?? [];
    for (const roomId of purge) {
      if (typeof roomId !== 'string') throw new StoreError(`write failed (a purged room needs a string room ID, got ${typeof roomId})`, name, 'rooms');
    }
    if (work.length === 0 && purge.length === 0) return;
    if (closed) throw new StoreError('write: database closed', name, [...(purge.length > 0 ? ['rooms'] : []), ...work.map((w) => w.store)].join(','));
    try {
      db.transaction(() => {
        // Purges first: a room deleted and written again in one batch (joined again) keeps the new records.
        for (const roomId of purge) {
          for (const [store, statement] of purgeRoom) {
            current = store;
            statement.run(roomId);
          }
        }
        for (const w of work) {
          current = w.store;
          const del = deletes.get(w.store)!;
          const put = upserts.get(w.store)!;
          for (const args of w.del) del.run(...args);
          for (const args of w.put) put.run(...args);
        }
      })();
    } catch (e) {
      throw new StoreError(`write failed (${describe(e)})`, name, current, { cause: e });
    }
  }

  return {
    name,
    getMeta: (k) => read('meta', 'getMeta', () => parseOne<JsonValue>(q.meta.get(k))),
    listMeta: () =>
      read('meta', 'listMeta', () =>
        Object.fromEntries((q.allMeta.all() as { key: string; json: string }[]).map((r) => [r.key, JSON.parse(r.json) as JsonValue])),
      ),
    listMediaIds: () => read('media', 'listMediaIds', () => (q.mediaIds.all() as { media_id: string }[]).map((r) => r.media_id)),
    listAccounts: () => read('accounts', 'listAccounts', () => parseAll<AccountRecord>(q.accounts.all())),
    listRooms: () => read('rooms', 'listRooms', () => parseAll<RoomRecord>(q.rooms.all())),
    getRoom: (roomId) => read('rooms', 'getRoom', () => parseOne<RoomRecord>(q.room.get(roomId))),
    getEvent: (eventId) => read('events', 'getEvent', () => parseOne<StoredEvent>(q.event.get(eventId))),
    roomEvents: (roomId) => read('events', 'roomEvents', () => parseAll<StoredEvent>(q.roomEvents.all(roomId))),
    roomStateGroups: (roomId) =>
      read('state_groups', 'roomStateGroups', () => parseAll<StateGroupRecord>(q.stateGroups.all(roomId))),
    roomReceipts: (roomId) => read('receipts', 'roomReceipts', () => parseAll<ReceiptRecord>(q.receipts.all(roomId))),
    outbox: () => read('outbox', 'outbox', () => parseAll<OutboxEntry>(q.outbox.all())),
    getMedia: (mediaId) =>
      read('media', 'getMedia', () => {
        const row = q.media.get(mediaId) as { json: string; bytes: Buffer } | undefined;
        if (!row) return undefined;
        // A plain Uint8Array copy, as IndexedDB returns (not a Buffer over SQLite's memory).
        return { ...(JSON.parse(row.json) as Omit<MediaRecord, 'bytes'>), bytes: new Uint8Array(row.bytes) };
      }),
    listClientData: () => read('client_data', 'listClientData', () => parseAll<ClientDataRecord>(q.clientData.all())),
    write,
    async usage() {
      const out: Record<string, number> = {};
      for (const t of STORE_NAMES) {
        // length() counts a TEXT's characters and a BLOB's bytes; meta's key is out of line (as in IndexedDB).
        const cols = t === 'meta' ? 'length(key) + length(json)' : t === 'media' ? 'length(json) + length(bytes)' : 'length(json)';
        out[t] = await read(t, 'usage', () => (db.prepare(`SELECT coalesce(sum(${cols}), 0) AS n FROM ${t}`).get() as { n: number }).n);
      }
      return out;
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        db.close();
      } finally {
        release();
      }
    },
  };
}

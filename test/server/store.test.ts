/**
 * The Store acceptance suite on fake-indexeddb (a fresh IDBFactory per test,
 * so tests share nothing), plus IndexedDB-specific checks: schema, migrations,
 * versionchange handling, deletion, durability hint.
 */
import { IDBDatabase, IDBFactory } from 'fake-indexeddb';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { type EventChunk, chunkEvents } from '../../src/server/store/event-log.ts';
import { MIGRATIONS, SCHEMA_VERSION, STORE_NAMES } from '../../src/server/store/idb-store.ts';
import { deleteNodeStore, listNodeStores, openNodeStore } from '../../src/server/store/node.ts';
import { type StoredEvent, StoreError } from '../../src/server/store/types.ts';
import { storeAcceptanceSuite } from './store-suite.ts';

let factory: IDBFactory;
beforeEach(() => {
  factory = new IDBFactory();
});

storeAcceptanceSuite('fake-indexeddb', (dbName) => openNodeStore(dbName, { indexedDB: factory }));

/** Opens the raw database on the test's factory (idb's openDB only knows the global indexedDB). */
function rawOpen(name: string, version?: number): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = factory.open(name, version);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
    req.onupgradeneeded = (ev) => {
      // Simulates a newer Hearth's v2 migration.
      if (ev.oldVersion >= 1) req.result.createObjectStore('v2_extra');
    };
  });
}

/** A database as an older Hearth left it: the stores every version has, and `events` as that version had it. */
function oldSchema(name: string, version: number, events: (db: IDBDatabase) => void): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = factory.open(name, version);
    req.onupgradeneeded = () => {
      const db = req.result;
      for (const n of ['meta', 'receipts']) db.createObjectStore(n);
      db.createObjectStore('accounts', { keyPath: 'user_id' });
      db.createObjectStore('rooms', { keyPath: 'room_id' });
      events(db);
      db.createObjectStore('state_groups', { keyPath: ['room_id', 'id'] });
      db.createObjectStore('outbox', { keyPath: ['destination', 'seq'] });
      db.createObjectStore('media', { keyPath: 'media_id' });
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

describe('IndexedDB store specifics', () => {
  it('creates the current schema: stores and key paths (event chunks keyed by room and seq)', async () => {
    const store = await openNodeStore('schema', { indexedDB: factory });
    await store.close();
    const db = await rawOpen('schema');
    expect(db.version).toBe(SCHEMA_VERSION);
    expect(SCHEMA_VERSION).toBe(MIGRATIONS.length);
    expect([...db.objectStoreNames].sort()).toEqual([...STORE_NAMES].sort());
    const tx = db.transaction([...db.objectStoreNames]);
    expect(tx.objectStore('meta').keyPath).toBeNull();
    expect(tx.objectStore('accounts').keyPath).toBe('user_id');
    expect(tx.objectStore('rooms').keyPath).toBe('room_id');
    expect(tx.objectStore('events').keyPath).toEqual(['room_id', 'seq']);
    expect([...tx.objectStore('events').indexNames]).toEqual([]);
    expect(tx.objectStore('state_groups').keyPath).toEqual(['room_id', 'id']);
    expect(tx.objectStore('outbox').keyPath).toEqual(['destination', 'seq']);
    expect(tx.objectStore('receipts').keyPath).toBeNull();
    expect(tx.objectStore('media').keyPath).toBe('media_id');
    db.close();
  });

  it('migrates a v1 database (one record per event) to event chunks, keeping every event', async () => {
    const v1 = await oldSchema('v1', 1, (db) =>
      db.createObjectStore('events', { keyPath: 'event_id' }).createIndex('by_room_stream', ['room_id', 'stream']),
    );
    const ev = (room: string, stream: number): StoredEvent => ({
      event_id: `$${room}-${stream}`,
      room_id: room,
      stream,
      status: 'accepted',
      pdu: { room_id: room, sender: '@a:x', type: 'm.room.message', content: { body: `#${stream}` } } as unknown as StoredEvent['pdu'],
    });
    const rows = [...Array.from({ length: 150 }, (_, i) => ev('!a:x', 150 - i)), ev('!b:x', 7)];
    await new Promise<void>((resolve, reject) => {
      const tx = v1.transaction('events', 'readwrite');
      for (const r of rows) tx.objectStore('events').put(r);
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
    });
    v1.close();
    const store = await openNodeStore('v1', { indexedDB: factory });
    const a = await store.roomEvents('!a:x');
    expect(a.map((e) => e.stream)).toEqual(Array.from({ length: 150 }, (_, i) => i + 1));
    expect(await store.roomEvents('!b:x')).toEqual([ev('!b:x', 7)]);
    expect(await store.getEvent('$!a:x-42')).toEqual(ev('!a:x', 42));
    await store.write({ events: [ev('!a:x', 151), { ...ev('!a:x', 3), status: 'rejected' }] });
    expect((await store.roomEvents('!a:x')).map((e) => e.stream)).toHaveLength(151);
    expect((await store.getEvent('$!a:x-3'))?.status).toBe('rejected');
    await store.close();
  });

  it('migrates v2 event chunks (objects) to JSON text, keeping every event', async () => {
    const v2 = await oldSchema('v2', 2, (db) => db.createObjectStore('events', { keyPath: ['room_id', 'seq'] }));
    const ev = (stream: number): StoredEvent => ({
      event_id: `$e${stream}`,
      room_id: '!a:x',
      stream,
      status: 'accepted',
      state_group: stream,
      pdu: { room_id: '!a:x', sender: '@a:x', type: 'm.room.message', content: { body: `#${stream}` } } as unknown as StoredEvent['pdu'],
    });
    await new Promise<void>((resolve, reject) => {
      const tx = v2.transaction('events', 'readwrite');
      tx.objectStore('events').put({ room_id: '!a:x', seq: 1, events: [ev(1), ev(2)] });
      tx.objectStore('events').put({ room_id: '!a:x', seq: 2, events: [ev(3)] });
      // Not representable as JSON (structured clone kept it): stays a v2 chunk rather than fail the upgrade.
      tx.objectStore('events').put({ room_id: '!b:x', seq: 1, events: [{ ...ev(9), room_id: '!b:x', state_group: Number.NaN }] });
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
    });
    v2.close();
    const store = await openNodeStore('v2', { indexedDB: factory });
    expect(await store.roomEvents('!a:x')).toEqual([ev(1), ev(2), ev(3)]);
    expect((await store.roomEvents('!b:x'))[0]?.state_group).toBeNaN();
    await store.write({ events: [ev(4)] });
    expect(await store.roomEvents('!a:x')).toHaveLength(4);
    await store.close();
    const raw = await rawOpen('v2');
    const chunks = await new Promise<EventChunk[]>((resolve) => {
      const req = raw.transaction('events').objectStore('events').getAll();
      req.onsuccess = () => resolve(req.result as EventChunk[]);
    });
    raw.close();
    const a = chunks.filter((c) => c.room_id === '!a:x');
    expect(a.map((c) => typeof c.json)).toEqual(['string', 'string', 'string']);
    expect(a.every((c) => c.events === undefined)).toBe(true);
    expect(a.flatMap(chunkEvents)).toEqual([ev(1), ev(2), ev(3), ev(4)]);
    expect(chunks.find((c) => c.room_id === '!b:x')?.events).toHaveLength(1);
  });

  it('an event written again leaves no old copy behind (redacted content is purged), across reopen', async () => {
    const store = await openNodeStore('purge', { indexedDB: factory });
    const room = '!p:x';
    const ev = (i: number, body: string): StoredEvent => ({
      event_id: `$p${i}`,
      room_id: room,
      stream: i,
      status: 'accepted',
      pdu: { room_id: room, type: 'm.room.message', content: { body } } as unknown as StoredEvent['pdu'],
    });
    await store.roomEvents(room);
    await store.write({ events: Array.from({ length: 10 }, (_, i) => ev(i, `secret ${i}`)) });
    await store.write({ events: [{ ...ev(4, ''), pdu: { ...ev(4, '').pdu, content: {} }, redacted_by: '$r' }] });
    await store.close();
    const again = await openNodeStore('purge', { indexedDB: factory });
    const events = await again.roomEvents(room);
    expect(events).toHaveLength(10);
    expect(events.find((e) => e.event_id === '$p4')?.redacted_by).toBe('$r');
    // Redact again after the reopen (the connection learns locations from roomEvents).
    await again.write({ events: [{ ...ev(5, ''), pdu: { ...ev(5, '').pdu, content: {} }, redacted_by: '$r2' }] });
    await again.close();
    const raw = await rawOpen('purge');
    const chunks = await new Promise<unknown[]>((resolve) => {
      const req = raw.transaction('events').objectStore('events').getAll();
      req.onsuccess = () => resolve(req.result);
    });
    raw.close();
    const dump = JSON.stringify(chunks);
    expect(dump).not.toContain('secret 4');
    expect(dump).not.toContain('secret 5');
    expect(dump).toContain('secret 6');
    const stored = (chunks as EventChunk[]).flatMap(chunkEvents);
    expect(stored.filter((e) => e.event_id === '$p4')).toHaveLength(1);
  });

  it('opening an existing database fires no upgrade', async () => {
    await (await openNodeStore('again', { indexedDB: factory })).close();
    const upgrade = vi.fn();
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const req = factory.open('again', SCHEMA_VERSION);
      req.onupgradeneeded = upgrade;
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    db.close();
    expect(upgrade).not.toHaveBeenCalled();
    const store = await openNodeStore('again', { indexedDB: factory });
    expect(await store.listRooms()).toEqual([]);
    await store.close();
  });

  it('closes on versionchange so another tab can upgrade, then rejects with StoreError', async () => {
    const onClose = vi.fn();
    const store = await openNodeStore('upgrade', { indexedDB: factory, onClose });
    await store.write({ meta: { a: 1 } });
    // Would hang (blocked) if the store kept its connection open.
    const newer = await rawOpen('upgrade', SCHEMA_VERSION + 1);
    expect(onClose).toHaveBeenCalledWith('versionchange');
    const err = await store.getMeta('a').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).message).toMatch(/version change/);
    newer.close();
    // This (older) code cannot open a database a newer version has upgraded.
    const tooOld = await openNodeStore('upgrade', { indexedDB: factory }).catch((e: unknown) => e);
    expect(tooOld).toBeInstanceOf(StoreError);
    expect((tooOld as StoreError).database).toBe('upgrade');
  });

  it('deleteNodeStore removes the data (storage eviction) and closes open stores', async () => {
    const onClose = vi.fn();
    const store = await openNodeStore('evict', { indexedDB: factory, onClose });
    await store.write({ meta: { a: 1 } });
    await deleteNodeStore('evict', { indexedDB: factory });
    expect(onClose).toHaveBeenCalledWith('versionchange');
    const fresh = await openNodeStore('evict', { indexedDB: factory });
    expect(await fresh.getMeta('a')).toBeUndefined();
    await fresh.close();
  });

  it('lists databases by prefix', async () => {
    for (const n of ['hearth-b', 'hearth-a', 'other']) await (await openNodeStore(n, { indexedDB: factory })).close();
    expect(await listNodeStores('hearth-', { indexedDB: factory })).toEqual(['hearth-a', 'hearth-b']);
  });

  it('writes in one relaxed-durability readwrite transaction over only the touched stores', async () => {
    const store = await openNodeStore('durability', { indexedDB: factory });
    const spy = vi.spyOn(IDBDatabase.prototype, 'transaction');
    try {
      await store.write({ meta: { a: 1 }, outboxPut: [{ destination: 'd', seq: 1, kind: 'pdu', event_id: '$e' }] });
      expect(spy).toHaveBeenCalledTimes(1);
      const [names, mode, options] = spy.mock.calls[0] ?? [];
      expect([...(names as string[])].sort()).toEqual(['meta', 'outbox']);
      expect(mode).toBe('readwrite');
      expect(options).toEqual({ durability: 'relaxed' });
    } finally {
      spy.mockRestore();
      await store.close();
    }
  });

  it('the default process-wide factory works too', async () => {
    const name = `default-${Math.random()}`;
    const store = await openNodeStore(name);
    await store.write({ meta: { a: 1 } });
    await store.close();
    const again = await openNodeStore(name);
    expect(await again.getMeta('a')).toBe(1);
    await again.close();
    await deleteNodeStore(name);
  });
});

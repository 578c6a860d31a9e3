/**
 * The Store acceptance suite on fake-indexeddb (a fresh IDBFactory per test,
 * so tests share nothing), plus IndexedDB-specific checks: schema, migrations,
 * versionchange handling, deletion, durability hint.
 */
import { IDBDatabase, IDBFactory } from 'fake-indexeddb';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { MIGRATIONS, SCHEMA_VERSION, STORE_NAMES } from '../../src/server/store/idb-store.ts';
import { deleteNodeStore, listNodeStores, openNodeStore } from '../../src/server/store/node.ts';
import { StoreError } from '../../src/server/store/types.ts';
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

describe('IndexedDB store specifics', () => {
  it('creates the v1 schema: stores, key paths and the by_room_stream index', async () => {
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
    expect(tx.objectStore('events').keyPath).toBe('event_id');
    expect(tx.objectStore('events').index('by_room_stream').keyPath).toEqual(['room_id', 'stream']);
    expect(tx.objectStore('state_groups').keyPath).toEqual(['room_id', 'id']);
    expect(tx.objectStore('outbox').keyPath).toEqual(['destination', 'seq']);
    expect(tx.objectStore('receipts').keyPath).toBeNull();
    expect(tx.objectStore('media').keyPath).toBe('media_id');
    db.close();
  });

  it('opening an existing v1 database fires no upgrade', async () => {
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

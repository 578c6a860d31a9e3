/**
 * The IndexedDB store under Node (tests, CLI, simulator): the same idb code
 * as in the browser, on fake-indexeddb (memory only). Kept apart from
 * idb-store.ts so the browser bundle never imports fake-indexeddb.
 */
import {
  IDBCursor,
  IDBCursorWithValue,
  IDBDatabase,
  IDBFactory,
  IDBIndex,
  IDBKeyRange,
  IDBObjectStore,
  IDBOpenDBRequest,
  IDBRequest,
  IDBTransaction,
  IDBVersionChangeEvent,
} from 'fake-indexeddb';
import { type IdbStoreOptions, deleteIdbStore, listIdbStores, openIdbStore } from './idb-store.ts';
import { StoreError } from './types.ts';
import type { Store } from './types.ts';

const FAKE_CLASSES: Record<string, unknown> = {
  IDBCursor,
  IDBCursorWithValue,
  IDBDatabase,
  IDBFactory,
  IDBIndex,
  IDBKeyRange,
  IDBObjectStore,
  IDBOpenDBRequest,
  IDBRequest,
  IDBTransaction,
  IDBVersionChangeEvent,
};

/**
 * idb tells IDB objects apart with `instanceof IDBRequest` etc. against the
 * globals, and idb-store.ts builds key ranges with the global IDBKeyRange, so
 * fake-indexeddb's classes must be the globals. Node has none, so installing
 * them clobbers nothing; `globalThis.indexedDB` is left alone (callers pass a
 * factory). Every `new IDBFactory()` shares these classes.
 */
function installFakeIdbGlobals(): void {
  const g = globalThis as Record<string, unknown>;
  for (const [key, cls] of Object.entries(FAKE_CLASSES)) {
    if (g[key] === undefined) {
      Object.defineProperty(g, key, { value: cls, configurable: true, writable: true, enumerable: false });
    } else if (g[key] !== cls) {
      throw new StoreError(`global ${key} is not fake-indexeddb's: use openIdbStore with the native IndexedDB`, key);
    }
  }
}

let processFactory: IDBFactory | undefined;

/** One fake IndexedDB per process unless the caller isolates with its own `new IDBFactory()`. */
function factoryFor(opts: { indexedDB?: IDBFactory } | undefined): IDBFactory {
  installFakeIdbGlobals();
  if (opts?.indexedDB) return opts.indexedDB;
  processFactory ??= new IDBFactory();
  return processFactory;
}

export function openNodeStore(name: string, opts?: IdbStoreOptions): Promise<Store> {
  return openIdbStore(name, { ...opts, indexedDB: factoryFor(opts) });
}

export function deleteNodeStore(name: string, opts?: { indexedDB?: IDBFactory; onBlocked?: () => void }): Promise<void> {
  return deleteIdbStore(name, { ...opts, indexedDB: factoryFor(opts) });
}

export function listNodeStores(prefix: string, opts?: { indexedDB?: IDBFactory }): Promise<string[]> {
  return listIdbStores(prefix, { indexedDB: factoryFor(opts) });
}

export { IDBFactory as FakeIDBFactory };

// Browser-safe entry point. Node callers import openNodeStore from './node.ts'
// (kept out of here so bundles never pull in fake-indexeddb).
export * from './types.ts';
export {
  type HearthDbSchema,
  type HearthStoreName,
  type IdbStoreOptions,
  MIGRATIONS,
  SCHEMA_VERSION,
  STORE_NAMES,
  deleteIdbStore,
  listIdbStores,
  openIdbStore,
} from './idb-store.ts';

/**
 * Typed access to idb-dump.js (an IndexedDB database as JSON and back): the
 * functions for Node (pass fake-indexeddb's factory) and the source text for
 * a Chromium page (`page.evaluate(inPage.dump(name))`).
 */
import { readFileSync } from 'node:fs';

/** One object store: its schema and its records (`key` only when keys are out of line). */
export interface IdbStoreDump {
  name: string;
  keyPath: string | string[] | null;
  autoIncrement: boolean;
  indexes: { name: string; keyPath: string | string[]; unique: boolean; multiEntry: boolean }[];
  records: { key?: unknown; value: unknown }[];
}

export interface IdbDump {
  name: string;
  version: number;
  stores: IdbStoreDump[];
}

/** The plain-JavaScript source defining hearthIdbDump and hearthIdbRestore. */
export const IDB_DUMP_SOURCE = readFileSync(new URL('./idb-dump.js', import.meta.url), 'utf8');

const fns = new Function(`${IDB_DUMP_SOURCE}\nreturn { dump: hearthIdbDump, restore: hearthIdbRestore };`)() as {
  dump(factory: IDBFactory, name: string): Promise<IdbDump>;
  restore(factory: IDBFactory, dump: IdbDump, asName?: string): Promise<void>;
};

/** Reads database `name` whole (it must exist). */
export function dumpIdb(factory: IDBFactory, name: string): Promise<IdbDump> {
  return fns.dump(factory, name);
}

/** Creates database `asName` (default: the dump's name) at the dump's version with its stores and records; refuses an existing one. */
export function restoreIdb(factory: IDBFactory, dump: IdbDump, asName?: string): Promise<void> {
  return fns.restore(factory, dump, asName);
}

/** Expressions for page.evaluate, run against the page's own indexedDB. */
export const inPage = {
  dump: (name: string) => `(async () => { ${IDB_DUMP_SOURCE}\nreturn hearthIdbDump(indexedDB, ${JSON.stringify(name)}); })()`,
  restore: (dump: IdbDump, asName?: string) =>
    `(async () => { ${IDB_DUMP_SOURCE}\nreturn hearthIdbRestore(indexedDB, ${JSON.stringify(dump)}, ${JSON.stringify(asName ?? '')}); })()`,
  /** Names of the page's databases starting with `prefix`. */
  list: (prefix: string) => `indexedDB.databases().then((ds) => ds.map((d) => d.name).filter((n) => n && n.startsWith(${JSON.stringify(prefix)})).sort())`,
};

/**
 * The page's side of storage limits and moving (issue 17): what the browser
 * grants this origin (navigator.storage), and noticing that the browser
 * evicted the homeservers the page remembers.
 *
 * Eviction: the page remembers its homeservers in localStorage
 * (state/directory.ts); the databases are IndexedDB's. A remembered
 * homeserver with an account whose database is gone was not deleted by the
 * person (deleting forgets it first): the browser cleared the origin's
 * IndexedDB. The list is read once, when this module loads — before start-up
 * forgets the missing entries — and the finding is kept in localStorage
 * until the person dismisses it, so a reload does not lose it.
 */
import { signal } from '@preact/signals';
import { type KnownHomeserver, forget, readDirectory } from './state/directory.ts';

const EVICTED_KEY = 'hearth.evicted';

export interface StorageInfo {
  usage?: number;
  quota?: number;
  /** Whether the browser promised to keep this origin's data (undefined: cannot tell). */
  persisted?: boolean;
}

export async function storageInfo(): Promise<StorageInfo> {
  const s = globalThis.navigator?.storage;
  const [estimate, persisted] = await Promise.all([
    s?.estimate?.().catch(() => undefined),
    s?.persisted?.().catch(() => undefined),
  ]);
  return {
    ...(estimate?.usage !== undefined ? { usage: estimate.usage } : {}),
    ...(estimate?.quota !== undefined ? { quota: estimate.quota } : {}),
    ...(persisted !== undefined ? { persisted } : {}),
  };
}

/** Asks the browser to keep this origin's data under storage pressure; whether it agreed. */
export async function askPersistent(): Promise<boolean | undefined> {
  return globalThis.navigator?.storage?.persist?.().catch(() => undefined);
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** What forgetting a room freed (the homeserver's PurgeResult); undefined when the room was kept. */
export interface PurgeSummary {
  events: number;
  bytes: number;
  /** Messages still on their way to other servers: kept (carrying their event) until delivered. */
  deliveriesKept: number;
  /** The browser refused the write: the space is freed with the next write that succeeds. */
  held: boolean;
  /** Writes were being refused when it was forgotten: the browser gives the space back only when it compacts its storage. */
  storageFull?: boolean;
}

/** The sentence after forgetting a room: what it freed. */
export function forgetNotice(freed: PurgeSummary | undefined): string {
  if (!freed) return 'Room forgotten. Its history stays on this device while another account here still has it.';
  if (freed.held) return 'Room forgotten. Its space is freed as soon as the browser lets this site write again.';
  if (freed.storageFull) {
    // Chromium's IndexedDB gives deleted records' space back when it compacts its files, not at once (PurgeResult.storageFull).
    return `Room forgotten: its ${freed.events} events (about ${formatBytes(freed.bytes)}) are deleted, but the browser gives the disk space back only when it next tidies its storage. Until then messages may stay unsaved: free disk space for the browser, then Retry. Nothing waiting is lost while this page stays open.`;
  }
  const pending = freed.deliveriesKept > 0 ? `; ${freed.deliveriesKept} deliveries to other servers are kept until they arrive` : '';
  return `Room forgotten: freed about ${formatBytes(freed.bytes)} (${freed.events} events)${pending}.`;
}

const atLoad: KnownHomeserver[] = readDirectory().filter((e) => e.userId);

function readEvicted(): KnownHomeserver[] {
  try {
    const v: unknown = JSON.parse(localStorage.getItem(EVICTED_KEY) ?? '[]');
    return Array.isArray(v) ? (v as KnownHomeserver[]).filter((e) => typeof e?.dbName === 'string') : [];
  } catch {
    return [];
  }
}

/** Homeservers the browser deleted (see above); empty once dismissed. */
export const evicted = signal<KnownHomeserver[]>(readEvicted());

/** Compares the remembered homeservers with the databases that exist; records the missing ones. */
export async function checkEviction(): Promise<void> {
  const factory = globalThis.indexedDB;
  if (atLoad.length === 0 || typeof factory?.databases !== 'function') return;
  let names: Set<string>;
  try {
    names = new Set((await factory.databases()).map((d) => d.name ?? ''));
  } catch {
    return;
  }
  const gone = atLoad.filter((e) => !names.has(e.dbName));
  if (gone.length === 0) return;
  const all = [...readEvicted().filter((e) => !gone.some((g) => g.dbName === e.dbName)), ...gone];
  try {
    localStorage.setItem(EVICTED_KEY, JSON.stringify(all));
  } catch {
    // storage blocked: the notice still shows this time
  }
  // Recorded once: the directory no longer lists them, so a later visit does not find them missing again.
  for (const e of gone) forget(e.dbName);
  evicted.value = all;
}

export function dismissEviction(): void {
  try {
    localStorage.removeItem(EVICTED_KEY);
  } catch {
    // nothing to forget
  }
  evicted.value = [];
}

/** Saves a Blob as a file through a temporary link. */
export function downloadBlob(blob: Blob, fileName: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  document.body.append(a);
  a.click();
  a.remove();
  // Revoked later: the download reads the URL after the click returns.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

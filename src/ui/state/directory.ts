/**
 * The homeservers of this browser profile, as the page remembers them in
 * localStorage: whose each one is (user ID, display name) and when it was
 * last used. A person coming back (every tab closed, the page opened again)
 * is given the most recently used homeserver that no other tab has open; the
 * picker shows people's names, never database names. The databases
 * themselves are the truth: an entry whose database is gone is dropped.
 */
export interface KnownHomeserver {
  dbName: string;
  userId?: string;
  displayName?: string;
  serverName?: string;
  /** When a tab last started or used it (ms since the epoch). */
  lastUsed: number;
}

const KEY = 'hearth.homeservers';

function storage(): Storage | undefined {
  try {
    return globalThis.localStorage;
  } catch {
    return undefined; // storage blocked: nothing is remembered
  }
}

export function readDirectory(): KnownHomeserver[] {
  try {
    const raw: unknown = JSON.parse(storage()?.getItem(KEY) ?? '[]');
    if (!Array.isArray(raw)) return [];
    return raw.filter(
      (e): e is KnownHomeserver => typeof e === 'object' && e !== null && typeof e.dbName === 'string' && typeof e.lastUsed === 'number',
    );
  } catch {
    return [];
  }
}

function write(entries: KnownHomeserver[]): void {
  try {
    storage()?.setItem(KEY, JSON.stringify(entries));
  } catch {
    // quota or blocked storage: the homeserver still works, it is only not found again by name
  }
}

/** Records (or updates) a homeserver and marks it used now. */
export function remember(entry: Omit<KnownHomeserver, 'lastUsed'>): void {
  const rest = readDirectory().filter((e) => e.dbName !== entry.dbName);
  const previous = readDirectory().find((e) => e.dbName === entry.dbName);
  write([...rest, { ...previous, ...entry, lastUsed: Date.now() }]);
}

export function forget(dbName: string): void {
  write(readDirectory().filter((e) => e.dbName !== dbName));
}

/** How a homeserver is named to its person: display name and user ID, or what is known of it. */
export function describe(e: KnownHomeserver): { name: string; detail: string } {
  if (e.userId) return { name: e.displayName || e.userId, detail: e.userId };
  return { name: 'A homeserver without an account', detail: e.serverName ? `server ${e.serverName}` : 'set up was not finished' };
}

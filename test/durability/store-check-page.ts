/**
 * Bundled by browser-crash-harness.ts into a script for a Chromium page of
 * the app's origin: checks a homeserver database where it lives, in the
 * browser's own IndexedDB, with the current store code (the same
 * `openIdbStore` the homeserver worker uses and `checkStoreConsistency`).
 * Read-only; the page must run no homeserver (the database is not locked).
 */
import { checkStoreConsistency } from '../../src/server/store/consistency.ts';
import { openIdbStore } from '../../src/server/store/idb-store.ts';

export interface PageStoreCheck {
  /** Broken invariants, as "room subject: problem" lines. */
  inconsistencies: string[];
  /** Of `expected`, the event IDs not stored. */
  missing: string[];
  /** Events stored (all rooms). */
  events: number;
}

export async function check(dbName: string, expected: string[]): Promise<PageStoreCheck> {
  const store = await openIdbStore(dbName);
  try {
    const inconsistencies = (await checkStoreConsistency(store)).map((i) => `${i.room_id} ${i.subject}: ${i.problem}`);
    const stored = new Set<string>();
    for (const room of await store.listRooms()) for (const e of await store.roomEvents(room.room_id)) stored.add(e.event_id);
    return { inconsistencies, missing: expected.filter((id) => !stored.has(id)), events: stored.size };
  } finally {
    await store.close();
  }
}

/**
 * Where a simulated homeserver's memory goes, per server: measured by
 * taking the cluster apart after a run, one structure at a time, and
 * reading the V8 heap after a full collection each time. What a step frees
 * is what that structure alone held (objects shared with a structure still
 * standing are counted with the last one to let go of them). Destructive:
 * run it only when the cluster is of no further use (bench/sim-scale.ts
 * --memory-breakdown, after its own figures are taken).
 *
 * Order and meaning of the parts:
 * - `store`: the Store's copy (fake-indexeddb's records: the events' JSON
 *   text in chunks, state groups, the room record, outbox entries); 0 for
 *   the SQLite store, whose data is on disk and whose page cache is native;
 * - `state_groups`: the rooms' state groups in memory (deltas and the cache
 *   of full maps);
 * - `indexes`: the DAG's child edges, extremities, per-server latest
 *   events, resolution memos, pending redactions;
 * - `event_copies`: the per-room map of PDUs with their event_id (the shape
 *   auth and state resolution read);
 * - `events`: the stored events themselves (status, stream, state group
 *   and the parsed PDU with its strings);
 * - `rest`: what is left of each server over the process's heap before the
 *   run — keys, accounts, client data, outbox queues, transport, timers.
 */
import type { Cluster } from '../src/sim/cluster.ts';
import type { IDBFactory } from 'fake-indexeddb';

export interface MemoryBreakdown {
  /** Per server, MB of V8 heap. */
  per_server_mb: { store: number; state_groups: number; indexes: number; event_copies: number; events: number; rest: number; total: number };
  /** Events held per server (the average), and the heap per event that the room and the store hold. */
  events_per_server: number;
  bytes_per_event: { store: number; room: number };
}

type Gc = () => void;

/** Empties every object store of a fake IndexedDB database (a second connection, one transaction). */
function clearDatabase(idb: IDBFactory, name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = idb.open(name);
    req.onerror = () => reject(req.error);
    req.onsuccess = () => {
      const db = req.result;
      const names = [...db.objectStoreNames];
      const tx = db.transaction(names, 'readwrite');
      for (const n of names) tx.objectStore(n).clear();
      tx.oncomplete = () => {
        db.close();
        resolve();
      };
      tx.onerror = () => reject(tx.error);
    };
  });
}

function heapAfterGc(gc: Gc): number {
  // Two passes: the first can leave objects whose finalisers (weak maps, FinalizationRegistry) free more.
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/**
 * Takes `cluster` apart (stopped servers) and returns the heap each part
 * held. `baseline` is the heap before the servers existed.
 */
export async function memoryBreakdown(cluster: Cluster, baseline: number, gc: Gc, storeKind: 'idb' | 'sqlite' = 'idb'): Promise<MemoryBreakdown> {
  const servers = [...cluster.servers.values()];
  const n = Math.max(1, servers.length);
  let events = 0;
  for (const s of servers) for (const room of s.hs.rooms.values()) events += room.events.size;
  const step = async (free: () => void | Promise<void>): Promise<number> => {
    const before = heapAfterGc(gc);
    await free();
    return before - heapAfterGc(gc);
  };
  const total = heapAfterGc(gc) - baseline;
  const store = await step(async () => {
    // Emptied in place: the engine's closures still hold the connection (and so the database).
    // SQLite keeps its pages outside the V8 heap (its page cache is in the RSS): nothing to free here.
    if (storeKind === 'idb') for (const s of servers) await clearDatabase(s.idb, s.store.name);
  });
  const rooms = servers.flatMap((s) => [...s.hs.rooms.values()]);
  const stateGroups = await step(() => {
    for (const room of rooms) {
      const g = room.groups as unknown as { records: Map<unknown, unknown>; cache: Map<unknown, unknown> };
      g.records.clear();
      g.cache.clear();
    }
  });
  const indexes = await step(() => {
    for (const room of rooms) {
      const r = room as unknown as Record<string, { clear?: () => void }>;
      for (const key of ['children', 'strings', 'bySignature', 'extremities', 'latestBy', 'resolved', 'joinedOnceServers', 'pendingRedactions']) r[key]?.clear?.();
    }
  });
  const copies = await step(() => {
    for (const room of rooms) (room as unknown as { roomEvents: Map<unknown, unknown> }).roomEvents.clear();
  });
  const held = await step(() => {
    for (const room of rooms) room.events.clear();
  });
  const mb = (b: number) => Math.round((b / n / 2 ** 20) * 100) / 100;
  const perServerEvents = events / n;
  // A part too small to measure can come out a few bytes below zero (the heap moves a little between collections).
  const perEvent = (b: number) => (perServerEvents > 0 ? Math.max(0, Math.round(b / n / perServerEvents)) : 0);
  return {
    per_server_mb: {
      store: mb(store),
      state_groups: mb(stateGroups),
      indexes: mb(indexes),
      event_copies: mb(copies),
      events: mb(held),
      rest: mb(total - store - stateGroups - indexes - copies - held),
      total: mb(total),
    },
    events_per_server: Math.round(perServerEvents),
    bytes_per_event: { store: perEvent(store), room: perEvent(stateGroups + indexes + copies + held) },
  };
}

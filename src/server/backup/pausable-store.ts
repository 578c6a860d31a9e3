/**
 * A Store whose writes can be held back for a while, so a running
 * homeserver can be backed up as one consistent copy: while paused, reads go
 * straight through and `write` waits; the engine's own in-memory state runs
 * on (its commits queue, as they do behind a slow disk), and the held writes
 * go out in their order when the pause ends. The browser's homeserver wraps
 * its IndexedDB store in this (src/app/service.ts); the CLI needs none — its
 * export holds the data directory's lock.
 */
import type { Store, WriteBatch } from '../store/types.ts';

export interface PausableStore extends Store {
  /**
   * Waits for the writes in flight to finish, then holds new ones until
   * `resume`; `write` writes past the hold (the pauser's own writes).
   */
  pauseWrites(): Promise<{ resume(): void; write(batch: WriteBatch): Promise<void> }>;
}

export function pausableStore(inner: Store): PausableStore {
  let gate: Promise<void> | undefined;
  const inFlight = new Set<Promise<unknown>>();
  async function write(batch: WriteBatch): Promise<void> {
    while (gate) await gate;
    const p = inner.write(batch);
    inFlight.add(p);
    try {
      await p;
    } finally {
      inFlight.delete(p);
    }
  }
  return {
    get name() {
      return inner.name;
    },
    getMeta: (k) => inner.getMeta(k),
    listMeta: () => inner.listMeta(),
    listAccounts: () => inner.listAccounts(),
    listRooms: () => inner.listRooms(),
    getRoom: (id) => inner.getRoom(id),
    getEvent: (id) => inner.getEvent(id),
    roomEvents: (id) => inner.roomEvents(id),
    roomStateGroups: (id) => inner.roomStateGroups(id),
    roomReceipts: (id) => inner.roomReceipts(id),
    outbox: () => inner.outbox(),
    getMedia: (id) => inner.getMedia(id),
    listMediaIds: () => inner.listMediaIds(),
    listClientData: () => inner.listClientData(),
    write,
    usage: () => inner.usage(),
    close: () => inner.close(),
    async pauseWrites() {
      while (gate) await gate;
      let release!: () => void;
      gate = new Promise<void>((r) => {
        release = r;
      });
      await Promise.allSettled([...inFlight]);
      return {
        resume() {
          gate = undefined;
          release();
        },
        write: (batch) => inner.write(batch),
      };
    },
  };
}

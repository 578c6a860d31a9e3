/**
 * The worker's half of "Back up / move this homeserver", "Restore from a
 * backup file" and "Free space" (HomeserverService delegates here): the
 * backup module (src/server/backup) over the tab's IndexedDB store, and the
 * Blob the page downloads or the file it picked.
 */
import { BackupError, type BackupMode, exportBackup, importBackup, retireStore, serverNameOfSeed } from '../server/backup/backup.ts';
import type { PausableStore } from '../server/backup/pausable-store.ts';
import type { Homeserver } from '../server/homeserver.ts';
import { type MovedAway, movedAwayError } from '../server/moved.ts';
import { deleteIdbStore, openIdbStore } from '../server/store/idb-store.ts';

export interface BackupRequest {
  passphrase: string;
  mode: BackupMode;
  /** Where it goes (shown on the old copy after a move). */
  to?: string;
  media: boolean;
}

export interface BackupFile {
  blob: Blob;
  fileName: string;
  serverName: string;
}

/**
 * The backup of the running homeserver, as a Blob. Writes are held while it
 * is read, so it is one consistent copy (the engine keeps running in memory
 * and its writes follow). For a move, the store is marked retired before the
 * writes are let go: nothing this copy does afterwards counts, and the caller
 * stops the homeserver at once.
 */
export async function backupRunning(hs: Homeserver, store: PausableStore, req: BackupRequest, now = Date.now()): Promise<BackupFile> {
  const moved: MovedAway = { ts: now, ...(req.to ? { to: req.to } : {}) };
  // A move stops signing first, so no event this copy makes can miss the file.
  const undo = req.mode === 'move' ? refuseSigning(hs, moved) : undefined;
  const paused = await store.pauseWrites();
  try {
    const parts: BlobPart[] = [];
    for await (const chunk of exportBackup(store, { passphrase: req.passphrase, mode: req.mode, media: req.media, now: () => now })) {
      parts.push(chunk as Uint8Array<ArrayBuffer>);
    }
    // The parts live in the Blob (the browser may keep a large one on disk); nothing else holds them.
    const blob = new Blob(parts, { type: 'application/octet-stream' });
    if (req.mode === 'move') {
      await retireStore(paused, moved);
      // Off the network now: the new copy will answer to this name.
      hs.outbox.stop();
      await hs.transport.stop();
    }
    const day = new Date(now).toISOString().slice(0, 10);
    return { blob, fileName: `hearth-${req.mode === 'move' ? 'move' : 'backup'}-${day}.hearth-backup`, serverName: hs.serverName };
  } catch (e) {
    undo?.();
    throw e;
  } finally {
    paused.resume();
  }
}

/**
 * Makes the running homeserver's identity refuse to sign, as a moved-away
 * one does from its next start (identity.ts); returns the undo.
 */
function refuseSigning(hs: Homeserver, moved: MovedAway): () => void {
  const identity = hs.identity as { sign: Homeserver['identity']['sign']; movedAway?: MovedAway };
  const sign = identity.sign;
  identity.sign = () => Promise.reject(movedAwayError(moved));
  identity.movedAway = moved;
  return () => {
    identity.sign = sign;
    delete identity.movedAway;
  };
}

/** The chunks of a Blob (a picked file), read as it streams. */
async function* blobChunks(blob: Blob): AsyncGenerator<Uint8Array> {
  const reader = blob.stream().getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.releaseLock();
  }
}

/**
 * Imports a backup file into a new database `dbName` of this browser
 * profile (the caller holds its lock). Refused when a homeserver with the
 * same server name is already here. On any failure the new database is
 * deleted: nothing changes.
 */
export async function restoreInto(dbName: string, file: Blob, passphrase: string, existing: readonly string[]): Promise<{ serverName: string; userId?: string; displayName?: string }> {
  const store = await openIdbStore(dbName);
  try {
    const taken = new Set<string>();
    for (const other of existing) {
      const s = await openIdbStore(other);
      try {
        const seed = await s.getMeta('server_key_seed');
        if (typeof seed === 'string') taken.add(serverNameOfSeed(seed));
      } finally {
        await s.close();
      }
    }
    const { manifest } = await importBackup(() => blobChunks(file), store, {
      passphrase,
      beforeWrite: ({ manifest: m }) => {
        if (taken.has(m.server_name)) throw new BackupError('refused', `the homeserver ${m.server_name} is already in this browser`);
      },
    });
    const [account] = await store.listAccounts();
    await store.close();
    return { serverName: manifest.server_name, ...(account ? { userId: account.user_id, displayName: account.display_name } : {}) };
  } catch (e) {
    await store.close().catch(() => undefined);
    await deleteIdbStore(dbName).catch(() => undefined);
    throw e;
  }
}

/**
 * Deletes the cached copies of other servers' media (they are downloaded
 * again when shown); this server's own uploads stay. Returns how many and
 * roughly how many bytes.
 */
export async function dropCachedMedia(hs: Homeserver): Promise<{ count: number; bytes: number }> {
  const own = `${hs.serverName}/`;
  const ids = (await hs.store.listMediaIds()).filter((id) => !id.startsWith(own));
  let bytes = 0;
  for (const id of ids) bytes += (await hs.store.getMedia(id))?.bytes.byteLength ?? 0;
  if (ids.length > 0) await hs.store.write({ mediaDelete: ids });
  return { count: ids.length, bytes };
}

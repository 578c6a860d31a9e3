/**
 * Purging a room: deleting everything this server stores of a room once no
 * local user has any use for it (all of them left it, or were never in it,
 * and every one who was has forgotten it). Forgetting alone only hides a
 * room; this is what frees its space.
 *
 * One store write (WriteBatch.purgeRooms) deletes the room record, every
 * event, state group (and so the DAG's edges and extremities, which live in
 * them and in the room record) and receipt of the room, with what the caller
 * adds (the Client-Server API's per-room client data), in one transaction: a
 * crash leaves the room whole or gone, never half. The write goes through the
 * engine's grouped commit, so it lands in order with every other write.
 *
 * Deliveries still queued for the room's events are kept, not dropped: the
 * leave the server just sent must still reach its peers, and a peer may be
 * offline for days. Each such outbox entry is rewritten in the same write to
 * carry its event (OutboxEntry.pdu), so the events store can let go of it
 * and the space is freed now; the entry is deleted once delivered, as any.
 *
 * Media: cached copies of other servers' media that only this room's events
 * named are deleted too (they are downloaded again if the room is ever shown
 * again); this server's own uploads are kept — they are its users' files.
 *
 * In memory the room, its inbox of broadcasts and its ephemeral data go, and
 * the transport's room subscription ends. Work that was already waiting for
 * the room's lock runs on the detached room; its writes for the room are
 * dropped by the engine (Homeserver.commit), so it cannot bring back a piece
 * of the room. Joining the room again later starts afresh: the state comes
 * from the resident server (send_join), history from a backfill.
 */
import { HeldWriteError } from './held-write.ts';
import { EVERY_DESTINATION } from './outbox.ts';
import type { Room } from './room.ts';
import type { OutboxEntry, WriteBatch } from './store/types.ts';

/** What a purge freed, roughly (the records' JSON size: the store's own overhead varies). */
export interface PurgeResult {
  roomId: string;
  /** Events deleted from the store. */
  events: number;
  /** Deliveries still pending, now carrying their event (sent when the peer is reachable). */
  deliveriesKept: number;
  /** Cached media (other servers' files) deleted with the room. */
  media: number;
  /** About how many bytes of records went. */
  bytes: number;
  /** The store refused the write (a full disk): the room is gone from memory, and its records go with the next write that succeeds. */
  held: boolean;
  /**
   * Writes were being refused (a full disk, the browser's quota) when the purge went ahead of
   * them. The records are deleted at once, but Chromium's IndexedDB (LevelDB) appends deletions
   * to its log and gives the disk space back only when it compacts its files, which a refused
   * write never triggers: measured in e2e/durability-forget.spec.ts, the site's usage did not
   * drop and writes stayed refused after a purge of ~320 KB under a quota 64 KB over usage.
   */
  storageFull: boolean;
}

/** What the engine offers a purge (Homeserver implements it). */
export interface PurgeHost {
  readonly serverName: string;
  readonly rooms: Map<string, Room>;
  isLocalUser(userId: string): boolean;
  /** An earlier write was refused and is held (Homeserver.commit): the disk is full. */
  readonly hasUnstoredWrites: boolean;
  commit(batch: WriteBatch): Promise<void>;
  /** Writes ahead of a held write that no longer fits (a full disk): a purge frees space, so it must get through (Homeserver.commitAhead). */
  commitAhead(batch: WriteBatch): Promise<void>;
  readonly outbox: { carryPdus(pduOf: (eventId: string) => OutboxEntry['pdu'] | undefined): OutboxEntry[] };
  readonly store: { listMediaIds(): Promise<string[]> };
  /** Drops the room from memory: the room map, its broadcast inbox, ephemeral data, the transport subscription. */
  forgetRoomInMemory(roomId: string): void;
  emit(update: { kind: 'room'; roomId: string }): void;
}

export interface PurgeOptions {
  /**
   * Why the room may not be purged now (checked under the room's lock, so no
   * event changes its membership meanwhile), or undefined when it may be.
   */
  refuse(room: Room): string | undefined;
  /** More of the room's records to delete in the same write (client data). */
  extra?(room: Room): WriteBatch;
}

/** Local users with a membership event in the room's current state, and that membership. */
export function localMemberships(host: Pick<PurgeHost, 'isLocalUser'>, room: Room): { userId: string; membership: string }[] {
  if (room.currentGroup < 0) return [];
  return room.members().filter((m) => host.isLocalUser(m.userId));
}

/** About how many bytes the room's events take in the store (their JSON; what a purge frees, give or take the store's overhead). */
export function roomStoredBytes(room: Room): number {
  let bytes = 0;
  for (const ev of room.events.values()) bytes += JSON.stringify(ev).length;
  return bytes;
}

const MXC = /mxc:\/\/[A-Za-z0-9.:_\-[\]]+\/[A-Za-z0-9_-]{1,255}/g;

/** `server/id` store keys of the media the room's events name (any mxc:// URI in their content). */
function mediaNamedBy(room: Room): Set<string> {
  const out = new Set<string>();
  for (const ev of room.events.values()) {
    const text = JSON.stringify(ev.pdu.content ?? null);
    if (!text.includes('mxc://')) continue;
    for (const uri of text.match(MXC) ?? []) out.add(uri.slice('mxc://'.length));
  }
  return out;
}

/** Cached copies of other servers' media named by `room` and by no other room held here. */
async function cachedMediaOnlyIn(host: PurgeHost, room: Room): Promise<string[]> {
  const own = `${host.serverName}/`;
  const named = [...mediaNamedBy(room)].filter((k) => !k.startsWith(own));
  if (named.length === 0) return [];
  const stored = new Set(await host.store.listMediaIds());
  const candidates = new Set(named.filter((k) => stored.has(k)));
  for (const other of host.rooms.values()) {
    if (other === room || candidates.size === 0) continue;
    for (const k of mediaNamedBy(other)) candidates.delete(k);
  }
  return [...candidates];
}

/**
 * Purges `roomId` if `opts.refuse` lets it (throws its reason otherwise);
 * undefined when the room is not held here (already purged, or never).
 */
export async function purgeRoom(host: PurgeHost, roomId: string, opts: PurgeOptions): Promise<PurgeResult | undefined> {
  const room = host.rooms.get(roomId);
  if (!room) return undefined;
  return room.lock.run(async () => {
    // Purged, or purged and joined again, while this waited for the lock.
    if (host.rooms.get(roomId) !== room) return undefined;
    const reason = opts.refuse(room);
    if (reason !== undefined) throw new Error(reason);
    const carried = host.outbox.carryPdus((id) => room.events.get(id)?.pdu);
    const media = await cachedMediaOnlyIn(host, room);
    const bytes = roomStoredBytes(room);
    const extra = opts.extra?.(room) ?? {};
    const batch: WriteBatch = { ...extra, purgeRooms: [roomId], outboxPut: [...(extra.outboxPut ?? []), ...carried] };
    if (media.length > 0) batch.mediaDelete = [...(extra.mediaDelete ?? []), ...media];
    const result: PurgeResult = { roomId, events: room.events.size, deliveriesKept: deliveriesIn(carried), media: media.length, bytes, held: false, storageFull: host.hasUnstoredWrites };
    // From here the room is gone for everyone: no new work finds it.
    host.forgetRoomInMemory(roomId);
    try {
      await host.commitAhead(batch);
    } catch (err) {
      // Kept by the engine and written in front of the next write: the purge still happens.
      if (!(err instanceof HeldWriteError)) throw err;
      result.held = true;
    }
    host.emit({ kind: 'room', roomId });
    return result;
  }, 'purge');
}

/**
 * A batch without the records of rooms purged in this process (`purged`):
 * work that was waiting for a room's lock when it was purged, or a write held
 * (a full disk) while the purge went ahead, must not write a piece of it
 * back. A delivery the batch queues for an event it loses carries that event
 * (as the purge's own do), so it is still sent. Returns the batch itself when
 * nothing is dropped.
 */
export function withoutPurged(batch: WriteBatch, purged: ReadonlySet<string>): WriteBatch {
  const keep = <T extends { room_id: string }>(list: T[] | undefined): T[] | undefined => list?.filter((r) => !purged.has(r.room_id));
  const touches = (list: { room_id: string }[] | undefined) => list?.some((r) => purged.has(r.room_id)) ?? false;
  // A forget whose record was held (a full disk) while the purge went ahead: the record is moot.
  const moot = (r: { kind: string; key: string }) => r.kind === 'forgotten' && purged.has(r.key);
  const mootData = batch.clientData?.some(moot) ?? false;
  if (!mootData && !touches(batch.rooms) && !touches(batch.events) && !touches(batch.stateGroups) && !touches(batch.receipts)) return batch;
  const out: WriteBatch = { ...batch };
  if (mootData) out.clientData = batch.clientData!.filter((r) => !moot(r));
  const lost = new Map((batch.events ?? []).filter((e) => purged.has(e.room_id)).map((e) => [e.event_id, e.pdu]));
  // In place: the sender hands these same entries to the outbox once they are stored (outbox.added).
  for (const e of batch.outboxPut ?? []) if (e.kind === 'pdu' && !e.pdu && e.event_id && lost.has(e.event_id)) e.pdu = lost.get(e.event_id)!;
  for (const key of ['rooms', 'events', 'stateGroups', 'receipts'] as const) {
    const kept = keep(batch[key] as { room_id: string }[] | undefined);
    if (kept === undefined) continue;
    (out as Record<string, unknown>)[key] = kept;
  }
  return out;
}

/** Deliveries the rows queue: a row for one server is one, an EVERY_DESTINATION row one per server it names. */
function deliveriesIn(rows: readonly OutboxEntry[]): number {
  return rows.reduce((n, r) => n + (r.destination === EVERY_DESTINATION ? (r.destinations?.length ?? 0) : 1), 0);
}

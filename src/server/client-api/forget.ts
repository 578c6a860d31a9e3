/**
 * Forgetting rooms (`POST /rooms/{roomId}/forget`, and the app's Forget this
 * room): the user's `forgotten` record hides the room from their syncs, and
 * once every local user is done with the room — nobody here is joined,
 * invited or knocking, and everyone who has a membership in it left (or was
 * removed) and forgot it — the room is purged from this server (purge.ts):
 * its events, state, receipts and the client data filed under it go, and so
 * does its space. The spec says as much: "If all users on a homeserver forget
 * a room, the room is eligible for deletion from that homeserver."
 *
 * The `forgotten` records double as the purge's resumable intent: a purge
 * that did not happen (the process stopped between the record and the purge,
 * or the purge's write failed) is done the next time the API opens
 * (`purgeForgottenRooms`).
 */
import { MatrixError } from '../errors.ts';
import { HeldWriteError } from '../held-write.ts';
import { type PurgeResult, localMemberships } from '../purge.ts';
import type { Room } from '../room.ts';
import type { ClientDataRecord } from '../store/types.ts';
import type { ClientApi } from './api.ts';

type DataKey = Pick<ClientDataRecord, 'user_id' | 'kind' | 'key'>;

/**
 * Why the room may not be purged now, or undefined when every local user is
 * done with it (`forgetting`: a user forgetting it right now, whose record
 * may not be written yet).
 */
export function purgeRefusal(api: ClientApi, room: Room, forgetting?: string): string | undefined {
  for (const m of localMemberships(api.hs, room)) {
    if (m.membership === 'join' || m.membership === 'invite' || m.membership === 'knock') {
      return `${m.userId} is still in ${room.roomId} (membership ${m.membership})`;
    }
    if (m.userId !== forgetting && api.getData(m.userId, 'forgotten', room.roomId) === undefined) return `${m.userId} has not forgotten ${room.roomId}`;
  }
  return undefined;
}

/**
 * The client data filed under the room: every local user's `forgotten`
 * record and room account data (read markers, tags, …) of it, transaction
 * IDs that name its events, and the server's aliases and directory entry
 * for it (a room this server no longer holds cannot be served by them).
 */
export function roomClientData(api: ClientApi, room: Room): DataKey[] {
  const out: DataKey[] = [];
  const prefix = `${room.roomId}\n`;
  for (const userId of api.hs.accounts.keys()) {
    if (api.getData(userId, 'forgotten', room.roomId) !== undefined) out.push({ user_id: userId, kind: 'forgotten', key: room.roomId });
    for (const r of api.listData(userId, 'room_account_data')) if (r.key.startsWith(prefix)) out.push({ user_id: userId, kind: r.kind, key: r.key });
    for (const r of api.listData(userId, 'txn')) if (typeof r.value === 'string' && room.events.has(r.value)) out.push({ user_id: userId, kind: r.kind, key: r.key });
  }
  for (const r of api.listData('', 'alias')) if (r.value === room.roomId) out.push({ user_id: '', kind: 'alias', key: r.key });
  if (api.getData('', 'published', room.roomId) !== undefined) out.push({ user_id: '', kind: 'published', key: room.roomId });
  return out;
}

/** Purges the room if every local user is done with it; undefined when it is kept (or not held here). */
export async function purgeIfDone(api: ClientApi, roomId: string, forgetting?: string): Promise<PurgeResult | undefined> {
  const room = api.hs.rooms.get(roomId);
  if (!room || purgeRefusal(api, room, forgetting) !== undefined) return undefined;
  let deletes: DataKey[] = [];
  let result: PurgeResult | undefined;
  try {
    result = await api.hs.purgeRoom(roomId, {
      refuse: (r) => purgeRefusal(api, r, forgetting),
      extra: (r) => {
        deletes = roomClientData(api, r);
        return { clientDataDelete: deletes };
      },
    });
  } catch (err) {
    // Someone joined (or was invited) while the purge waited for the room's lock: the room stays.
    if (purgeRefusal(api, room, forgetting) !== undefined) return undefined;
    throw err;
  }
  if (result) api.forgetData(deletes);
  return result;
}

/**
 * `userId` forgets `roomId` (they must have left it): their `forgotten`
 * record, then the room's purge if no local user needs it any more.
 */
export async function forgetRoom(api: ClientApi, userId: string, roomId: string): Promise<PurgeResult | undefined> {
  const room = api.hs.rooms.get(roomId);
  if (room && room.currentGroup >= 0 && room.membership(userId) === 'join') {
    throw new MatrixError('M_UNKNOWN', 'leave the room before forgetting it', { status: 400 });
  }
  let refused: HeldWriteError | undefined;
  try {
    await api.putData([{ user_id: userId, kind: 'forgotten', key: roomId, value: true }]);
  } catch (err) {
    // A full disk: the record is held (written with the next write that succeeds). The purge
    // can still go through — it only frees space (Homeserver.commitAhead) — and is the way out.
    if (!(err instanceof HeldWriteError)) throw err;
    refused = err;
  }
  const purged = await purgeIfDone(api, roomId, userId);
  if (!purged && refused) throw refused;
  return purged;
}

/** Completes the purges of rooms every local user had forgotten (a purge cut short, or rooms forgotten before purging existed). */
export async function purgeForgottenRooms(api: ClientApi): Promise<PurgeResult[]> {
  const out: PurgeResult[] = [];
  for (const room of [...api.hs.rooms.values()]) {
    const forgotten = [...api.hs.accounts.keys()].some((u) => api.getData(u, 'forgotten', room.roomId) !== undefined);
    if (!forgotten) continue;
    const r = await purgeIfDone(api, room.roomId);
    if (r) out.push(r);
  }
  return out;
}

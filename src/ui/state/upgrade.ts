/**
 * Room upgrades in the app: following a tombstone to the room that replaced
 * it (the banner in the old room), and which rooms the list leaves out.
 * The worker does the work (HomeserverClient.upgradeRoom; joining the new
 * room is an ordinary join through the servers the room summary names).
 */
import type { RoomSummary } from '../api.ts';
import { attempt, loadRooms, openRoom, service } from './actions.ts';

/** `list` without the rooms that were replaced by a room I have joined (the room list shows the new one only). */
export function withoutSuperseded(list: RoomSummary[], all: RoomSummary[]): RoomSummary[] {
  const joined = new Set(all.filter((r) => r.membership === 'join').map((r) => r.roomId));
  return list.filter((r) => !(r.replacement && joined.has(r.replacement.roomId)));
}

/** Joins the room that replaced `room` (through the tombstone's sender's server and the old room's) and opens it. */
export async function followUpgrade(room: RoomSummary): Promise<boolean> {
  const next = room.replacement;
  if (!next) return false;
  const ok = await attempt('Could not join the new room', () => service().join(next.roomId, next.via));
  if (!ok) return false;
  await loadRooms();
  openRoom(next.roomId);
  return true;
}

/**
 * The end-to-end encryption parts of /sync: `to_device`, `device_lists`,
 * `device_one_time_keys_count` and `device_unused_fallback_key_types`; and
 * the device-list changes /keys/changes reports.
 *
 * To-device delivery is at-least-once: a message stays queued until the
 * device syncs with a `since` at or past its position, i.e. with the
 * next_batch of a response that carried it. A client that retries an old
 * token gets the message again.
 */
import type { JsonObject } from '../../core/json.ts';
import type { ClientApi } from './api.ts';
import type { Session } from './types.ts';

export interface DeviceListChanges {
  changed: string[];
  left: string[];
}

/**
 * Users whose devices changed between two positions, as `userId` sees them:
 * users sharing a joined room whose device list (or cross-signing keys)
 * changed, and users who newly share a room (a join after `since`, or our
 * own join), and users whose master key `userId` signed (the signature is
 * part of the keys /keys/query shows them); `left` holds users who left a
 * shared room, or whose room we left, and share none now.
 */
export function deviceListChanges(api: ClientApi, userId: string, since: number, upTo: number): DeviceListChanges {
  const inRange = (s: number | undefined) => s !== undefined && s > since && s <= upTo;
  const shared = new Set<string>([userId]);
  const newlyShared = new Set<string>();
  const departed = new Set<string>();
  for (const room of api.hs.rooms.values()) {
    if (room.currentGroup < 0) continue;
    const mine = room.membership(userId);
    if (mine !== 'join' && mine !== 'leave' && mine !== 'ban') continue;
    const members = room.members();
    const me = members.find((m) => m.userId === userId);
    const myEvent = me ? room.events.get(me.eventId) : undefined;
    if (mine === 'join') {
      const iJoined = inRange(myEvent?.stream);
      for (const m of members) {
        if (m.userId === userId) continue;
        const stored = room.events.get(m.eventId);
        if (m.membership === 'join') {
          shared.add(m.userId);
          if (iJoined || inRange(stored?.stream)) newlyShared.add(m.userId);
        } else if ((m.membership === 'leave' || m.membership === 'ban') && inRange(stored?.stream)) departed.add(m.userId);
      }
    } else if ((mine === 'leave' || mine === 'ban') && inRange(myEvent?.stream)) {
      for (const m of members) if (m.membership === 'join' && m.userId !== userId) departed.add(m.userId);
    }
  }
  const changed = new Set<string>();
  for (const u of shared) if (inRange(api.hs.e2ee.changedAt(u))) changed.add(u);
  for (const u of newlyShared) changed.add(u);
  // Users whose master key this user signed (a verification): their keys as this user sees them changed.
  for (const [u, at] of api.hs.e2ee.signedBy(userId)) if (inRange(at)) changed.add(u);
  const left = [...departed].filter((u) => !shared.has(u));
  return { changed: [...changed].sort(), left: left.sort() };
}

/** The /sync fields, and whether they carry anything (an empty long-poll waits on). */
export async function e2eeSyncFields(
  api: ClientApi,
  session: Session,
  since: number | undefined,
  upTo: number,
): Promise<{ fields: JsonObject; carries: boolean }> {
  const e2ee = api.hs.e2ee;
  const { userId, deviceId } = session;
  if (since !== undefined) await e2ee.acknowledgeToDevice(userId, deviceId, since);
  const toDevice = e2ee.pendingToDevice(userId, deviceId, upTo).map((m) => m.event);
  const lists = since === undefined ? { changed: [], left: [] } : deviceListChanges(api, userId, since, upTo);
  return {
    carries: toDevice.length > 0 || lists.changed.length > 0 || lists.left.length > 0,
    fields: {
      to_device: { events: toDevice },
      device_lists: { changed: lists.changed, left: lists.left },
      device_one_time_keys_count: e2ee.oneTimeKeyCounts(userId, deviceId),
      device_unused_fallback_key_types: e2ee.unusedFallbackTypes(userId, deviceId),
    },
  };
}

/**
 * EDUs: typing notifications, read receipts and presence. Typing is
 * ephemeral (fan-out only); receipts are persisted and go through the
 * outbox; presence is pushed to the servers we share rooms with. The
 * end-to-end encryption EDUs (to-device messages, device lists, signing
 * keys) are handed to e2ee/state.ts.
 */
import { type JsonObject, isJsonObject } from '../core/json.ts';
import type { Engine } from './engine.ts';
import type { Room } from './room.ts';

const TYPING_TIMEOUT_MS = 30_000;

function ownedBy(userId: unknown, origin: string): userId is string {
  return typeof userId === 'string' && userId.endsWith(`:${origin}`);
}

export async function handleEdus(e: Engine, origin: string, edus: readonly unknown[]): Promise<void> {
  for (const edu of edus) {
    if (!isJsonObject(edu) || typeof edu.edu_type !== 'string' || !isJsonObject(edu.content)) continue;
    try {
      switch (edu.edu_type) {
        case 'm.typing':
          onTyping(e, origin, edu.content);
          break;
        case 'm.receipt':
          await onReceipt(e, origin, edu.content);
          break;
        case 'm.presence':
          onPresence(e, origin, edu.content);
          break;
        case 'm.direct_to_device':
          await e.e2ee.onDirectToDevice(origin, edu.content);
          break;
        case 'm.device_list_update':
          await e.e2ee.onDeviceListUpdate(origin, edu.content);
          break;
        case 'm.signing_key_update':
          await e.e2ee.onSigningKeyUpdate(origin, edu.content);
          break;
        default:
          break; // unknown EDU types are ignored, as the spec asks
      }
    } catch (err) {
      e.log('warn', `ignored a malformed ${edu.edu_type} EDU from ${origin}`, { error: String(err) });
    }
  }
}

export function setTyping(e: Engine, roomId: string, userId: string, typing: boolean): string[] {
  let room = e.ephemeral.typing.get(roomId);
  if (!room) {
    room = new Map();
    e.ephemeral.typing.set(roomId, room);
  }
  if (typing) room.set(userId, e.clock.now() + TYPING_TIMEOUT_MS);
  else room.delete(userId);
  return typingUsers(e, roomId);
}

export function typingUsers(e: Engine, roomId: string): string[] {
  const room = e.ephemeral.typing.get(roomId);
  if (!room) return [];
  const now = e.clock.now();
  for (const [u, until] of room) if (until < now) room.delete(u);
  return [...room.keys()].sort();
}

function onTyping(e: Engine, origin: string, c: JsonObject): void {
  if (typeof c.room_id !== 'string' || !ownedBy(c.user_id, origin)) return;
  const room = e.rooms.get(c.room_id);
  if (room?.membership(c.user_id) !== 'join') return;
  const users = setTyping(e, c.room_id, c.user_id, c.typing === true);
  e.emit({ kind: 'typing', roomId: c.room_id, userIds: users });
  // Someone typing is active right now, whatever their server last said (or if it said nothing yet).
  if (c.typing === true && e.ephemeral.presence.get(c.user_id)?.presence !== 'online') {
    const before = e.ephemeral.presence.get(c.user_id);
    e.ephemeral.presence.delete(c.user_id);
    e.ephemeral.presence.set(c.user_id, { ...before, presence: 'online', lastActiveTs: e.clock.now() });
    e.emit({ kind: 'presence', userId: c.user_id, presence: 'online' });
    boundPresence(e);
  }
}

export function recordReceipt(e: Engine, roomId: string, userId: string, eventId: string, ts: number): boolean {
  let room = e.ephemeral.receipts.get(roomId);
  if (!room) {
    room = new Map();
    e.ephemeral.receipts.set(roomId, room);
  }
  const prev = room.get(userId);
  if (prev && prev.eventId === eventId) return false;
  room.set(userId, { eventId, ts });
  return true;
}

async function onReceipt(e: Engine, origin: string, c: JsonObject): Promise<void> {
  for (const [roomId, byType] of Object.entries(c)) {
    const room = e.rooms.get(roomId);
    if (!room || !isJsonObject(byType) || !isJsonObject(byType['m.read'])) continue;
    for (const [userId, receipt] of Object.entries(byType['m.read'])) {
      if (!ownedBy(userId, origin) || !isJsonObject(receipt) || !Array.isArray(receipt.event_ids)) continue;
      const eventId = receipt.event_ids.find((x): x is string => typeof x === 'string');
      if (!eventId || eventId.length > 255 || room.membership(userId) !== 'join') continue;
      const ts = isJsonObject(receipt.data) && typeof receipt.data.ts === 'number' ? receipt.data.ts : e.clock.now();
      if (!recordReceipt(e, roomId, userId, eventId, ts)) continue;
      await e.store.write({ receipts: [{ room_id: roomId, user_id: userId, receipt_type: 'm.read', event_id: eventId, ts }] });
      e.emit({ kind: 'receipt', roomId, userId, eventId });
    }
  }
}

/**
 * Presence is kept only for users joined to a room one of our users is
 * joined to (who else would see it?), so a peer cannot fill the table with
 * made-up users. The table is bounded too (`limits.presenceEntries` remote
 * entries): past it, entries of users who share no room with us any more go
 * first, then the least recently updated.
 */
function onPresence(e: Engine, origin: string, c: JsonObject): void {
  if (!Array.isArray(c.push)) return;
  // The rooms where both the origin and one of our users are joined: none, and nothing is kept.
  const shared = sharedRooms(e, origin);
  if (shared.length === 0) return;
  for (const p of c.push) {
    if (!isJsonObject(p) || !ownedBy(p.user_id, origin) || typeof p.presence !== 'string') continue;
    if (!['online', 'offline', 'unavailable'].includes(p.presence)) continue;
    const userId = p.user_id;
    if (!shared.some((room) => room.membership(userId) === 'join')) continue;
    const ago = typeof p.last_active_ago === 'number' ? p.last_active_ago : 0;
    // Deleted first, so the map's order is the order of the latest updates (eviction takes the oldest).
    e.ephemeral.presence.delete(userId);
    e.ephemeral.presence.set(userId, {
      presence: p.presence,
      lastActiveTs: e.clock.now() - ago,
      ...(typeof p.status_msg === 'string' ? { statusMsg: p.status_msg.slice(0, MAX_STATUS_MSG) } : {}),
    });
    e.emit({ kind: 'presence', userId, presence: p.presence });
  }
  boundPresence(e);
}

/** Characters of a remote status message kept. */
const MAX_STATUS_MSG = 1000;

function sharedRooms(e: Engine, server: string): Room[] {
  const out: Room[] = [];
  for (const room of e.rooms.values()) {
    if (room.currentGroup < 0) continue;
    const joined = room.joinedServers();
    if (joined.has(server) && joined.has(e.serverName)) out.push(room);
  }
  return out;
}

/** Keeps the remote presence entries within `limits.presenceEntries` (local users' are never dropped). */
function boundPresence(e: Engine): void {
  const table = e.ephemeral.presence;
  const limit = e.limits.presenceEntries;
  if (table.size <= limit) return;
  const remote = [...table.keys()].filter((u) => !e.isLocalUser(u));
  if (remote.length <= limit) return;
  // Users no longer joined to any room we are in go first...
  const ours = [...e.rooms.values()].filter((r) => r.currentGroup >= 0 && r.joinedServers().has(e.serverName));
  let excess = remote.length - limit;
  for (const u of remote) {
    if (excess <= 0) return;
    if (!ours.some((r) => r.membership(u) === 'join')) {
      table.delete(u);
      excess--;
    }
  }
  // ...then the least recently updated (the map keeps update order), with a tenth of slack so this does not run per EDU.
  excess += Math.floor(limit / 10);
  for (const u of remote) {
    if (excess <= 0) break;
    if (table.delete(u)) excess--;
  }
  e.log('info', 'presence table over its bound: forgot the least recently updated entries', { limit });
}

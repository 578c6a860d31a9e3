/**
 * Room upgrades (Client-Server API "Room Upgrades"): a new room of the asked
 * version whose create event names the old one as `predecessor`, the old
 * room's transferable state copied into it, an `m.room.tombstone` in the old
 * room naming the new one, and the old room's power levels raised so members
 * can no longer talk or invite there. Works between every pair of versions
 * Hearth supports; the power levels are translated where version 12's
 * privileged creators differ from the integer-only earlier versions.
 */
import { creatorsOf, isPowerLevelValue, powerLevelOf, requiredPowerForEvent } from '../core/auth/index.ts';
import { isHashRoomId } from '../core/ids.ts';
import { type JsonObject, isJsonObject } from '../core/json.ts';
import { type RoomVersionRules, SUPPORTED_ROOM_VERSIONS, isSupportedRoomVersion, roomVersion } from '../core/room-versions/registry.ts';
import { MatrixError, forbidden } from './errors.ts';
import type { Room } from './room.ts';

/** The state events the spec lists as transferred to the new room (state key ''), power levels apart. */
export const TRANSFERRED_STATE = [
  'm.room.server_acl',
  'm.room.encryption',
  'm.room.name',
  'm.room.avatar',
  'm.room.topic',
  'm.room.guest_access',
  'm.room.history_visibility',
  'm.room.join_rules',
] as const;

export const TOMBSTONE_BODY = 'This room has been replaced';

/** The plan for one upgrade, worked out from the old room's current state before anything is sent. */
export interface UpgradePlan {
  rules: RoomVersionRules;
  creationContent: JsonObject;
  powerLevels: JsonObject;
  initialState: { type: string; content: JsonObject }[];
  /** Joined members of the old room other than the upgrader: who is invited to the new room. */
  members: string[];
}

/** Refuses an upgrade the user may not make: an unknown version (400) or no power to send a tombstone (403). */
export function checkUpgrade(room: Room, userId: string, newVersion: unknown): RoomVersionRules {
  if (!isSupportedRoomVersion(newVersion)) {
    throw new MatrixError('M_UNSUPPORTED_ROOM_VERSION', `room version ${String(newVersion)} is not supported (${SUPPORTED_ROOM_VERSIONS.join(', ')})`);
  }
  const state = room.currentState();
  if (room.membership(userId, state) !== 'join') throw forbidden(`${userId} is not joined to ${room.roomId}`);
  const pl = room.stateEvent('m.room.power_levels', '', state);
  const mine = powerLevelOf(userId, pl, room.stateEvent('m.room.create', '', state), room.rules);
  const need = requiredPowerForEvent('m.room.tombstone', true, pl);
  if (mine < need) throw forbidden(`${userId} may not upgrade ${room.roomId}: sending m.room.tombstone needs power ${need}, they have ${mine}`);
  return roomVersion(newVersion);
}

/** Every integer level a power levels content names (to give the upgrader one at least as high). */
function levelsIn(content: JsonObject): number[] {
  const out: number[] = [];
  for (const [k, v] of Object.entries(content)) {
    if (isPowerLevelValue(v)) out.push(v);
    else if ((k === 'users' || k === 'events' || k === 'notifications') && isJsonObject(v)) for (const x of Object.values(v)) if (isPowerLevelValue(x)) out.push(x);
  }
  return out;
}

/**
 * The new room's power levels: the old ones, with the upgrader able to do everything they list.
 * Into version 12 the new room's creators (the upgrader and `additionalCreators`) are left out —
 * they have infinite power and may not be listed; out of version 12 the old room's creators, who
 * had infinite power there, get the highest level (as does the upgrader) since the new version
 * has no creators above the power levels.
 */
export function upgradedPowerLevels(
  old: JsonObject | undefined,
  oldCreators: readonly string[],
  upgrader: string,
  newRules: RoomVersionRules,
  additionalCreators: readonly string[],
): JsonObject {
  const content: JsonObject = { ...(old ?? {}) };
  const users: JsonObject = isJsonObject(content.users) ? { ...content.users } : {};
  content.users = users;
  const top = Math.max(100, ...levelsIn(content));
  if (newRules.auth.privilegedCreators) {
    for (const u of [upgrader, ...additionalCreators]) delete users[u];
    // Old creators who are not creators here keep being the room's top users.
    for (const u of oldCreators) if (u !== upgrader && !additionalCreators.includes(u)) users[u] = top;
  } else {
    for (const u of oldCreators) users[u] = top;
    users[upgrader] = top;
  }
  return content;
}

/** Works out the new room from the old room's current state (nothing is sent). */
export function planUpgrade(room: Room, userId: string, rules: RoomVersionRules, additionalCreators: readonly string[] = []): UpgradePlan {
  const state = room.currentState();
  const create = room.stateEvent('m.room.create', '', state);
  // The last event we know in the old room: required by versions before 12, dropped from 12 (MSC4291).
  const last = [...room.extremities].filter((id) => room.isDagNode(id)).sort((a, b) => (room.get(b)?.depth ?? 0) - (room.get(a)?.depth ?? 0) || (a < b ? -1 : 1))[0];
  const predecessor: JsonObject = { room_id: room.roomId, ...(!rules.auth.roomIdFromCreateEvent && last ? { event_id: last } : {}) };
  const creationContent: JsonObject = {
    predecessor,
    ...(rules.auth.privilegedCreators && additionalCreators.length > 0 ? { additional_creators: [...additionalCreators] } : {}),
  };
  const oldCreators = room.rules.auth.privilegedCreators ? [...creatorsOf(create, room.rules)] : [];
  const powerLevels = upgradedPowerLevels(room.stateEvent('m.room.power_levels', '', state)?.content, oldCreators, userId, rules, additionalCreators);
  const initialState: UpgradePlan['initialState'] = [];
  for (const type of TRANSFERRED_STATE) {
    const ev = room.stateEvent(type, '', state);
    // A redacted or emptied event (e.g. no name any more) is not worth copying.
    if (ev && Object.keys(ev.content).length > 0) initialState.push({ type, content: ev.content });
  }
  const members = room
    .members(state)
    .filter((m) => m.membership === 'join' && m.userId !== userId)
    .map((m) => m.userId);
  return { rules, creationContent, powerLevels, initialState, members };
}

/**
 * The old room's power levels once it is replaced: sending messages and inviting need
 * max(50, users_default + 1), so ordinary members can no longer talk there (the spec's advice).
 * Undefined when nothing changes.
 */
export function restrictedPowerLevels(old: JsonObject | undefined): JsonObject | undefined {
  const content: JsonObject = { ...(old ?? {}) };
  const usersDefault = isPowerLevelValue(content.users_default) ? content.users_default : 0;
  const restricted = Math.max(50, usersDefault + 1);
  let changed = false;
  for (const key of ['events_default', 'invite'] as const) {
    const current = isPowerLevelValue(content[key]) ? content[key] : 0;
    if (current < restricted) {
      content[key] = restricted;
      changed = true;
    }
  }
  return changed ? content : undefined;
}

/** What a room's tombstone says, if it has one: the replacement room and the server that sent it. */
export function tombstoneOf(room: Room): { replacementRoom: string; sender: string; eventId: string } | undefined {
  const ev = room.stateEvent('m.room.tombstone', '');
  const replacement = ev?.content.replacement_room;
  if (!ev || typeof replacement !== 'string' || !(replacement.startsWith('!') || isHashRoomId(replacement))) return undefined;
  return { replacementRoom: replacement, sender: ev.sender, eventId: ev.event_id };
}

/** The room a room's create event says it replaces, if any. */
export function predecessorOf(room: Room): { roomId: string; eventId?: string } | undefined {
  const p = room.stateEvent('m.room.create', '')?.content.predecessor;
  if (!isJsonObject(p) || typeof p.room_id !== 'string') return undefined;
  return { roomId: p.room_id, ...(typeof p.event_id === 'string' ? { eventId: p.event_id } : {}) };
}

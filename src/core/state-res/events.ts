/**
 * Per-event facts the state resolution v2 definitions are phrased in: which
 * events are *power events*, an event's `m.room.power_levels` auth event, and
 * its sender's power level "when looking at their respective auth_events"
 * (the first tie-break of the reverse topological power ordering).
 */
import type { JsonObject } from '../json.ts';
import type { RoomEvent } from '../pdu.ts';
import type { RoomVersionRules } from '../room-versions/types.ts';
import { CREATOR_POWER } from '../auth/power-levels.ts';
import { creatorsOf } from '../auth/state.ts';
import { createEventIdOfRoom } from '../ids.ts';
import type { EventSource } from './types.ts';

const POWER_LEVELS = 'm.room.power_levels';
const CREATE = 'm.room.create';

/**
 * A power event is an `m.room.power_levels` or `m.room.join_rules` state
 * event, or an `m.room.member` state event with membership `leave` or `ban`
 * whose sender is not its state_key (a kick or a ban, not a self-leave).
 */
export function isPowerEvent(ev: RoomEvent): boolean {
  if (typeof ev.state_key !== 'string') return false;
  if (ev.type === POWER_LEVELS || ev.type === 'm.room.join_rules') return ev.state_key === '';
  if (ev.type !== 'm.room.member') return false;
  const membership = ev.content.membership;
  return (membership === 'leave' || membership === 'ban') && ev.sender !== ev.state_key;
}

/** The first known auth event of `ev` with this type and an empty state_key. */
export function authEventOfType(ev: RoomEvent, type: string, source: EventSource): RoomEvent | undefined {
  for (const id of ev.auth_events) {
    const a = source.get(id);
    if (a !== undefined && a.type === type && a.state_key === '') return a;
  }
  return undefined;
}

/** The `m.room.power_levels` event among `ev`'s auth events (mainlines are built from these links). */
export function powerLevelsAuthEvent(ev: RoomEvent, source: EventSource): RoomEvent | undefined {
  return authEventOfType(ev, POWER_LEVELS, source);
}

function asInteger(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isSafeInteger(v) ? v : undefined;
}

/**
 * The sender's power level as the auth rules define it, read from the event's
 * own auth events: `users[sender]`, else `users_default`, else 0; with no
 * power levels event, the room creator has 100 and everyone else 0 (v11 and
 * later take the creator from the create event's sender, earlier versions
 * from `content.creator`). Room versions 10+ only allow integer levels, so a
 * non-integer value is treated as unset rather than parsed. In v12 the room
 * creators (create event from the room ID) have CREATOR_POWER, above any integer.
 */
export function senderPowerLevel(ev: RoomEvent, source: EventSource, rules: RoomVersionRules): number {
  if (rules.auth.privilegedCreators) {
    const create = roomCreateEvent(ev, source);
    if (create !== undefined && creatorsOf(create, rules).has(ev.sender)) return CREATOR_POWER;
  }
  const pl = powerLevelsAuthEvent(ev, source);
  if (pl !== undefined) {
    const users = pl.content.users;
    const own =
      typeof users === 'object' && users !== null && !Array.isArray(users)
        ? asInteger((users as JsonObject)[ev.sender])
        : undefined;
    return own ?? asInteger(pl.content.users_default) ?? 0;
  }
  const create = rules.auth.roomIdFromCreateEvent ? roomCreateEvent(ev, source) : authEventOfType(ev, CREATE, source);
  if (create === undefined) return 0;
  const creator = rules.auth.creatorFromSender ? create.sender : create.content.creator;
  return creator === ev.sender ? 100 : 0;
}

/**
 * The room's m.room.create event: in v12 the event whose ID the room ID is
 * (it is not among auth events), before that the create event in `ev`'s auth events.
 */
export function roomCreateEvent(ev: RoomEvent, source: EventSource): RoomEvent | undefined {
  if (ev.type === CREATE && ev.state_key === '' && ev.prev_events.length === 0) return ev;
  const id = createEventIdOfRoom(ev.room_id);
  if (id !== undefined) {
    const create = source.get(id);
    if (create !== undefined && create.type === CREATE) return create;
  }
  return authEventOfType(ev, CREATE, source);
}

/** Spec tie-break order on event IDs: plain string comparison (IDs are ASCII). */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

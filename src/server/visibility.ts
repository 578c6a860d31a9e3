/**
 * Which events a remote server may see (Server-Server API: servers answer
 * only what the origin may see). An event is visible to a server when, by
 * the room's history visibility at that event, one of the server's users
 * could see it; otherwise it is served redacted, which keeps the DAG intact
 * (signatures cover the redacted form) while hiding the content.
 */
import { splitStateKey, stateKey } from '../core/pdu.ts';
import type { RoomEvent } from '../core/pdu.ts';
import { redactEvent } from '../core/redaction.ts';
import type { Room } from './room.ts';
import type { StateMap } from './state-groups.ts';
import type { StoredEvent } from './store/types.ts';

function serverOf(userId: string): string {
  return userId.slice(userId.indexOf(':') + 1);
}

function memberships(room: Room, state: StateMap, server: string): string[] {
  const out: string[] = [];
  for (const [k, id] of state) {
    const [type, sk] = splitStateKey(k);
    if (type !== 'm.room.member' || serverOf(sk) !== server) continue;
    const m = (room.get(id)?.content as { membership?: unknown } | undefined)?.membership;
    if (typeof m === 'string') out.push(m);
  }
  return out;
}

export function historyVisibility(room: Room, state: StateMap): string {
  const v = (room.stateEvent('m.room.history_visibility', '', state)?.content as { history_visibility?: unknown } | undefined)
    ?.history_visibility;
  return typeof v === 'string' ? v : 'shared';
}

export function isVisibleToServer(room: Room, eventId: string, server: string): boolean {
  const stored = room.events.get(eventId);
  if (!stored || stored.state_group === undefined) return false;
  const state = room.stateAfter(eventId);
  const visibility = historyVisibility(room, state);
  if (visibility === 'world_readable') return true;
  const atEvent = memberships(room, state, server);
  if (atEvent.includes('join')) return true;
  if (visibility === 'invited' && atEvent.includes('invite')) return true;
  if (visibility === 'shared') {
    // "shared": visible to members who joined at any point after; a server
    // with a user joined or invited now may read the room's shared history
    // (one only knocking may not: it is asking to be let in).
    const now = memberships(room, room.currentState(), server);
    return now.includes('join') || now.includes('invite');
  }
  return false;
}

/** The event as `server` may receive it: whole, or redacted when not visible. */
export function eventForServer(room: Room, ev: RoomEvent, server: string): RoomEvent {
  if (isVisibleToServer(room, ev.event_id, server)) return ev;
  return redactEvent(ev, room.rules) as RoomEvent;
}

function membershipIn(room: Room, state: StateMap, userId: string): string {
  const id = state.get(stateKey('m.room.member', userId));
  const m = id === undefined ? undefined : (room.get(id)?.content as { membership?: unknown } | undefined)?.membership;
  return typeof m === 'string' ? m : 'leave';
}

/**
 * Whether `userId` may see the event (Client-Server API, history
 * visibility): by the visibility and the user's membership in the state at
 * the event — with `shared`, also while the user is joined now. A user
 * always sees their own membership events. So a user who left or was banned
 * sees nothing after their leave or ban (but the membership event itself),
 * and events their server received redacted (it could not see them) are not
 * shown to them as empty messages. The app's reads (timeline, room list)
 * and the Client-Server API both apply it.
 */
export function visibleToUser(room: Room, s: StoredEvent, userId: string): boolean {
  if (s.state_group === undefined) return false;
  if (s.pdu.type === 'm.room.member' && s.pdu.state_key === userId) return true;
  const state = room.groups.get(s.state_group);
  const visibility = historyVisibility(room, state);
  if (visibility === 'world_readable') return true;
  const atEvent = membershipIn(room, state, userId);
  if (atEvent === 'join') return true;
  if (visibility === 'invited' && atEvent === 'invite') return true;
  // "shared": visible to a user joined now, or who joined at any point after the event (spec:
  // history visibility, "shared") — so a user who left keeps what they could read before.
  if (visibility === 'shared') return membershipIn(room, room.currentState(), userId) === 'join' || latestJoinDepth(room, userId) >= s.pdu.depth;
  return false;
}

/** Per room: the depth of each user's deepest accepted join, recomputed when the room gains events. */
const joinDepths = new WeakMap<Room, { size: number; byUser: Map<string, number> }>();

function latestJoinDepth(room: Room, userId: string): number {
  let memo = joinDepths.get(room);
  if (!memo || memo.size !== room.events.size) {
    memo = { size: room.events.size, byUser: new Map() };
    joinDepths.set(room, memo);
  }
  let depth = memo.byUser.get(userId);
  if (depth === undefined) {
    depth = -1;
    for (const e of room.events.values()) {
      if (e.status !== 'accepted' || e.state_group === undefined || e.pdu.type !== 'm.room.member' || e.pdu.state_key !== userId) continue;
      if ((e.pdu.content as { membership?: unknown }).membership === 'join') depth = Math.max(depth, e.pdu.depth);
    }
    memo.byUser.set(userId, depth);
  }
  return depth;
}

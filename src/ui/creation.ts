/** Which items at the start of a room's timeline are its creation (shown as one line, details on request). */
import type { TimelineItem } from './api.ts';

/** State a room's creator sets up while creating it (createRoom's presets, name, topic…). */
const SET_UP = new Set([
  'm.room.power_levels',
  'm.room.join_rules',
  'm.room.history_visibility',
  'm.room.guest_access',
  'm.room.name',
  'm.room.topic',
  'm.room.avatar',
  'm.room.canonical_alias',
  'm.room.encryption',
  'm.room.server_acl',
]);

/** Set-up sent more than this long after the create event is a later change, not part of the creation. */
const CREATION_WINDOW_MS = 60_000;

/**
 * How many items at the start of `items` are the room's creation: the create event, then the
 * creator's own join and set-up, up to the first thing anyone else (or an invite) does, or the
 * first state set a second time (a rename right after creating the room is a change to show).
 */
export function creationLength(items: readonly TimelineItem[]): number {
  const create = items[0];
  if (create?.kind !== 'notice' || create.eventType !== 'm.room.create') return 0;
  const seen = new Set<string>();
  let n = 1;
  for (const item of items.slice(1)) {
    const key = `${item.eventType}\u0000${item.stateKey}`;
    const own = item.kind === 'notice' && item.sender === create.sender && !seen.has(key) && item.ts - create.ts < CREATION_WINDOW_MS;
    const setUp = own && (SET_UP.has(item.eventType ?? '') || (item.eventType === 'm.room.member' && item.stateKey === create.sender));
    if (!setUp) break;
    seen.add(key);
    n++;
  }
  return n;
}

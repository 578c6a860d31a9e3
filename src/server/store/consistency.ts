/**
 * A store's structural invariants, checked from the outside (after a crash,
 * say): what "no partial event" means for the engine's writes, which put an
 * event, its state group and the room's new extremities in one transaction.
 *
 * - every state group's `prev` is stored (but the empty group the create
 *   event's group may build on), and every event a group's delta names is
 *   stored;
 * - every event placed in the DAG (any status but 'outlier') has its state
 *   group, and each of its prev events is stored; an outlier's state group,
 *   if it names one, is stored;
 * - every room's current state group and forward extremities are stored.
 *
 * Read-only; reads every room's events and groups, so meant for tests,
 * soaks and offline checks, not a running server's hot path.
 */
import type { Store } from './types.ts';

/** One broken invariant, for a report. */
export interface Inconsistency {
  room_id: string;
  /** The event or state group concerned (`group N` for a state group). */
  subject: string;
  problem: string;
}

/** Every broken invariant in `store` (empty: consistent). */
export async function checkStoreConsistency(store: Store): Promise<Inconsistency[]> {
  const out: Inconsistency[] = [];
  for (const room of await store.listRooms()) {
    const roomId = room.room_id;
    const events = await store.roomEvents(roomId);
    const groups = await store.roomStateGroups(roomId);
    const eventIds = new Set(events.map((e) => e.event_id));
    const groupIds = new Set(groups.map((g) => g.id));
    /** An event of this room, or (rare: an event filed under another room) any stored one. */
    const has = async (eventId: string) => eventIds.has(eventId) || (await store.getEvent(eventId)) !== undefined;

    for (const g of groups) {
      const subject = `group ${g.id}`;
      // The state before m.room.create is empty: the engine keeps that group in memory only
      // (room.ts emptyGroup), so the create event's group may be a delta on an unstored group.
      const onEmpty = g.chain === 1 && 'm.room.create\u0000' in g.delta;
      if (g.prev !== undefined && !groupIds.has(g.prev) && !onEmpty) out.push({ room_id: roomId, subject, problem: `its prev group ${g.prev} is missing` });
      for (const [k, eventId] of Object.entries(g.delta)) {
        if (!(await has(eventId))) out.push({ room_id: roomId, subject, problem: `state ${JSON.stringify(k)} names ${eventId}, which is missing` });
      }
    }
    for (const ev of events) {
      const subject = ev.event_id;
      if (ev.state_group !== undefined && !groupIds.has(ev.state_group)) {
        out.push({ room_id: roomId, subject, problem: `its state group ${ev.state_group} is missing` });
      }
      if (ev.status === 'outlier') continue;
      if (ev.state_group === undefined) out.push({ room_id: roomId, subject, problem: `${ev.status} but has no state group` });
      for (const prev of ev.pdu.prev_events ?? []) {
        if (!(await has(prev))) out.push({ room_id: roomId, subject, problem: `its prev event ${prev} is missing` });
      }
    }
    if (!groupIds.has(room.state_group)) out.push({ room_id: roomId, subject: 'room', problem: `its current state group ${room.state_group} is missing` });
    for (const x of room.extremities) {
      if (!(await has(x))) out.push({ room_id: roomId, subject: 'room', problem: `its forward extremity ${x} is missing` });
    }
  }
  return out;
}

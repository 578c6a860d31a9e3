/**
 * Placing an event in a room's DAG: its state after, its status, the
 * forward extremities and the current state. Used for events we create and
 * events we receive alike, so both follow one set of rules.
 */
import { type RoomEvent, isStateEvent, stateKey } from '../core/pdu.ts';
import type { Engine } from './engine.ts';
import type { Room } from './room.ts';
import type { EventStatus, StateGroupRecord, StoredEvent } from './store/types.ts';

export interface Placement {
  stored: StoredEvent;
  groups: StateGroupRecord[];
  /** Whether the room's current state changed. */
  stateChanged: boolean;
}

/** The PDU without the event_id we attach in memory. */
export function pduOf(ev: RoomEvent): StoredEvent['pdu'] {
  const { event_id: _id, ...pdu } = ev;
  return pdu as StoredEvent['pdu'];
}

/**
 * Puts `ev` in the DAG with state before `beforeGroup`. Rejected events stay
 * DAG nodes (their children need a state) but change neither the state nor
 * the extremities. Soft-failed events count as extremities: state
 * resolution, not arrival timing, decides their effect, so every server
 * converges on the same state whatever it saw first.
 */
export function placeInDag(
  e: Engine,
  room: Room,
  ev: RoomEvent,
  status: EventStatus,
  beforeGroup: number,
  reason?: string,
): Placement {
  const groups: StateGroupRecord[] = [];
  let after = beforeGroup;
  if (status !== 'rejected' && isStateEvent(ev)) {
    const g = room.groups.createWith(beforeGroup, stateKey(ev.type, ev.state_key!), ev.event_id);
    groups.push(g);
    after = g.id;
  }
  const previous = room.events.get(ev.event_id);
  const stored: StoredEvent = {
    event_id: ev.event_id,
    room_id: room.roomId,
    stream: previous?.stream ?? e.nextStream(),
    status,
    ...(reason ? { reason } : {}),
    state_group: after,
    pdu: pduOf(ev),
    ...(previous?.redacted_by ? { redacted_by: previous.redacted_by } : {}),
  };
  if (previous && previous.state_group === undefined) stored.stream = e.nextStream();
  room.put(stored);
  let stateChanged = false;
  if (status === 'accepted' || status === 'soft_failed') {
    const hasLiveChild = room.childrenOf(ev.event_id).some((c) => {
      const s = room.events.get(c)?.status;
      return s === 'accepted' || s === 'soft_failed';
    });
    for (const p of ev.prev_events) room.extremities.delete(p);
    if (!hasLiveChild) room.extremities.add(ev.event_id);
    const refreshed = refreshCurrentState(room);
    if (refreshed.created) groups.push(refreshed.created);
    stateChanged = refreshed.changed;
  }
  return { stored, groups, stateChanged };
}

/** Recomputes the current state as the resolution of the states after every extremity. */
export function refreshCurrentState(room: Room): { changed: boolean; created?: StateGroupRecord } {
  const ids = [...room.extremities].filter((id) => room.isDagNode(id));
  if (ids.length === 0) return { changed: false };
  const { group, created } = room.resolveGroups(room.prevGroups(ids));
  const changed = group !== room.currentGroup;
  room.currentGroup = group;
  return created ? { changed, created } : { changed };
}

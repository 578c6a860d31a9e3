/**
 * Handling redactions (room versions 3+): the auth rules let any member send
 * an m.room.redaction; whether it takes effect is decided here — the sender
 * has the power level to redact, or the redacted event was sent by a user of
 * the same server as the redaction. A redaction seen before its target is
 * applied when the target arrives.
 */
import { namedLevel, powerLevelOf } from '../core/auth/index.ts';
import { isJsonObject } from '../core/json.ts';
import type { RoomEvent } from '../core/pdu.ts';
import { redactEvent } from '../core/redaction.ts';
import type { Room } from './room.ts';
import type { StoredEvent } from './store/types.ts';

export function redactsOf(ev: RoomEvent | StoredEvent['pdu'], room: Room): string | undefined {
  if (ev.type !== 'm.room.redaction') return undefined;
  const fromContent = isJsonObject(ev.content) ? ev.content.redacts : undefined;
  const target = room.rules.redactsInContent ? fromContent : (ev.redacts ?? fromContent);
  return typeof target === 'string' ? target : undefined;
}

function domain(userId: string): string {
  return userId.slice(userId.indexOf(':') + 1);
}

/** Whether `redaction` may redact `target` (Handling redactions). */
export function redactionAllowed(room: Room, redaction: RoomEvent, target: RoomEvent): boolean {
  if (domain(redaction.sender) === domain(target.sender)) return true;
  const state = room.events.get(redaction.event_id)?.state_group !== undefined ? room.stateAfter(redaction.event_id) : room.currentState();
  const pl = room.stateEvent('m.room.power_levels', '', state);
  const create = room.stateEvent('m.room.create', '', state);
  return powerLevelOf(redaction.sender, pl, create, room.rules) >= namedLevel('redact', pl);
}

/**
 * Applies redactions among `placed` (and redactions waiting for targets in
 * `placed`); returns the updated target records to persist. State events
 * keep their redacted form in state: their auth-relevant keys survive.
 */
export function applyRedactions(room: Room, placed: readonly StoredEvent[]): StoredEvent[] {
  const updates: StoredEvent[] = [];
  const apply = (redactionId: string, targetId: string) => {
    const redaction = room.get(redactionId);
    const target = room.events.get(targetId);
    const targetEv = room.get(targetId);
    if (!redaction || !target || !targetEv || target.redacted_by) return;
    if (!redactionAllowed(room, redaction, targetEv)) return;
    const redacted = redactEvent(target.pdu, room.rules) as unknown as StoredEvent['pdu'];
    const updated: StoredEvent = { ...target, pdu: redacted, redacted_by: redactionId };
    room.put(updated);
    updates.push(updated);
  };
  for (const s of placed) {
    if (s.status !== 'accepted' && s.status !== 'soft_failed') continue;
    const target = redactsOf(s.pdu, room);
    if (target) {
      if (room.events.has(target)) apply(s.event_id, target);
      else room.pendingRedactions.set(target, s.event_id);
    }
    const waiting = room.pendingRedactions.get(s.event_id);
    if (waiting) {
      room.pendingRedactions.delete(s.event_id);
      apply(waiting, s.event_id);
    }
  }
  return updates;
}


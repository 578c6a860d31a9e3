import { describe, expect, it } from 'vitest';
import type { TimelineItem } from '../../src/ui/api.ts';
import { creationLength } from '../../src/ui/creation.ts';

const A = '@alice:hs1';
const B = '@bob:hs2';
let clock = 1_000;

function notice(sender: string, eventType: string, stateKey = '', ts = ++clock): TimelineItem {
  return { event_id: `$${clock}-${eventType}`, sender, ts, kind: 'notice', edited: false, reactions: [], eventType, stateKey, notice: eventType };
}
function msg(sender: string): TimelineItem {
  return { event_id: `$m${++clock}`, sender, ts: clock, kind: 'message', edited: false, reactions: [], body: 'hi' };
}

/** What createRoom with a name and the private_chat preset sends. */
const created = () => [
  notice(A, 'm.room.create'),
  notice(A, 'm.room.member', A),
  notice(A, 'm.room.power_levels'),
  notice(A, 'm.room.join_rules'),
  notice(A, 'm.room.history_visibility'),
  notice(A, 'm.room.guest_access'),
  notice(A, 'm.room.name'),
];

describe('creationLength', () => {
  it.each<[string, () => TimelineItem[], number]>([
    ['no create event in the window', () => [notice(A, 'm.room.name'), msg(A)], 0],
    ['empty', () => [], 0],
    ['the whole creation, then a message', () => [...created(), msg(A)], 7],
    ['an invitation ends it', () => [...created(), notice(A, 'm.room.member', B), notice(A, 'm.room.topic')], 7],
    ['someone else ends it', () => [...created(), notice(B, 'm.room.member', B)], 7],
    ['a rename right after creating is a change to show', () => [...created(), notice(A, 'm.room.name')], 7],
    ['set-up long after the creation is a change to show', () => [...created(), notice(A, 'm.room.topic', '', clock + 120_000)], 7],
    ['the creator changing their name is a change to show', () => [...created(), notice(A, 'm.room.member', A)], 7],
    ['only the create event', () => [notice(A, 'm.room.create'), msg(A)], 1],
  ])('%s', (_name, items, n) => {
    expect(creationLength(items())).toBe(n);
  });
});

import { describe, expect, it } from 'vitest';
import { type EventNode, type RoomSnapshot, type ServerRoomSnapshot, check, dagWidth } from '../../src/sim/checker.ts';

/** A linear history create -> join -> m1 -> m2, with a fork m3a | m3b merged by m4. */
const node = (eventId: string, prevEvents: string[], depth: number, extra: Partial<EventNode> = {}): EventNode => ({
  eventId,
  prevEvents,
  depth,
  status: 'accepted',
  sender: '@alice:a',
  type: 'm.room.message',
  ...extra,
});
const DAG: EventNode[] = [
  node('$create', [], 1, { type: 'm.room.create', stateKey: '' }),
  node('$join', ['$create'], 2, { type: 'm.room.member', stateKey: '@alice:a' }),
  node('$m1', ['$join'], 3),
  node('$m2a', ['$m1'], 4),
  node('$m2b', ['$m1'], 4, { sender: '@bob:b' }),
  node('$m3', ['$m2a', '$m2b'], 5),
];
const IDS = DAG.map((n) => n.eventId).sort();
const STATE = { 'm.room.create\u0000': '$create', 'm.room.member\u0000@alice:a': '$join' };

function server(label: string, over: Partial<ServerRoomSnapshot> = {}): ServerRoomSnapshot {
  return {
    server: label,
    live: true,
    joined: true,
    accepted: [...IDS],
    dag: DAG,
    state: { ...STATE },
    timeline: DAG.map((n) => n.eventId),
    senderMembershipBefore: {},
    ...over,
  };
}
const room = (servers: ServerRoomSnapshot[], mustSurvive: string[] = IDS): RoomSnapshot[] => [{ room: 'r', servers, mustSurvive }];

describe('check', () => {
  it('accepts a healthy history', () => {
    const r = check(room([server('a'), server('b'), server('c')]));
    expect(r.violations).toEqual([]);
    expect(r.ok).toBe(true);
    expect(dagWidth(DAG)).toBe(1);
  });

  it('convergence: different accepted sets fail, naming what each lacks', () => {
    const r = check(room([server('a'), server('b', { accepted: IDS.filter((id) => id !== '$m2b') })], []));
    expect(r.ok).toBe(false);
    expect(r.violations.map((v) => v.invariant)).toEqual(['convergence']);
    expect(r.violations[0]!.detail).toContain('b lacks $m2b');
    expect(r.divergence[0]!.servers.b!.missing).toEqual(['$m2b']);
    expect(r.divergence[0]!.servers.a!.extra).toEqual(['$m2b']);
  });

  it('convergence: same events but a different resolved state fails', () => {
    const r = check(room([server('a'), server('b', { state: { ...STATE, 'm.room.topic\u0000': '$m1' } })]));
    expect(r.violations.map((v) => v.invariant)).toEqual(['convergence']);
    expect(r.violations[0]!.detail).toContain('m.room.topic|');
    expect(r.divergence[0]!.state['m.room.topic|']).toEqual({ a: null, b: '$m1' });
  });

  it('convergence ignores servers that are down or have no joined user', () => {
    const r = check(room([server('a'), server('b', { live: false, accepted: [] }), server('c', { joined: false, accepted: ['$create'] })], []));
    expect(r.ok).toBe(true);
  });

  it('lost event: an event accepted during the run but missing at the end fails', () => {
    const lost = IDS.filter((id) => id !== '$m3');
    const r = check(room([server('a', { accepted: lost }), server('b', { accepted: lost })]));
    expect(r.violations.map((v) => v.invariant)).toEqual(['lost_event', 'lost_event']);
    expect(r.violations[0]!.detail).toContain('$m3');
  });

  it('causal order: an event shown before its prev_event fails', () => {
    const timeline = ['$create', '$join', '$m2a', '$m1', '$m2b', '$m3'];
    const r = check(room([server('a'), server('b', { timeline })]));
    expect(r.violations).toHaveLength(1);
    expect(r.violations[0]).toMatchObject({ invariant: 'causal_order', server: 'b' });
    expect(r.violations[0]!.detail).toContain('$m2a is shown at 2, before its prev_event $m1');
  });

  it('auth: an accepted event whose sender is banned in the state before it fails', () => {
    const r = check(room([server('a', { senderMembershipBefore: { $m2b: 'ban', $m1: 'join' } }), server('b')]));
    expect(r.violations).toHaveLength(1);
    expect(r.violations[0]).toMatchObject({ invariant: 'auth', server: 'a' });
    expect(r.violations[0]!.detail).toContain('@bob:b is banned');
  });

  it('auth: a rejected event from a banned sender is fine', () => {
    const dag = DAG.map((n) => (n.eventId === '$m2b' ? { ...n, status: 'rejected' } : n));
    const ids = IDS.filter((id) => id !== '$m2b');
    const snap = (l: string) => server(l, { dag, accepted: ids, senderMembershipBefore: { $m2b: 'ban' } });
    expect(check(room([snap('a'), snap('b')], ids)).ok).toBe(true);
  });
});

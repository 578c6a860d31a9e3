/**
 * EDUs across servers (typing, read receipts, presence) and redactions
 * (Client-Server "Redactions", Server-Server "Handling redactions"): a
 * redaction takes effect on every server when its sender may redact the
 * target, and nowhere when not.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createLocalEventLocked } from '../../src/server/local-events.ts';
import { Cluster, type ClusterServer } from '../../src/sim/cluster.ts';
import { ROOM_VERSIONS, converge, expectRefused, twoServersInRoom, waitFor } from './engine-helpers.ts';

let cluster: Cluster;
afterEach(() => cluster?.stopAll());

function pair(version = 'I.1') {
  cluster = new Cluster();
  return twoServersInRoom(cluster, version);
}

describe('EDUs', () => {
  it('typing shows on the other server and stops', async () => {
    const { a, b, alice, bob, roomId } = await pair();
    await b.client.setTyping(bob, roomId, true);
    expect(b.client.typing(roomId)).toEqual([bob]);
    await waitFor(cluster, () => a.client.typing(roomId).includes(bob), 'a to see bob typing');
    await a.client.setTyping(alice, roomId, true);
    await waitFor(cluster, () => b.client.typing(roomId).length === 2, 'b to see both typing');
    await b.client.setTyping(bob, roomId, false);
    await waitFor(cluster, () => !a.client.typing(roomId).includes(bob), 'a to see bob stop typing');
    expect(a.client.typing(roomId)).toEqual([alice]);
  });

  it('a typing change goes by broadcast alone to the servers the broadcast reaches', async () => {
    const { a, b, alice, roomId } = await pair();
    const sent = () => ({ ...cluster.net.stats.get(a.hs.serverName) });
    const before = sent();
    await a.client.setTyping(alice, roomId, true);
    await waitFor(cluster, () => b.client.typing(roomId).includes(alice), 'b to see alice typing');
    const after = sent();
    expect((after.broadcasts ?? 0) - (before.broadcasts ?? 0)).toBe(1);
    expect((after.requests ?? 0) - (before.requests ?? 0)).toBe(0);
  });

  it('read receipts arrive, and survive a restart of the receiving server', async () => {
    const { a, b, alice, bob, roomId } = await pair();
    const m1 = await a.client.sendMessage(alice, roomId, 'read me');
    await waitFor(cluster, () => b.client.messageBodies(bob, roomId).includes('read me'), 'b to get the message');
    await b.client.sendReceipt(bob, roomId, m1);
    await waitFor(cluster, () => a.client.receipts(roomId)[bob] === m1, 'a to get bob’s receipt');
    expect((await a.client.rooms(alice)).find((r) => r.roomId === roomId)?.unread).toBe(0);
    await cluster.crash('a');
    const a2 = await cluster.restart('a');
    expect(a2.client.receipts(roomId)[bob]).toBe(m1);
  });

  it('presence arrives at servers sharing a room', async () => {
    const { a, b, bob } = await pair();
    expect(a.client.presence(bob)).toBe('offline');
    await b.client.setPresence(bob, 'online', 'around');
    await waitFor(cluster, () => a.client.presence(bob) === 'online', 'a to see bob online');
    expect(a.hs.ephemeral.presence.get(bob)?.statusMsg).toBe('around');
    await b.client.setPresence(bob, 'unavailable');
    await waitFor(cluster, () => a.client.presence(bob) === 'unavailable', 'a to see bob away');
  });
});

describe.each(ROOM_VERSIONS)('redactions, room version %s', (version) => {
  it('taking back a reaction redacts only our own reaction with that key, on every server', async () => {
    const { a, b, alice, bob, roomId } = await pair(version);
    const m = await a.client.sendMessage(alice, roomId, 'react to me');
    await converge(cluster, roomId);
    await a.client.react(alice, roomId, m, '👍');
    await a.client.react(alice, roomId, m, '🎉');
    await b.client.react(bob, roomId, m, '👍');
    await converge(cluster, roomId);
    const reactions = (s: ClusterServer, user: string) =>
      s.client.timeline(user, roomId).items.find((i) => i.event_id === m)?.reactions.map((r) => `${r.key}:${r.senders.join('+')}`);
    expect(reactions(b, bob)).toEqual([`👍:${alice}+${bob}`, `🎉:${alice}`]);
    const redactions = await a.client.unreact(alice, roomId, m, '👍');
    expect(redactions).toHaveLength(1);
    await converge(cluster, roomId);
    for (const [s, user] of [
      [a, alice],
      [b, bob],
    ] as const) {
      expect(reactions(s, user)?.sort()).toEqual([`👍:${bob}`, `🎉:${alice}`].sort());
    }
    // Nothing left to take back: no event is sent.
    expect(await a.client.unreact(alice, roomId, m, '👍')).toEqual([]);
  });

  it('a redacted message shows as redacted on every server', async () => {
    const { a, b, alice, bob, roomId } = await pair(version);
    const m1 = await a.client.sendMessage(alice, roomId, 'oops');
    const m2 = await b.client.sendMessage(bob, roomId, 'mine to take back');
    await converge(cluster, roomId);
    const r1 = await a.client.redact(alice, roomId, m1, 'typo');
    const r2 = await b.client.redact(bob, roomId, m2);
    await converge(cluster, roomId);
    for (const [s, user] of [
      [a, alice],
      [b, bob],
    ] as const) {
      expect(s.client.event(roomId, m1).redactedBy, `${s.label} m1`).toBe(r1);
      expect(s.client.event(roomId, m1).event.content, `${s.label} m1`).toEqual({});
      expect(s.client.event(roomId, m2).redactedBy, `${s.label} m2`).toBe(r2);
      expect(s.client.redactionTarget(roomId, r1)).toBe(m1);
      expect(s.client.messageBodies(user, roomId)).toEqual([]);
    }
  });

  it('a redaction without power over someone else’s event does not redact it anywhere', async () => {
    const { a, b, alice, bob, roomId } = await pair(version);
    const target = await a.client.sendMessage(alice, roomId, 'alice speaks');
    await converge(cluster, roomId);
    // the client API refuses it up front
    await expectRefused(b.client.redact(bob, roomId, target), 'M_FORBIDDEN', /redact/);
    // a modified client sends it anyway (the auth rules let any member send m.room.redaction)
    const room = b.hs.rooms.get(roomId)!;
    const redaction = await room.lock.run(() =>
      createLocalEventLocked(b.hs, room, {
        type: 'm.room.redaction',
        sender: bob,
        content: room.rules.redactsInContent ? { redacts: target } : {},
        ...(room.rules.redactsInContent ? {} : { redacts: target }),
      }),
    );
    await converge(cluster, roomId);
    for (const [s, user] of [
      [a, alice],
      [b, bob],
    ] as const) {
      expect(s.client.acceptedEventIds(roomId)).toContain(redaction.event_id);
      expect(s.client.event(roomId, target).redactedBy, s.label).toBeUndefined();
      expect(s.client.messageBodies(user, roomId)).toEqual(['alice speaks']);
    }
  });

  it('a moderator may redact another user’s message, on every server', async () => {
    const { a, b, alice, bob, roomId } = await pair(version);
    const target = await b.client.sendMessage(bob, roomId, 'spam');
    await waitFor(cluster, () => a.client.messageBodies(alice, roomId).includes('spam'), 'a to get the spam');
    const r = await a.client.redact(alice, roomId, target, 'spam');
    await converge(cluster, roomId);
    expect(b.client.event(roomId, target).redactedBy).toBe(r);
    expect(b.client.messageBodies(bob, roomId)).toEqual([]);
  });

  it('a redacted state event stays in state with its redacted content, on every server', async () => {
    const { a, b, alice, roomId } = await pair(version);
    const topic = await a.client.setState(alice, roomId, 'm.room.topic', '', { topic: 'leaked password' });
    await converge(cluster, roomId);
    const r = await a.client.redact(alice, roomId, topic);
    await converge(cluster, roomId);
    for (const s of [a, b]) {
      expect(s.client.stateIds(roomId)['m.room.topic']?.['']).toBe(topic);
      expect(s.client.state(roomId)['m.room.topic']?.['']).toEqual({});
      expect(s.client.event(roomId, topic).redactedBy).toBe(r);
    }
  });
});

/**
 * The room list's summary (last message, unread count) reads only the messages that can be
 * unread — those deeper than the read receipt — not the room's whole history; what it says
 * must not change for it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster } from '../../src/sim/cluster.ts';
import { twoServersInRoom, waitFor } from './engine-helpers.ts';

let cluster: Cluster;
afterEach(() => cluster?.stopAll());

describe('room summary on a long room', () => {
  it('counts the messages after the read receipt (edits folded in) and shows the last one as edited', async () => {
    cluster = new Cluster();
    const { a, b, alice, bob, roomId } = await twoServersInRoom(cluster);
    const ids: string[] = [];
    for (let i = 0; i < 240; i++) ids.push(await a.client.sendMessage(alice, roomId, `message ${i}`));
    // An edit of an old message (before the receipt) and one of the newest: neither is a message to read.
    await a.client.edit(alice, roomId, ids[10]!, 'message 10, edited');
    await a.client.edit(alice, roomId, ids[239]!, 'message 239, edited');
    const summary = async () => (await b.client.rooms(bob)).find((r) => r.roomId === roomId)!;
    await waitFor(cluster, () => b.client.messageBodies(bob, roomId).includes('message 239, edited'), 'b to get every message');
    expect((await summary()).unread).toBe(240);
    await b.client.sendReceipt(bob, roomId, ids[199]!);
    const s = await summary();
    expect(s.unread).toBe(40);
    expect(s.lastMessage?.body).toBe('message 239, edited');
    await b.client.sendReceipt(bob, roomId, ids[239]!);
    expect((await summary()).unread).toBe(0);
    expect((await summary()).lastMessage?.body).toBe('message 239, edited');
    // Bob's own message is never unread for him.
    await b.client.sendMessage(bob, roomId, 'mine');
    expect((await summary()).unread).toBe(0);
    expect((await summary()).lastMessage?.body).toBe('mine');
  }, 60_000);
});

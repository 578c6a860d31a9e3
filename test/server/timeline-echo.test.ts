/**
 * The app's local echo and the room's own item for one message (HomeserverClient's
 * unstoredEchoes): the room shows an event as soon as it is in memory, which is before its
 * write is stored. Until then the timeline names the echo on the item, so the app shows one
 * row — the echo, *sending* or *not saved* with its Retry — not the echo and the message
 * side by side (a room-upgrade e2e run found both rows, the echo stuck as *sending*, while a
 * slow grouped write held the send's answer back).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { HeldEventError } from '../../src/server/local-events.ts';
import { Cluster, type ClusterServer } from '../../src/sim/cluster.ts';
import { slowStorage } from './engine-helpers.ts';

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.stopAll();
  cluster = undefined;
});

/** One server with alice in a private room of her own. */
async function aliceAlone() {
  cluster = new Cluster();
  const a = await cluster.add('a');
  const alice = await a.hs.register('alice');
  const roomId = await a.client.createRoom(alice, { preset: 'private_chat' });
  return { a, alice, roomId };
}

function itemOf(s: ClusterServer, user: string, roomId: string, body: string) {
  return s.client.timeline(user, roomId).items.find((i) => i.body === body);
}

describe('a message sent with an echo', () => {
  it('names the echo on its timeline item until the write is stored, and no longer after', async () => {
    const { a, alice, roomId } = await aliceAlone();

    const release = slowStorage(a);
    const sending = a.client.sendMessage(alice, roomId, 'on a slow disk', { echo: 'local-1' });
    // The event is in the room before its write lands: the item says which echo stands for it.
    await expect.poll(() => itemOf(a, alice, roomId, 'on a slow disk')?.echo).toBe('local-1');
    release();
    const eventId = await sending;
    const item = itemOf(a, alice, roomId, 'on a slow disk');
    expect(item?.event_id).toBe(eventId);
    expect(item?.echo).toBeUndefined();
  });

  it('a send without an echo (another client, the API) never names one', async () => {
    const { a, alice, roomId } = await aliceAlone();
    const release = slowStorage(a);
    const sending = a.client.sendMessage(alice, roomId, 'plain');
    await expect.poll(() => itemOf(a, alice, roomId, 'plain')).toBeDefined();
    expect(itemOf(a, alice, roomId, 'plain')?.echo).toBeUndefined();
    release();
    await sending;
  });

  it('a held write (storage full) keeps the echo named until the held event is written', async () => {
    const { a, alice, roomId } = await aliceAlone();
    const write = a.store.write.bind(a.store);
    a.store.write = async () => {
      throw new DOMException('the origin has no room left', 'QuotaExceededError');
    };
    const err = await a.client.sendMessage(alice, roomId, 'held', { echo: 'local-2' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(HeldEventError);
    expect(itemOf(a, alice, roomId, 'held')?.echo).toBe('local-2');
    a.store.write = write;
    await a.hs.flushWrites();
    await expect.poll(() => itemOf(a, alice, roomId, 'held')?.echo).toBeUndefined();
    expect(itemOf(a, alice, roomId, 'held')?.event_id).toBe((err as HeldEventError).eventId);
  });
});

/**
 * A local send while the store refuses writes (a full disk, the browser's
 * quota): the event is already part of the room in memory and its write is
 * held, not dropped (Homeserver.commit). The sender is told which event it is
 * ("held as $…"), it is queued for delivery only once stored (the first one,
 * whose write was refused only after its broadcast went, may be at the peers
 * already; no send after it is broadcast while a write is held), and a retry —
 * the app's Retry, or a client repeating its transaction ID — writes the held
 * event instead of creating a second copy (issue 17: "nothing half-written",
 * and a Retry that sent the message twice).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { heldEventIdOf } from '../../src/server/held-write.ts';
import { HeldEventError } from '../../src/server/local-events.ts';
import type { WriteBatch } from '../../src/server/store/types.ts';
import { Cluster, type ClusterServer } from '../../src/sim/cluster.ts';
import { apiServer, call, enc, register } from '../client-api/helpers.ts';
import { addThreeServers, converge, waitFor } from './engine-helpers.ts';

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.stopAll();
  cluster = undefined;
});

/** Makes `s`'s store refuse every write as a full quota does, until the returned function is called. */
function fillStorage(s: ClusterServer): () => void {
  const write = s.store.write.bind(s.store);
  s.store.write = async (_batch: WriteBatch) => {
    throw new DOMException('the origin has no room left', 'QuotaExceededError');
  };
  return () => {
    s.store.write = write;
  };
}

function messagesWithBody(s: ClusterServer, roomId: string, body: string): string[] {
  return s.client.acceptedEventIds(roomId).filter((id) => (s.client.event(roomId, id).event.content as { body?: unknown })?.body === body);
}

describe('a local send while storage is full', () => {
  it('is held, not lost and not announced; Retry writes it once and peers get it then', async () => {
    cluster = new Cluster();
    const { a, c, alice } = await addThreeServers(cluster);
    const roomId = await a.client.createRoom(alice, { preset: 'public_chat' });
    await c.client.join(await c.hs.register('carl'), roomId, [a.hs.serverName]);
    await converge(cluster, roomId, ['a', 'c']);

    const announced: string[] = [];
    a.hs.subscribe((u) => {
      if (u.kind === 'event') announced.push(u.eventId);
    });
    const restore = fillStorage(a);
    const err = await a.client.sendMessage(alice, roomId, 'written when there is room').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(HeldEventError);
    const message = (err as Error).message;
    expect(message).toMatch(/QuotaExceededError/);
    const held = heldEventIdOf(message);
    expect(held).toBe((err as HeldEventError).eventId);
    expect(a.hs.hasUnstoredWrites).toBe(true);
    expect(announced).not.toContain(held);
    // Broadcast while its write was under way (local-events.ts), the peer may show it already.
    // A send made once a write is known to be held is neither broadcast nor queued.
    const second = await a.client.sendMessage(alice, roomId, 'also waiting').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(second).toBeInstanceOf(HeldEventError);
    const heldSecond = (second as HeldEventError).eventId;
    await new Promise((r) => setTimeout(r, 300));
    expect(messagesWithBody(c, roomId, 'also waiting')).toEqual([]);
    expect(messagesWithBody(c, roomId, 'written when there is room').length).toBeLessThanOrEqual(1);

    // Retry while still full: refused again, nothing new is created.
    await expect(a.hs.flushWrites()).rejects.toThrow(/QuotaExceededError/);
    expect(messagesWithBody(a, roomId, 'written when there is room')).toEqual([held]);

    restore();
    await a.hs.flushWrites();
    expect(a.hs.hasUnstoredWrites).toBe(false);
    expect(announced).toContain(held);
    expect(announced).toContain(heldSecond);
    await waitFor(cluster, () => messagesWithBody(c, roomId, 'also waiting').length === 1, 'c to get the held messages');
    await converge(cluster, roomId, ['a', 'c']);
    expect(messagesWithBody(a, roomId, 'written when there is room')).toEqual([held]);
    expect(messagesWithBody(c, roomId, 'written when there is room')).toEqual([held]);
    expect(messagesWithBody(c, roomId, 'also waiting')).toEqual([heldSecond]);

    // On disk: a restart still has it, once.
    await cluster.crash('a');
    const a2 = await cluster.restart('a');
    expect(messagesWithBody(a2, roomId, 'written when there is room')).toEqual([held]);
  });

  it('Client-Server API: a retry of the same transaction ID answers the held event, never a second copy', async () => {
    cluster = new Cluster();
    const a = await apiServer(cluster, 'a');
    const alice = await register(a.api, 'alice');
    const created = await call(a.api, 'POST', '/createRoom', { preset: 'private_chat' }, alice.token);
    const roomId = created.json.room_id as string;
    const path = `/rooms/${enc(roomId)}/send/m.room.message/t1`;
    const content = { msgtype: 'm.text', body: 'once only' };

    const restore = fillStorage(a);
    const first = await call(a.api, 'PUT', path, content, alice.token);
    expect(first.status).toBe(500);
    expect(first.json.error).toMatch(/QuotaExceededError/);
    const held = heldEventIdOf(first.json.error as string);
    expect(held).toMatch(/^\$/);
    const stillFull = await call(a.api, 'PUT', path, content, alice.token);
    expect(stillFull.status).toBe(500);

    restore();
    const retried = await call(a.api, 'PUT', path, content, alice.token);
    expect(retried.status, JSON.stringify(retried.json)).toBe(200);
    expect(retried.json.event_id).toBe(held);
    const again = await call(a.api, 'PUT', path, content, alice.token);
    expect(again.json.event_id).toBe(held);
    expect(messagesWithBody(a, roomId, 'once only')).toEqual([held]);
  });
});

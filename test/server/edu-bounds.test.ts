/**
 * Issue 14, item 5: presence, typing and receipts are accepted only for
 * users who share a room with us, and the presence table is bounded.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { keyPairFromSeed } from '../../src/core/ed25519.ts';
import type { JsonObject } from '../../src/core/json.ts';
import { peerIdFromPublicKey } from '../../src/core/peer-id.ts';
import { handleFederationRequest } from '../../src/server/federation-server.ts';
import type { Homeserver } from '../../src/server/homeserver.ts';
import { Cluster } from '../../src/sim/cluster.ts';
import { converge, twoServersInRoom } from './engine-helpers.ts';

let cluster: Cluster;
afterEach(() => cluster?.stopAll());

let txn = 0;
async function sendEdus(hs: Homeserver, origin: string, edus: JsonObject[]): Promise<void> {
  const res = await handleFederationRequest(hs, origin, {
    kind: 'send',
    txn_id: `edus${++txn}`,
    body: { origin, origin_server_ts: Date.now(), pdus: [], edus } as never,
  });
  expect(res.ok, JSON.stringify(res.body)).toBe(true);
}

const presence = (users: string[], state = 'online'): JsonObject => ({
  edu_type: 'm.presence',
  content: { push: users.map((user_id) => ({ user_id, presence: state, last_active_ago: 10 })) },
});

describe('presence, typing and receipt floods', () => {
  it('drops them for users sharing no room with us, keeps presence of a user in a shared room', async () => {
    cluster = new Cluster();
    const { a, b, bob, roomId } = await twoServersInRoom(cluster);
    // A server sharing no room with a: a flood of presence for made-up users.
    const stranger = peerIdFromPublicKey(keyPairFromSeed(new Uint8Array(32).fill(9)).publicKey);
    const made = (server: string, n: number) => Array.from({ length: n }, (_, i) => `@u${i}:${server}`);
    for (let k = 0; k < 5; k++) await sendEdus(a.hs, stranger, [presence(made(stranger, 1000))]);
    expect(a.hs.ephemeral.presence.size).toBe(0);
    // A server that does share a room: made-up users (in no room) are dropped too, bob is kept.
    await sendEdus(a.hs, b.hs.serverName, [presence([...made(b.hs.serverName, 2000), bob])]);
    expect([...a.hs.ephemeral.presence.keys()]).toEqual([bob]);
    expect(a.hs.ephemeral.presence.get(bob)?.presence).toBe('online');
    // Typing and receipts for users not in the room are dropped (already so: kept as a regression check).
    const strangers = made(b.hs.serverName, 200);
    for (let i = 0; i < strangers.length; i += 50) {
      await sendEdus(
        a.hs,
        b.hs.serverName,
        strangers.slice(i, i + 50).flatMap((u) => [
          { edu_type: 'm.typing', content: { room_id: roomId, user_id: u, typing: true } },
          { edu_type: 'm.receipt', content: { [roomId]: { 'm.read': { [u]: { event_ids: ['$x'], data: { ts: 1 } } } } } },
        ]),
      );
    }
    expect(a.hs.ephemeral.typing.get(roomId)?.size ?? 0).toBe(0);
    expect([...(a.hs.ephemeral.receipts.get(roomId)?.keys() ?? [])].filter((u) => strangers.includes(u))).toEqual([]);
    expect((await a.store.roomReceipts(roomId)).filter((r) => strangers.includes(r.user_id))).toEqual([]);
  });

  it('bounds the presence table: past the limit the least recently updated remote users are forgotten', async () => {
    cluster = new Cluster({ limits: { presenceEntries: 5 } });
    const a = await cluster.add('a');
    const b = await cluster.add('b');
    const alice = await a.hs.register('alice');
    const roomId = await a.client.createRoom(alice, { preset: 'public_chat' });
    const users: string[] = [];
    for (let i = 0; i < 8; i++) {
      const u = await b.hs.register(`user${i}`);
      await b.client.join(u, roomId, [a.hs.serverName]);
      users.push(u);
    }
    await converge(cluster, roomId);
    await a.client.setPresence(alice, 'online');
    for (const u of users) await sendEdus(a.hs, b.hs.serverName, [presence([u])]);
    const remote = [...a.hs.ephemeral.presence.keys()].filter((u) => u !== alice);
    expect(remote.length).toBeLessThanOrEqual(5);
    expect(remote).toContain(users[7]);
    expect(remote).not.toContain(users[0]);
    // Local users' presence is never evicted.
    expect(a.hs.ephemeral.presence.get(alice)?.presence).toBe('online');
  });
});

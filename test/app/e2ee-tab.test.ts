/**
 * The tab as an encryption device (src/app/e2ee-tab.ts over src/e2ee-device),
 * on two in-process servers: alice@a and bob@b, each acting through the app's
 * client with the Rust crypto as their device, create an encrypted DM and
 * talk both ways; the servers hold only m.room.encrypted ciphertext; a
 * message whose room key is held back reads "Waiting for the key…" until the
 * key arrives, then its text; an encrypted attachment round-trips.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TabE2ee } from '../../src/app/e2ee-tab.ts';
import { ClientApi } from '../../src/server/client-api/api.ts';
import { HomeserverClient } from '../../src/server/client.ts';
import { WAITING_FOR_KEY } from '../../src/server/content/index.ts';
import { Cluster, type ClusterServer } from '../../src/sim/cluster.ts';

let cluster: Cluster;
const tabs: TabE2ee[] = [];
afterEach(async () => {
  for (const t of tabs.splice(0)) t.stop();
  await cluster?.stopAll();
});

interface Person {
  s: ClusterServer;
  userId: string;
  e2ee: TabE2ee;
  client: HomeserverClient;
}

async function person(label: string, name: string): Promise<Person> {
  const s = await cluster.add(label);
  const userId = await s.hs.register(name, name);
  const api = await ClientApi.open(s.hs, { pbkdf2Iterations: 1000 });
  const e2ee = await TabE2ee.start(s.hs, api, userId);
  tabs.push(e2ee);
  return { s, userId, e2ee, client: new HomeserverClient(s.hs, e2ee) };
}

async function bodies(p: Person, roomId: string): Promise<string[]> {
  await p.e2ee.decryptEvents(roomId);
  return p.client.timeline(p.userId, roomId).items.filter((i) => i.kind === 'message').map((i) => i.body ?? '');
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the tab as an encryption device', () => {
  it('an encrypted DM both ways between two servers; the servers hold only ciphertext', { timeout: 90_000 }, async () => {
    cluster = new Cluster();
    const alice = await person('a', 'alice');
    const bob = await person('b', 'bob');
    const roomId = await alice.client.createRoom(alice.userId, { isDirect: true, encrypted: true, invite: [bob.userId] });
    expect((await alice.client.rooms(alice.userId)).find((r) => r.roomId === roomId)?.encrypted).toBe(true);
    await until("bob invited", async () => (await bob.client.rooms(bob.userId)).some((r) => r.roomId === roomId));
    await bob.client.join(bob.userId, roomId, [alice.s.hs.serverName]);
    await until('bob joined on a', async () => alice.s.hs.rooms.get(roomId)?.membership(bob.userId) === 'join');

    await alice.client.sendMessage(alice.userId, roomId, 'hello bob, secretly');
    expect(await until('bob reads alice', async () => (await bodies(bob, roomId)).includes('hello bob, secretly') && 'ok')).toBe('ok');
    await bob.client.sendMessage(bob.userId, roomId, 'hi alice, also secret');
    await until('alice reads bob', async () => (await bodies(alice, roomId)).includes('hi alice, also secret'));
    // Each reads their own message too (the sender's device holds its outbound session).
    expect(await bodies(alice, roomId)).toEqual(['hello bob, secretly', 'hi alice, also secret']);

    // What the servers store: ciphertext only.
    for (const p of [alice, bob]) {
      const room = p.s.hs.rooms.get(roomId)!;
      const messages = [...room.events.values()].filter((e) => !('state_key' in e.pdu));
      expect(messages.map((e) => e.pdu.type)).toEqual(['m.room.encrypted', 'm.room.encrypted']);
      await p.s.hs.flushWrites();
      const stored = JSON.stringify(await p.s.store.roomEvents(roomId));
      expect(stored).toContain('m.room.encrypted');
      expect(stored).toContain('m.megolm.v1.aes-sha2');
      expect(stored).not.toContain('secret');
    }
  });

  it('a message whose key is held back waits, then reads once the key arrives; attachments round-trip', { timeout: 90_000 }, async () => {
    cluster = new Cluster();
    const alice = await person('a', 'alice');
    const bob = await person('b', 'bob');
    const roomId = await alice.client.createRoom(alice.userId, { isDirect: true, encrypted: true, invite: [bob.userId] });
    await until('bob invited', async () => (await bob.client.rooms(bob.userId)).some((r) => r.roomId === roomId));
    await bob.client.join(bob.userId, roomId, [alice.s.hs.serverName]);
    await until('bob joined on a', async () => alice.s.hs.rooms.get(roomId)?.membership(bob.userId) === 'join');

    // Bob's device is slow to sync: the room key waits in his to-device queue while the event arrives.
    bob.e2ee.device.holdSync(true);
    await alice.client.sendMessage(alice.userId, roomId, 'late key message');
    await until('the event reaches b', async () => [...(bob.s.hs.rooms.get(roomId)?.events.values() ?? [])].some((e) => e.pdu.type === 'm.room.encrypted'));
    expect(await bodies(bob, roomId)).toEqual([WAITING_FOR_KEY]);
    const item = bob.client.timeline(bob.userId, roomId).items.find((i) => i.kind === 'message');
    expect(item?.undecrypted).toBe(true);
    // The key arrives: the waiting event is decrypted again and the page is told (a 'room' update).
    const told = new Promise<void>((resolve) => bob.s.hs.subscribe((u) => u.kind === 'room' && u.roomId === roomId && resolve()));
    bob.e2ee.device.holdSync(false);
    await told;
    expect(bob.client.timeline(bob.userId, roomId).items.filter((i) => i.kind === 'message').map((i) => i.body)).toEqual(['late key message']);

    // An attachment: encrypted by alice's device, decrypted by bob's with the event's `file` info.
    const bytes = new TextEncoder().encode('not really a PNG, but private');
    const { ciphertext, file } = alice.e2ee.encryptAttachment(bytes);
    expect(new TextDecoder().decode(ciphertext)).not.toContain('private');
    expect(new TextDecoder().decode(bob.e2ee.decryptAttachment(ciphertext, file))).toBe('not really a PNG, but private');
    const tampered = ciphertext.slice();
    tampered[0]! ^= 1;
    expect(() => bob.e2ee.decryptAttachment(tampered, file)).toThrow();
  });
});

/**
 * End-to-end encryption with a real client: matrix-js-sdk with its Rust
 * crypto (`initRustCrypto`, the crypto Element uses) on two `hearth serve`
 * processes that federate over libp2p through a `hearth relay`. The server
 * only stores and relays keys and ciphertext; these cases show that what it
 * relays is enough for the clients' crypto:
 * - an encrypted DM both ways (Olm sessions from claimed one-time keys,
 *   Megolm keys shared by to-device messages across servers), with the
 *   events the server holds being m.room.encrypted with no plaintext;
 * - a device-list update seen across servers (bob's second device appears
 *   in alice's client) and that device reading new messages;
 * - a device added later reading history through server-side key backup;
 * - to-device messages sent while bob's server is down delivered after it
 *   comes back (the outbox keeps them; --data keeps the server's state).
 *
 * The cases run in order and share one conversation.
 */
import { ClientEvent, KnownMembership, type MatrixClient, type MatrixEvent, Preset } from 'matrix-js-sdk';
import { describe, expect } from 'vitest';
import { realConsole, waitFor as waitUntil } from '../helpers/js-sdk-console.ts';
import { cryptoDevice, registerUser as register } from '../helpers/js-sdk-crypto.ts';
import { twoHearthServers } from '../helpers/js-sdk-servers.ts';

/** Waits up to 30 s by default: crypto work and federation on a loaded 2-core machine. */
function waitFor<T>(what: string, probe: () => T | undefined | null | false | Promise<T | undefined | null | false>, timeoutMs = 30_000): Promise<T> {
  return waitUntil(what, probe, timeoutMs);
}

interface Device {
  client: MatrixClient;
  userId: string;
  deviceId: string;
  token: string;
  baseUrl: string;
  toDevice: MatrixEvent[];
}

/** Logs in a new device, starts Rust crypto and the sync loop; resolves once the first sync is PREPARED. */
async function device(baseUrl: string, username: string): Promise<Device> {
  const toDevice: MatrixEvent[] = [];
  const d = await cryptoDevice(baseUrl, username, {
    track: (c) => hs.clients.push(c),
    listen: (c) => c.on(ClientEvent.ToDeviceEvent, (e) => toDevice.push(e)),
    client: { timelineSupport: true },
  });
  return { ...d, baseUrl, toDevice };
}

/** The decrypted body of the event `eventId` as `d`'s client holds it (undefined until it is there and decrypted). */
async function decryptedBody(d: Device, roomId: string, eventId: string): Promise<string | undefined> {
  const ev = d.client.getRoom(roomId)?.findEventById(eventId);
  if (!ev) return undefined;
  await d.client.decryptEventIfNeeded(ev);
  if (ev.isDecryptionFailure() || ev.getType() !== 'm.room.message') return undefined;
  const body = ev.getContent().body;
  return typeof body === 'string' ? body : undefined;
}

/** The event as the server holds it, through the raw Client-Server API (not the SDK's decrypted copy). */
async function rawEvent(d: Device, roomId: string, eventId: string): Promise<{ type: string; content: Record<string, unknown> }> {
  const res = await fetch(`${d.baseUrl}/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/event/${encodeURIComponent(eventId)}`, {
    headers: { authorization: `Bearer ${d.token}` },
  });
  expect(res.status).toBe(200);
  return (await res.json()) as { type: string; content: Record<string, unknown> };
}

const hs = twoHearthServers('hearth-e2ee-');
const step = hs.step;
let alice: Device;
let bob: Device;
let roomId: string;
let firstFromAlice: string;

describe('matrix-js-sdk with Rust crypto on two hearth serve processes', () => {
  step('an encrypted DM both ways: each side decrypts the other; the server holds only m.room.encrypted', 120_000, async () => {
    await Promise.all([register(hs.urlA, 'alice'), register(hs.urlB, 'bob')]);
    [alice, bob] = await Promise.all([device(hs.urlA, 'alice'), device(hs.urlB, 'bob')]);
    ({ room_id: roomId } = await alice.client.createRoom({
      is_direct: true,
      preset: Preset.TrustedPrivateChat,
      invite: [bob.userId],
      initial_state: [{ type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } }],
    }));
    await waitFor('bob invited', () => bob.client.getRoom(roomId)?.getMyMembership() === KnownMembership.Invite);
    await bob.client.joinRoom(roomId, { viaServers: [hs.serverA.info.server_name] });
    await waitFor('bob joined, in alice’s client', () => alice.client.getRoom(roomId)?.getMember(bob.userId)?.membership === KnownMembership.Join);
    await waitFor('alice’s client knows the room is encrypted', () => alice.client.getCrypto()!.isEncryptionEnabledInRoom(roomId));

    const a1 = await alice.client.sendTextMessage(roomId, 'the tea is in the blue tin');
    firstFromAlice = a1.event_id;
    expect(await waitFor('bob decrypts alice’s message', () => decryptedBody(bob, roomId, a1.event_id), 60_000)).toBe('the tea is in the blue tin');

    const b1 = await bob.client.sendTextMessage(roomId, 'and the biscuits?');
    expect(await waitFor('alice decrypts bob’s reply', () => decryptedBody(alice, roomId, b1.event_id), 60_000)).toBe('and the biscuits?');

    // What each server holds and serves: ciphertext only, on both servers.
    for (const [who, id] of [
      [alice, a1.event_id],
      [bob, a1.event_id],
      [alice, b1.event_id],
      [bob, b1.event_id],
    ] as const) {
      const raw = await rawEvent(who, roomId, id);
      expect(raw.type).toBe('m.room.encrypted');
      expect(raw.content.algorithm).toBe('m.megolm.v1.aes-sha2');
      expect(JSON.stringify(raw)).not.toMatch(/blue tin|biscuits/);
    }
  });

  step('figure: time from alice sending to bob reading, encrypted (decrypted on bob’s side) and not (printed, not asserted)', 120_000, async () => {
    const p50 = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
    const lap = async (room: string, text: string, read: (id: string) => Promise<string | undefined> | string | undefined) => {
      const t0 = performance.now();
      const { event_id } = await alice.client.sendTextMessage(room, text);
      await waitFor(`bob reads "${text}"`, () => read(event_id), 60_000);
      return performance.now() - t0;
    };
    const encrypted: number[] = [];
    for (let i = 0; i < 5; i++) encrypted.push(await lap(roomId, `encrypted ${i}`, (id) => decryptedBody(bob, roomId, id)));
    const { room_id: plain } = await alice.client.createRoom({ preset: Preset.PrivateChat, invite: [bob.userId] });
    await waitFor('bob invited to the plain room', () => bob.client.getRoom(plain)?.getMyMembership() === KnownMembership.Invite);
    await bob.client.joinRoom(plain, { viaServers: [hs.serverA.info.server_name] });
    await waitFor('bob joined the plain room, in alice’s client', () => alice.client.getRoom(plain)?.getMember(bob.userId)?.membership === KnownMembership.Join);
    const clear: number[] = [];
    for (let i = 0; i < 5; i++) {
      clear.push(await lap(plain, `plain ${i}`, (id) => bob.client.getRoom(plain)?.findEventById(id)?.getContent().body as string | undefined));
    }
    expect(encrypted).toHaveLength(5);
    realConsole.log(`[e2ee] alice→bob across two hearth serve processes (send to read, n=5): encrypted p50 ${p50(encrypted).toFixed(0)} ms, unencrypted p50 ${p50(clear).toFixed(0)} ms`);
  });

  step('a device-list update crosses servers: bob’s second device appears in alice’s client and reads new messages', 120_000, async () => {
    const before = await alice.client.getCrypto()!.getUserDeviceInfo([bob.userId], true);
    expect([...(before.get(bob.userId)?.keys() ?? [])]).toEqual([bob.deviceId]);
    const bob2 = await device(hs.urlB, 'bob');
    await waitFor(
      'alice’s client lists bob’s second device',
      async () => (await alice.client.getCrypto()!.getUserDeviceInfo([bob.userId], true)).get(bob.userId)?.has(bob2.deviceId),
      60_000,
    );
    await waitFor('bob2 sees the room', () => bob2.client.getRoom(roomId)?.getMyMembership() === KnownMembership.Join);
    const a2 = await alice.client.sendTextMessage(roomId, 'hello to both of your devices');
    expect(await waitFor('bob’s second device decrypts it', () => decryptedBody(bob2, roomId, a2.event_id), 60_000)).toBe('hello to both of your devices');
    expect(await waitFor('bob’s first device too', () => decryptedBody(bob, roomId, a2.event_id), 60_000)).toBe('hello to both of your devices');
    bob2.client.stopClient();
  });

  step('key backup: a device alice adds later reads her earlier messages with keys from the server-side backup', 120_000, async () => {
    const crypto = alice.client.getCrypto()!;
    await crypto.resetKeyBackup();
    const version = await waitFor('a backup version on the server', async () => (await crypto.getKeyBackupInfo())?.version);
    // Alice's device uploads its room keys (as opaque session_data) to the backup.
    await waitFor(
      'room keys in the backup',
      async () => {
        const res = await fetch(`${hs.urlA}/_matrix/client/v3/room_keys/version`, { headers: { authorization: `Bearer ${alice.token}` } });
        return ((await res.json()) as { count?: number }).count! > 0;
      },
      60_000,
    );
    const backupKey = await crypto.getSessionBackupPrivateKey();
    expect(backupKey).toBeTruthy();

    const alice3 = await device(hs.urlA, 'alice');
    await alice3.client.getCrypto()!.storeSessionBackupPrivateKey(backupKey!, version);
    const restored = await alice3.client.getCrypto()!.restoreKeyBackup();
    expect(restored.imported).toBeGreaterThan(0);
    // The new device fetches the history and decrypts alice's first message with the restored key.
    const room = await waitFor('alice3 sees the room', () => alice3.client.getRoom(roomId));
    await waitFor(
      'alice3 has the first message in its timeline',
      async () => {
        if (!room.findEventById(firstFromAlice)) await alice3.client.scrollback(room, 30);
        return room.findEventById(firstFromAlice);
      },
      60_000,
    );
    expect(await waitFor('alice3 decrypts the first message', () => decryptedBody(alice3, roomId, firstFromAlice), 60_000)).toBe('the tea is in the blue tin');
    // The server's copy of the backup is opaque: no plaintext key material by name, no message text.
    const keys = await fetch(`${hs.urlA}/_matrix/client/v3/room_keys/keys?version=${version}`, { headers: { authorization: `Bearer ${alice.token}` } });
    const stored = JSON.stringify(await keys.json());
    expect(stored).toContain('session_data');
    expect(stored).not.toMatch(/blue tin|session_key/);
    alice3.client.stopClient();
  });

  step('to-device messages sent while bob’s server is down arrive after it comes back', 120_000, async () => {
    await hs.stopB();
    const content = new Map([[bob.userId, new Map([[bob.deviceId, { note: 'sent while you were away' }]])]]);
    await alice.client.sendToDevice('org.hearth.test', content);
    expect((await hs.startB()).info.client_url).toBe(hs.urlB);
    bob.client.retryImmediately();
    const got = await waitFor('bob’s client receives the to-device message', () => bob.toDevice.find((e) => e.getType() === 'org.hearth.test'), 60_000);
    expect(got.getSender()).toBe(alice.userId);
    expect(got.getContent()).toEqual({ note: 'sent while you were away' });
    // And the encrypted conversation continues after the restart.
    const a3 = await alice.client.sendTextMessage(roomId, 'welcome back');
    expect(await waitFor('bob decrypts a message after the restart', () => decryptedBody(bob, roomId, a3.event_id), 60_000)).toBe('welcome back');
  });
});

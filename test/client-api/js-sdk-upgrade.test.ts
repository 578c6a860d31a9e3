/**
 * A room upgrade through a real client: matrix-js-sdk against two
 * `hearth serve` processes federating through a `hearth relay`. Alice creates
 * a room (version 12 by default), bob joins from the other server, alice
 * upgrades it with the SDK's `upgradeRoom`; bob's /sync shows the tombstone,
 * his invite to the new room, and the new room's create event pointing back.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KnownMembership, type MatrixClient, Preset, createClient } from 'matrix-js-sdk';
import type { Logger } from 'matrix-js-sdk/lib/logger.js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type HearthProcess, startHearth, stopHearth } from '../helpers/hearth-process.ts';

const PASSWORD = 'correct horse battery staple';
const WAIT = { timeout: 30_000, interval: 100 };

/** The SDK's own logging, kept out of the test output. */
const quiet: Logger = {
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  getChild: () => quiet,
};

const root = mkdtempSync(join(tmpdir(), 'hearth-js-sdk-upgrade-'));
const processes: HearthProcess[] = [];
const clients: MatrixClient[] = [];

async function account(baseUrl: string, username: string): Promise<MatrixClient> {
  const anon = createClient({ baseUrl, logger: quiet });
  const reg = await anon.registerRequest({ username, password: PASSWORD, auth: { type: 'm.login.dummy' } });
  const c = createClient({ baseUrl, userId: reg.user_id, accessToken: reg.access_token!, deviceId: reg.device_id!, logger: quiet });
  clients.push(c);
  return c;
}

let alice: MatrixClient;
let bob: MatrixClient;
let aliceServer: string;

beforeAll(async () => {
  const relay = await startHearth(['relay', '--port', '0', '--tcp-port', '0', '--key-file', join(root, 'relay.key')]);
  processes.push(relay);
  const [a, b] = await Promise.all([
    startHearth(['serve', '--relay', relay.info.tcp_multiaddr, '--client-port', '0']),
    startHearth(['serve', '--relay', relay.info.tcp_multiaddr, '--client-port', '0']),
  ]);
  processes.push(a, b);
  aliceServer = a.info.server_name;
  [alice, bob] = await Promise.all([account(a.info.client_url, 'alice'), account(b.info.client_url, 'bob')]);
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.stopClient();
  await Promise.all(processes.map((p) => stopHearth(p)));
  rmSync(root, { recursive: true, force: true });
}, 30_000);

describe('room upgrade with matrix-js-sdk across two hearth serve processes', () => {
  it('creates a v12 room by default, upgrades it to 11; bob on the other server sees the tombstone and follows', { timeout: 120_000 }, async () => {
    const caps = await alice.getCapabilities();
    expect(caps['m.room_versions']?.default).toBe('12');
    const { room_id: oldRoom } = await alice.createRoom({ name: 'Tea', topic: 'Darjeeling', preset: Preset.PublicChat });
    expect(oldRoom).toMatch(/^![A-Za-z0-9_-]{43}$/);
    expect((await alice.getStateEvent(oldRoom, 'm.room.create', '')).room_version).toBe('12');
    // The room ID names no server: bob joins through alice's.
    await bob.joinRoom(oldRoom, { viaServers: [aliceServer] });
    await bob.startClient({ initialSyncLimit: 10 });
    await vi.waitFor(() => expect(bob.getRoom(oldRoom)?.getMyMembership()).toBe(KnownMembership.Join), WAIT);

    // Bob has no power to send a tombstone; an unknown version is refused before anything else.
    await expect(bob.upgradeRoom(oldRoom, '11')).rejects.toMatchObject({ errcode: 'M_FORBIDDEN', httpStatus: 403 });
    await expect(alice.upgradeRoom(oldRoom, '99')).rejects.toMatchObject({ errcode: 'M_UNSUPPORTED_ROOM_VERSION', httpStatus: 400 });

    const { replacement_room: newRoom } = await alice.upgradeRoom(oldRoom, '11');
    expect(newRoom).not.toBe(oldRoom);
    expect(newRoom.endsWith(`:${aliceServer}`)).toBe(true);

    // Bob's sync: the tombstone in the old room, and an invite to the new one.
    await vi.waitFor(() => {
      const tomb = bob.getRoom(oldRoom)?.currentState.getStateEvents('m.room.tombstone', '');
      expect(tomb?.getContent()).toMatchObject({ replacement_room: newRoom });
    }, WAIT);
    await vi.waitFor(() => expect(bob.getRoom(newRoom)?.getMyMembership()).toBe(KnownMembership.Invite), WAIT);

    // He follows: the new room is version 11, its create event names the old room, the state came along.
    await bob.joinRoom(newRoom, { viaServers: [aliceServer] });
    await vi.waitFor(() => expect(bob.getRoom(newRoom)?.getMyMembership()).toBe(KnownMembership.Join), WAIT);
    const joined = bob.getRoom(newRoom)!;
    expect(joined.getVersion()).toBe('11');
    expect(joined.currentState.getStateEvents('m.room.create', '')?.getContent().predecessor).toMatchObject({ room_id: oldRoom });
    expect(joined.findPredecessor()?.roomId).toBe(oldRoom);
    expect(joined.currentState.getStateEvents('m.room.topic', '')?.getContent().topic).toBe('Darjeeling');
    expect(joined.name).toBe('Tea');

    // The old room is closed for talking; the new one is where the conversation goes on.
    await expect(bob.sendTextMessage(oldRoom, 'still here?')).rejects.toMatchObject({ errcode: 'M_FORBIDDEN' });
    const { event_id } = await bob.sendTextMessage(newRoom, 'moved in');
    await vi.waitFor(async () => expect((await alice.fetchRoomEvent(newRoom, event_id)).content).toMatchObject({ body: 'moved in' }), WAIT);
  });
});

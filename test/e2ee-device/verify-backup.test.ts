/**
 * Verification, cross-signing and key backup for the app's encryption device
 * (src/e2ee-device/{verification,cross-signing,backup}.ts over E2eeDevice),
 * on two in-process servers: alice@a and bob@b, each an E2eeDevice (the Rust
 * crypto) talking to their own server's Client-Server API handler.
 *
 * - cross-signing: the first upload needs no auth; a reset of an account with
 *   a password needs it (PasswordRequiredError without, accepted with);
 * - SAS between alice and bob across servers: both see the same seven emoji,
 *   both confirm, both flows end done, and each machine then holds the other
 *   person's identity as verified; a cancelled flow ends cancelled on both;
 * - SAS between alice's two devices: her new device ends cross-signed;
 * - key backup: messages alice sent before her new device existed are
 *   unreadable there until the recovery key restores the room keys; a wrong
 *   or mistyped recovery key is refused with a message, and the server holds
 *   only ciphertext.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activeBackupVersion, createKeyBackup, KeyBackupUploader, restoreFromRecoveryKey } from '../../src/e2ee-device/backup.ts';
import { bootstrapCrossSigning, crossSigningState, PasswordRequiredError } from '../../src/e2ee-device/cross-signing.ts';
import { type CsRequest, E2eeDevice } from '../../src/e2ee-device/device.ts';
import { inProcessRequest } from '../../src/e2ee-device/in-process-request.ts';
import { decodeRecoveryKey, encodeRecoveryKey } from '../../src/e2ee-device/recovery-key.ts';
import { type VerificationView, Verifications } from '../../src/e2ee-device/verification.ts';
import { ClientApi } from '../../src/server/client-api/api.ts';
import { hashPassword } from '../../src/server/client-api/passwords.ts';
import { Cluster, type ClusterServer } from '../../src/sim/cluster.ts';
import { waitFor } from '../helpers/js-sdk-console.ts';

interface Dev {
  s: ClusterServer;
  userId: string;
  device: E2eeDevice;
  request: CsRequest;
  verifs: Verifications;
  stop(): void;
}

function until<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, ms = 30_000): Promise<T> {
  return waitFor(what, probe, ms);
}

/** A device of `userId` on `s`, syncing in the background and handing to-device events to its Verifications. */
async function device(s: ClusterServer, api: ClientApi, userId: string): Promise<Dev> {
  const { accessToken, deviceId } = await api.issueToken(userId, undefined, 'test device');
  const request = inProcessRequest(api, accessToken);
  const dev = await E2eeDevice.start({ userId, deviceId, request });
  const verifs = new Verifications(dev);
  let stopped = false;
  void (async () => {
    let since: string | undefined;
    while (!stopped) {
      const q = since ? `?timeout=500&since=${encodeURIComponent(since)}` : '?timeout=0';
      const res = await request('GET', `/_matrix/client/v3/sync${q}`);
      if (stopped) return;
      const body = res.json as { next_batch?: string; to_device?: { events?: { type?: unknown; sender?: unknown; content?: unknown }[] } };
      await dev.onSync(body as Record<string, unknown>);
      verifs.noticeToDevice(body.to_device?.events ?? []);
      if (body.next_batch) since = body.next_batch;
    }
  })();
  return {
    s,
    userId,
    device: dev,
    request,
    verifs,
    stop: () => {
      stopped = true;
      dev.stop();
    },
  };
}

/** Runs a SAS flow from `from`'s request to the end, on both sides; returns the emoji both saw. */
async function sas(from: Dev, to: Dev, flowId: string): Promise<string[]> {
  const theirs = await until('the request arrives', () => to.verifs.get(flowId)?.phase === 'requested' && to.verifs.get(flowId));
  expect(theirs.weStarted).toBe(false);
  await to.verifs.accept(flowId);
  await until('the requester sees it ready', () => from.verifs.get(flowId)?.phase === 'ready');
  await from.verifs.startSas(flowId);
  const shown = (d: Dev) => until(`${d.device.deviceId} shows emoji`, () => (d.verifs.get(flowId)?.phase === 'emoji' ? d.verifs.get(flowId) : undefined));
  const [a, b] = await Promise.all([shown(from), shown(to)]);
  const text = (v: VerificationView) => (v.emoji ?? []).map((e) => `${e.symbol} ${e.name}`);
  expect(text(a)).toHaveLength(7);
  expect(text(b)).toEqual(text(a));
  await from.verifs.confirm(flowId);
  expect(from.verifs.get(flowId)?.phase).toBe('confirmed');
  await to.verifs.confirm(flowId);
  await until('both done', () => from.verifs.get(flowId)?.phase === 'done' && to.verifs.get(flowId)?.phase === 'done');
  return text(a);
}

let cluster: Cluster;
let apiA: ClientApi;
let apiB: ClientApi;
let alice: Dev;
let bob: Dev;
const devs: Dev[] = [];

beforeAll(async () => {
  cluster = new Cluster();
  const a = await cluster.add('a');
  const b = await cluster.add('b');
  apiA = await ClientApi.open(a.hs, { pbkdf2Iterations: 1000 });
  apiB = await ClientApi.open(b.hs, { pbkdf2Iterations: 1000 });
  const aliceId = await a.hs.register('alice');
  const bobId = await b.hs.register('bob');
  // Alice has a password (as after "Use other clients"); bob does not (a tab's person by default).
  const acct = a.hs.requireLocalUser(aliceId);
  const withPw = { ...acct, password_hash: await hashPassword('alice has a long password', 1000) };
  await a.hs.commit({ accounts: [withPw] });
  a.hs.accounts.set(aliceId, withPw);
  alice = await device(a, apiA, aliceId);
  bob = await device(b, apiB, bobId);
  devs.push(alice, bob);
  // A shared room, so each server follows the other's device list and signing keys.
  const roomId = await a.client.createRoom(aliceId, { isDirect: true, encrypted: true, invite: [bobId] });
  await until('bob invited', async () => (await b.client.rooms(bobId)).some((r) => r.roomId === roomId));
  await b.client.join(bobId, roomId, [a.hs.serverName]);
  await until('bob joined on a', () => a.hs.rooms.get(roomId)?.membership(bobId) === 'join');
}, 60_000);

afterAll(async () => {
  for (const d of devs) d.stop();
  await cluster?.stopAll();
});

describe('verification, cross-signing and key backup on the app’s encryption device', () => {
  it('recovery keys: the spec’s encoding round-trips; typos and other text are refused in words', () => {
    const key = 'q3vBqz1oa1GSnDgK2bhqAgj3ZEXqEz+fM4xdN9SvxDQ';
    const rk = encodeRecoveryKey(key);
    expect(rk).toMatch(/^Es[1-9A-HJ-NP-Za-km-z]{2}( [1-9A-HJ-NP-Za-km-z]{4}){11}$/);
    expect(decodeRecoveryKey(rk)).toBe(key);
    expect(decodeRecoveryKey(rk.replace(/ /g, '\n  '))).toBe(key);
    const typo = rk.slice(0, 10) + (rk[10] === 'a' ? 'b' : 'a') + rk.slice(11);
    expect(() => decodeRecoveryKey(typo)).toThrow(/typo|length/);
    expect(() => decodeRecoveryKey('0OIl')).toThrow(/not a recovery key/);
    expect(() => decodeRecoveryKey('EsTc')).toThrow(/length/);
    expect(() => decodeRecoveryKey('   ')).toThrow(/empty/);
  });

  it('cross-signing: the first upload needs no auth; a reset needs the password when the account has one', { timeout: 60_000 }, async () => {
    expect(await crossSigningState(alice.device)).toBe('missing');
    await bootstrapCrossSigning(alice.device, alice.request);
    await bootstrapCrossSigning(bob.device, bob.request);
    expect(await crossSigningState(alice.device)).toBe('ready');
    expect(await crossSigningState(bob.device)).toBe('ready');
    // A reset: without a password it is refused; a wrong one too; the right one is accepted.
    await expect(bootstrapCrossSigning(alice.device, alice.request)).rejects.toBeInstanceOf(PasswordRequiredError);
    await expect(bootstrapCrossSigning(alice.device, alice.request, { password: async () => 'not it' })).rejects.toThrow(/did not accept/);
    await bootstrapCrossSigning(alice.device, alice.request, { password: async () => 'alice has a long password' });
    // Bob has no password: the server offers m.login.dummy and the reset goes through.
    await bootstrapCrossSigning(bob.device, bob.request);
    const w = alice.device.wasm;
    const own = await alice.device.machine.getIdentity(new w.UserId(alice.userId));
    expect(own?.isVerified()).toBe(true);
    // Alice's device is signed by her (new) self-signing key.
    const mine = await alice.device.machine.getDevice(new w.UserId(alice.userId), new w.DeviceId(alice.device.deviceId));
    expect(mine?.isCrossSignedByOwner()).toBe(true);
  });

  it('SAS between two people on two servers: same seven emoji, both confirm, each then trusts the other; a cancel ends both', { timeout: 90_000 }, async () => {
    const w = alice.device.wasm;
    // Each learns the other's device and identity (a key query over federation).
    for (const [me, them] of [
      [alice, bob],
      [bob, alice],
    ] as const) {
      await me.device.machine.updateTrackedUsers([new w.UserId(them.userId)]);
      await until(`${me.userId} knows ${them.userId}’s identity`, async () => {
        await me.device.processOutgoingRequests();
        return (await me.device.machine.getIdentity(new w.UserId(them.userId))) !== undefined;
      });
    }
    // A flow that is cancelled ends cancelled on both sides.
    const cancelled = await alice.verifs.requestWithDevice(bob.userId, bob.device.deviceId);
    await until('bob sees the request', () => bob.verifs.get(cancelled)?.phase === 'requested');
    await bob.verifs.cancel(cancelled);
    await until('alice sees it cancelled', () => alice.verifs.get(cancelled)?.phase === 'cancelled');
    expect(bob.verifs.get(cancelled)?.phase).toBe('cancelled');

    const flowId = await alice.verifs.requestWithDevice(bob.userId, bob.device.deviceId);
    expect(alice.verifs.get(flowId)?.phase).toBe('waiting');
    await sas(alice, bob, flowId);
    await until('alice trusts bob’s identity', async () => (await alice.device.machine.getIdentity(new w.UserId(bob.userId)))?.isVerified());
    await until('bob trusts alice’s identity', async () => (await bob.device.machine.getIdentity(new w.UserId(alice.userId)))?.isVerified());
    const bobsDevice = await alice.device.machine.getDevice(new w.UserId(bob.userId), new w.DeviceId(bob.device.deviceId));
    expect(bobsDevice?.isVerified()).toBe(true);
  });

  it('key backup: a new device reads earlier messages once the recovery key restores their keys; SAS makes it cross-signed', { timeout: 90_000 }, async () => {
    const w = alice.device.wasm;
    const { version, recoveryKey } = await createKeyBackup(alice.device, alice.request);
    expect(await activeBackupVersion(alice.device)).toBe(version);
    const uploader = new KeyBackupUploader(alice.device, 1_000);
    try {
      // Alice sends in a new encrypted room (the Megolm keys are made now, after the backup exists).
      const roomId = await alice.s.client.createRoom(alice.userId, { encrypted: true, invite: [bob.userId] });
      const members = [alice.userId, bob.userId];
      const sent: string[] = [];
      for (const text of ['the spare key is under the mat', 'and the code is 4321']) {
        const content = await alice.device.encryptRoomEvent(roomId, 'm.room.message', { msgtype: 'm.text', body: text }, members);
        const res = await alice.request('PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.encrypted/t${sent.length}`, JSON.stringify(content));
        expect(res.status).toBe(200);
        sent.push((res.json as { event_id: string }).event_id);
      }
      await uploader.kick();
      const count = await until('keys in the backup', async () => {
        const res = await alice.request('GET', '/_matrix/client/v3/room_keys/version');
        return ((res.json as { count?: number }).count ?? 0) > 0 && (res.json as { count: number }).count;
      });
      expect(count).toBeGreaterThan(0);
      const stored = JSON.stringify((await alice.request('GET', `/_matrix/client/v3/room_keys/keys?version=${version}`)).json);
      expect(stored).toContain('session_data');
      expect(stored).not.toMatch(/spare key|4321|session_key/);

      // Alice's new device: the old messages wait for their key.
      const alice2 = await device(alice.s, apiA, alice.userId);
      devs.push(alice2);
      const event = (id: string) => {
        const ev = alice.s.hs.rooms.get(roomId)!.get(id)!;
        return { event_id: id, room_id: roomId, sender: ev.sender, type: ev.type, content: ev.content, origin_server_ts: ev.origin_server_ts };
      };
      const before = await alice2.device.decryptRoomEvent(roomId, event(sent[0]!));
      expect(before.ok).toBe(false);

      // A key that is not the backup's, and a mistyped one, are refused with words; the right one restores.
      const other = encodeRecoveryKey(w.BackupDecryptionKey.createRandomKey().toBase64());
      await expect(restoreFromRecoveryKey(alice2.device, alice2.request, other)).rejects.toThrow(/not the key of this account’s backup/);
      await expect(restoreFromRecoveryKey(alice2.device, alice2.request, recoveryKey.slice(0, -2))).rejects.toThrow(/recovery key/);
      const restored = await restoreFromRecoveryKey(alice2.device, alice2.request, recoveryKey);
      expect(restored.version).toBe(version);
      expect(restored.imported).toBeGreaterThan(0);
      for (const [i, text] of ['the spare key is under the mat', 'and the code is 4321'].entries()) {
        const r = await alice2.device.decryptRoomEvent(roomId, event(sent[i]!));
        expect(r.ok && r.content.body).toBe(text);
      }
      // The new device backs up to the same version from now on.
      expect(await activeBackupVersion(alice2.device)).toBe(version);

      // Alice verifies her new device from her first one: it ends cross-signed by her identity.
      await until('alice2 knows alice’s identity', async () => {
        await alice2.device.machine.updateTrackedUsers([new w.UserId(alice.userId)]);
        await alice2.device.processOutgoingRequests();
        return (await alice2.device.machine.getIdentity(new w.UserId(alice.userId))) !== undefined;
      });
      await until('alice knows alice2', async () => {
        await alice.device.machine.markAllTrackedUsersAsDirty();
        await alice.device.processOutgoingRequests();
        return (await alice.device.machine.getDevice(new w.UserId(alice.userId), new w.DeviceId(alice2.device.deviceId))) !== undefined;
      });
      const flowId = await alice2.verifs.requestOwnDevices();
      expect(alice2.verifs.get(flowId)?.self).toBe(true);
      await sas(alice2, alice, flowId);
      await until('alice2 is cross-signed', async () => {
        await alice.device.processOutgoingRequests();
        await alice2.device.machine.markAllTrackedUsersAsDirty();
        await alice2.device.processOutgoingRequests();
        return (await alice2.device.machine.getDevice(new w.UserId(alice.userId), new w.DeviceId(alice2.device.deviceId)))?.isCrossSignedByOwner();
      });
    } finally {
      await uploader.stop();
    }
  });
});

/**
 * Verification and cross-signing with a real client: matrix-js-sdk's Rust
 * crypto on two `hearth serve` processes federating over libp2p. The server
 * carries what the clients' crypto sends — `m.key.verification.*` to-device
 * messages (across servers for two people, within one server for two
 * devices of one person), cross-signing keys (`/keys/device_signing/upload`,
 * the first upload without a password, a reset with UIA `m.login.password`)
 * and the signatures that verification produces (`/keys/signatures/upload`),
 * served back through `/keys/query` and `m.signing_key_update`.
 *
 * The cases run in order: cross-signing for both; alice verifies bob by
 * emoji (both sides see the same seven emoji and confirm; each ends up
 * trusting the other's identity); alice's second device is verified by her
 * first and so becomes cross-signed; a cross-signing reset needs the password.
 */
import {
  KnownMembership,
  type MatrixClient,
  MatrixError,
  Preset,
  type AuthDict,
  type UIAuthCallback,
} from 'matrix-js-sdk';
import {
  CryptoEvent,
  type ShowSasCallbacks,
  type VerificationRequest,
  VerificationPhase,
  VerifierEvent,
} from 'matrix-js-sdk/lib/crypto-api/index.js';
import { describe, expect } from 'vitest';
import { waitFor as waitUntil } from '../helpers/js-sdk-console.ts';
import { PASSWORD, cryptoDevice, registerUser as register } from '../helpers/js-sdk-crypto.ts';
import { twoHearthServers } from '../helpers/js-sdk-servers.ts';

function waitFor<T>(what: string, probe: () => T | undefined | null | false | Promise<T | undefined | null | false>, timeoutMs = 60_000): Promise<T> {
  return waitUntil(what, probe, timeoutMs);
}

interface Device {
  client: MatrixClient;
  userId: string;
  deviceId: string;
  /** Verification requests other devices sent to this one. */
  incoming: VerificationRequest[];
  /** How each cross-signing upload went: 'none' if the first try without auth was accepted, 'password' if UIA asked for it. */
  uploads: ('none' | 'password')[];
}

async function device(baseUrl: string, username: string): Promise<Device> {
  const incoming: VerificationRequest[] = [];
  const d = await cryptoDevice(baseUrl, username, {
    track: (c) => hs.clients.push(c),
    listen: (c) => c.on(CryptoEvent.VerificationRequestReceived, (r) => incoming.push(r)),
    initialSyncLimit: 5,
  });
  return { client: d.client, userId: d.userId, deviceId: d.deviceId, incoming, uploads: [] };
}

/**
 * The UIA callback for /keys/device_signing/upload: tries without auth (the
 * first upload needs none), and answers a 401 with the password and the
 * server's session — and records which it took.
 */
function uia(d: Device): UIAuthCallback<void> {
  return async (makeRequest) => {
    try {
      await makeRequest(null);
      d.uploads.push('none');
    } catch (err) {
      if (!(err instanceof MatrixError) || err.httpStatus !== 401) throw err;
      const flows = (err.data as { flows?: { stages: string[] }[]; session?: string }) ?? {};
      expect(flows.flows?.some((f) => f.stages.includes('m.login.password'))).toBe(true);
      await makeRequest({
        type: 'm.login.password',
        identifier: { type: 'm.id.user', user: d.userId },
        password: PASSWORD,
        session: flows.session,
      } as AuthDict);
      d.uploads.push('password');
    }
  };
}

/** Both sides of a SAS verification to the end: each sees the emoji, they must match, each confirms. */
async function emojiVerification(from: VerificationRequest, to: Device, toRequest: () => VerificationRequest | undefined): Promise<string[]> {
  const theirs = await waitFor(`${to.userId}/${to.deviceId} receives the request`, toRequest);
  await theirs.accept();
  await waitFor('the request is ready', () => from.phase === VerificationPhase.Ready);
  const verifierFrom = await from.startVerification('m.sas.v1');
  const sasFrom = new Promise<ShowSasCallbacks>((resolve) => verifierFrom.on(VerifierEvent.ShowSas, resolve));
  const doneFrom = verifierFrom.verify();
  const verifierTo = await waitFor('the other side has a verifier', () => theirs.verifier);
  const sasTo = new Promise<ShowSasCallbacks>((resolve) => verifierTo.on(VerifierEvent.ShowSas, resolve));
  const doneTo = verifierTo.verify();
  const [a, b] = await Promise.all([sasFrom, sasTo]);
  const emoji = (s: ShowSasCallbacks) => (s.sas.emoji ?? []).map(([e, name]) => `${e} ${name}`);
  expect(emoji(a)).toHaveLength(7);
  expect(emoji(b)).toEqual(emoji(a));
  await Promise.all([a.confirm(), b.confirm(), doneFrom, doneTo]);
  expect(from.phase).toBe(VerificationPhase.Done);
  expect(theirs.phase).toBe(VerificationPhase.Done);
  return emoji(a);
}

const hs = twoHearthServers('hearth-verify-');
let alice: Device;
let bob: Device;

describe('verification and cross-signing with matrix-js-sdk on two hearth serve processes', () => {
  hs.step('cross-signing: each bootstraps its identity (first upload without a password) and the other side sees it', 120_000, async () => {
    await Promise.all([register(hs.urlA, 'alice'), register(hs.urlB, 'bob')]);
    [alice, bob] = await Promise.all([device(hs.urlA, 'alice'), device(hs.urlB, 'bob')]);
    // A shared encrypted room: each server follows the other user's device list and signing keys,
    // and each client tracks the other's devices (clients track the members of encrypted rooms).
    const { room_id: roomId } = await alice.client.createRoom({
      is_direct: true,
      preset: Preset.TrustedPrivateChat,
      invite: [bob.userId],
      initial_state: [{ type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } }],
    });
    await waitFor('bob invited', () => bob.client.getRoom(roomId)?.getMyMembership() === KnownMembership.Invite);
    await bob.client.joinRoom(roomId, { viaServers: [hs.serverA.info.server_name] });
    await waitFor('bob joined, in alice’s client', () => alice.client.getRoom(roomId)?.getMember(bob.userId)?.membership === KnownMembership.Join);

    for (const d of [alice, bob]) {
      await d.client.getCrypto()!.bootstrapCrossSigning({ authUploadDeviceSigningKeys: uia(d) });
      expect(d.uploads).toEqual(['none']);
      expect(await d.client.getCrypto()!.isCrossSigningReady()).toBe(true);
      // The device is signed by its own self-signing key. The client learns that signature from a
      // /keys/query of its own user, which may have been answered before the signature upload
      // landed; the server then lists the user in /sync device_lists.changed and the client
      // queries again — so this is awaited, not read once (CI saw the early read false once).
      await waitFor(`${d.userId}’s device is cross-signed`, async () => (await d.client.getCrypto()!.getDeviceVerificationStatus(d.userId, d.deviceId))?.crossSigningVerified);
    }
    // Each sees the other's identity (over federation), known but not yet verified.
    for (const [me, them] of [
      [alice, bob],
      [bob, alice],
    ] as const) {
      const status = await waitFor(`${me.userId} knows ${them.userId}’s identity`, async () => {
        await me.client.getCrypto()!.getUserDeviceInfo([them.userId], true);
        const s = await me.client.getCrypto()!.getUserVerificationStatus(them.userId);
        return s.known ? s : undefined;
      });
      expect(status.isCrossSigningVerified()).toBe(false);
    }
  });

  hs.step('SAS between two people on two servers: the same seven emoji on both sides, confirmed, each then trusts the other', 120_000, async () => {
    await alice.client.getCrypto()!.getUserDeviceInfo([bob.userId], true);
    const request = await alice.client.getCrypto()!.requestDeviceVerification(bob.userId, bob.deviceId);
    const emoji = await emojiVerification(request, bob, () => bob.incoming.find((r) => r.otherUserId === alice.userId));
    expect(new Set(emoji).size).toBeGreaterThan(0);
    // Verifying the other device signs the other person's master key with one's user-signing key
    // (/keys/signatures/upload); each client sees the other person as verified.
    await waitFor('alice trusts bob’s identity', async () => (await alice.client.getCrypto()!.getUserVerificationStatus(bob.userId)).isCrossSigningVerified());
    await waitFor('bob trusts alice’s identity', async () => (await bob.client.getCrypto()!.getUserVerificationStatus(alice.userId)).isCrossSigningVerified());
    expect((await alice.client.getCrypto()!.getDeviceVerificationStatus(bob.userId, bob.deviceId))?.isVerified()).toBe(true);
  });

  hs.step('SAS between two devices of one person: alice’s new device, verified by her first, is cross-signed — and bob sees it so', 120_000, async () => {
    const alice2 = await device(hs.urlA, 'alice');
    const crypto2 = alice2.client.getCrypto()!;
    expect((await crypto2.getDeviceVerificationStatus(alice.userId, alice2.deviceId))?.crossSigningVerified).toBe(false);
    const request = await crypto2.requestOwnUserVerification();
    await emojiVerification(request, alice, () => alice.incoming.find((r) => r.otherDeviceId === alice2.deviceId));
    // The old device signs the new one with the self-signing key; the new device gets the
    // private cross-signing keys by secret sharing (to-device) and is ready itself.
    await waitFor('alice2 is cross-signed', async () => (await crypto2.getDeviceVerificationStatus(alice.userId, alice2.deviceId))?.crossSigningVerified);
    await waitFor('bob sees alice2 as verified', async () => {
      await bob.client.getCrypto()!.getUserDeviceInfo([alice.userId], true);
      return (await bob.client.getCrypto()!.getDeviceVerificationStatus(alice.userId, alice2.deviceId))?.isVerified();
    });
    await waitFor('alice2 has the cross-signing secrets', () => crypto2.isCrossSigningReady());
    alice2.client.stopClient();
  });

  hs.step('a cross-signing reset needs the account password (UIA m.login.password)', 60_000, async () => {
    await bob.client.getCrypto()!.bootstrapCrossSigning({ setupNewCrossSigning: true, authUploadDeviceSigningKeys: uia(bob) });
    expect(bob.uploads).toEqual(['none', 'password']);
    // Alice's client notices the new identity: it is no longer the one she verified.
    await waitFor('alice’s client sees bob’s identity changed', async () => {
      await alice.client.getCrypto()!.getUserDeviceInfo([bob.userId], true);
      const s = await alice.client.getCrypto()!.getUserVerificationStatus(bob.userId);
      return !s.isCrossSigningVerified() && s.wasCrossSigningVerified();
    });
  });
});

/**
 * The tab's encryption safety features (src/app/e2ee-security.ts over
 * TabE2ee), on two in-process servers, as the app uses them:
 * - cross-signing is set up when a new person's tab device starts;
 * - alice verifies bob by emoji: the flow she starts goes on to the emoji as
 *   soon as bob accepts, both see the same seven, both confirm, and each then
 *   lists the other as verified;
 * - alice sets up a recovery key; her messages' keys are backed up; a new
 *   device of hers (the tab's device record gone, as after restoring the
 *   homeserver elsewhere) shows "Waiting for the key…" for them until the
 *   recovery key restores the keys, then their text.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TabSecurity } from '../../src/app/e2ee-security.ts';
import { TabE2ee } from '../../src/app/e2ee-tab.ts';
import { ClientApi } from '../../src/server/client-api/api.ts';
import { HomeserverClient } from '../../src/server/client.ts';
import { WAITING_FOR_KEY } from '../../src/server/content/index.ts';
import { Cluster, type ClusterServer } from '../../src/sim/cluster.ts';
import { waitFor } from '../helpers/js-sdk-console.ts';

let cluster: Cluster;
const running: { stop(): unknown }[] = [];
afterEach(async () => {
  for (const t of running.splice(0)) await t.stop();
  await cluster?.stopAll();
});

interface Person {
  s: ClusterServer;
  api: ClientApi;
  userId: string;
  e2ee: TabE2ee;
  sec: TabSecurity;
  client: HomeserverClient;
}

async function tab(s: ClusterServer, api: ClientApi, userId: string): Promise<Person> {
  const e2ee = await TabE2ee.start(s.hs, api, userId);
  const sec = await TabSecurity.start(e2ee);
  running.push(sec, e2ee);
  return { s, api, userId, e2ee, sec, client: new HomeserverClient(s.hs, e2ee) };
}

async function person(label: string, name: string): Promise<Person> {
  const s = await cluster.add(label);
  const userId = await s.hs.register(name, name);
  return tab(s, await ClientApi.open(s.hs, { pbkdf2Iterations: 1000 }), userId);
}

function until<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, ms = 30_000): Promise<T> {
  return waitFor(what, probe, ms);
}

async function bodies(p: Person, roomId: string): Promise<string[]> {
  await p.e2ee.decryptEvents(roomId);
  return p.client.timeline(p.userId, roomId).items.filter((i) => i.kind === 'message').map((i) => i.body ?? '');
}

async function dm(alice: Person, bob: Person): Promise<string> {
  const roomId = await alice.client.createRoom(alice.userId, { isDirect: true, encrypted: true, invite: [bob.userId] });
  await until('bob invited', async () => (await bob.client.rooms(bob.userId)).some((r) => r.roomId === roomId));
  await bob.client.join(bob.userId, roomId, [alice.s.hs.serverName]);
  await until('bob joined on a', () => alice.s.hs.rooms.get(roomId)?.membership(bob.userId) === 'join');
  return roomId;
}

describe('the tab’s verification, cross-signing and recovery', () => {
  it('cross-signing at start; emoji verification between two people ends with each verified by the other', { timeout: 90_000 }, async () => {
    cluster = new Cluster();
    const alice = await person('a', 'alice');
    const bob = await person('b', 'bob');
    for (const p of [alice, bob]) {
      const st = await p.sec.status();
      expect(st.crossSigning).toBe('ready');
      expect(st.deviceVerified).toBe(true);
      expect(st.backup).toBeUndefined();
    }
    await dm(alice, bob);
    expect((await alice.sec.trust(bob.userId)).verified).toBe(false);

    const flowId = await alice.sec.verify(bob.userId);
    await until('bob is asked', () => bob.sec.verifications.get(flowId)?.phase === 'requested');
    await bob.sec.verifications.accept(flowId);
    // Alice's side starts the emoji on its own once bob is ready.
    const [a, b] = await Promise.all(
      [alice, bob].map((p) => until(`${p.userId} shows emoji`, () => (p.sec.verifications.get(flowId)?.phase === 'emoji' ? p.sec.verifications.get(flowId) : undefined))),
    );
    expect(a!.emoji).toHaveLength(7);
    expect(b!.emoji).toEqual(a!.emoji);
    await Promise.all([alice.sec.verifications.confirm(flowId), bob.sec.verifications.confirm(flowId)]);
    await until('both done', () => alice.sec.verifications.get(flowId)?.phase === 'done' && bob.sec.verifications.get(flowId)?.phase === 'done');
    await until('alice lists bob as verified', async () => (await alice.sec.trust(bob.userId)).verified);
    await until('bob lists alice as verified', async () => (await bob.sec.trust(alice.userId)).verified);
  });

  it('a request from someone whose keys the asked device has not fetched yet (no shared room) still arrives', { timeout: 90_000 }, async () => {
    cluster = new Cluster();
    const alice = await person('a', 'alice');
    const bob = await person('b', 'bob');
    // No room in common: bob's device follows nobody, so the machine ignores the request at first;
    // TabSecurity fetches alice's keys and hands the request to it again.
    const flowId = await alice.sec.verify(bob.userId);
    await until('bob is asked', () => bob.sec.verifications.get(flowId)?.phase === 'requested');
    await bob.sec.verifications.cancel(flowId);
    await until('alice sees it declined', () => alice.sec.verifications.get(flowId)?.phase === 'cancelled');
  });

  it('a recovery key restores a new device’s history: “Waiting for the key” until then, the text after', { timeout: 90_000 }, async () => {
    cluster = new Cluster();
    const alice = await person('a', 'alice');
    const bob = await person('b', 'bob');
    const roomId = await dm(alice, bob);
    const { recoveryKey, version } = await alice.sec.setUpRecovery();
    expect(recoveryKey.split(' ')).toHaveLength(12);
    await alice.client.sendMessage(alice.userId, roomId, 'the boat leaves at dawn');
    await bob.client.sendMessage(bob.userId, roomId, 'I will bring the oars');
    await until('alice reads bob', async () => (await bodies(alice, roomId)).includes('I will bring the oars'));
    await alice.sec.backUpNow();
    await until('both sessions backed up', async () => ((await alice.sec.status()).backup?.keys ?? 0) >= 2);
    expect(await alice.sec.status()).toMatchObject({ backup: { version, thisDevice: true } });

    // Alice's tab becomes a new device (its device record gone, as on a restored homeserver).
    await alice.sec.stop();
    alice.e2ee.stop();
    await alice.api.putData([{ user_id: alice.userId, kind: 'hearth.e2ee_device', key: 'tab', value: {} }]);
    const again = await tab(alice.s, alice.api, alice.userId);
    expect(again.e2ee.deviceId).not.toBe(alice.e2ee.deviceId);
    expect(await bodies(again, roomId)).toEqual([WAITING_FOR_KEY, WAITING_FOR_KEY]);
    const st = await again.sec.status();
    // The identity exists but this device lacks its keys: it is verified from another device, not re-made.
    expect(st.crossSigning).toBe('elsewhere');
    expect(st.backup).toMatchObject({ version, thisDevice: false });

    await expect(again.sec.restore('EsTc LW2K PGiF wKEA 3As5 g5c4 BXwk qeeJ ZJV8 Q9fu a9eJ 5cz6')).rejects.toThrow(/recovery key/);
    const restored = await again.sec.restore(recoveryKey);
    expect(restored.imported).toBeGreaterThanOrEqual(2);
    // The waiting events are decrypted when their keys land (no second read needed).
    await until('the history reads', () => {
      const items = again.client.timeline(again.userId, roomId).items.filter((i) => i.kind === 'message');
      return items.map((i) => i.body).join('|') === 'the boat leaves at dawn|I will bring the oars';
    });
    expect((await again.sec.status()).backup?.thisDevice).toBe(true);
  });
});

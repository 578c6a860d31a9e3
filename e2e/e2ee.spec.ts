/**
 * End-to-end encryption in the app (issue 18): each tab is a Matrix device
 * running the Rust crypto in its homeserver worker.
 * - Two people in two browser contexts chat in an encrypted room both ways;
 *   the room shows a lock; an image is an encrypted attachment and displays;
 *   both homeservers' IndexedDB (every database of the origin, read raw)
 *   holds no plaintext of the messages — the receiving side's copy is what
 *   crossed the wire (federation carries the events as stored).
 * - A message whose room key arrives late reads "Waiting for the key to
 *   decrypt this message", then its text once the key is let through.
 * - A Hearth app user and a matrix-js-sdk user (Node, Rust crypto, through
 *   `hearth serve` on the same relay) exchange encrypted messages both ways.
 */
import '../src/platform/node-polyfills.ts';
import { type Page, expect, test } from '@playwright/test';
import { type HearthProcess, startHearth, stopHearth } from '../test/helpers/hearth-process.ts';
import { muteConsole, realConsole, sdkLog, waitFor } from '../test/helpers/js-sdk-console.ts';
import { cast, createRoom, invite, message, png, send } from './app-helpers.ts';

// Generous: a room key travels as a to-device message through the outbox, which backs off when the peer is not reachable yet.
const ARRIVAL = { timeout: 120_000 };
const WAITING = 'Waiting for the key to decrypt this message';

/** Every record of every IndexedDB database of the page's origin, as JSON text (the homeserver's and the crypto store's). */
async function rawIndexedDb(page: Page): Promise<string> {
  return page.evaluate(async () => {
    const out: string[] = [];
    const decoder = new TextDecoder();
    const show = (v: unknown): string =>
      JSON.stringify(v, (_k, x) => (x instanceof ArrayBuffer ? decoder.decode(x) : ArrayBuffer.isView(x) ? decoder.decode(x as Uint8Array) : x));
    for (const info of await indexedDB.databases()) {
      if (!info.name) continue;
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const req = indexedDB.open(info.name!);
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
      for (const store of db.objectStoreNames) {
        const all = await new Promise<unknown[]>((resolve, reject) => {
          const req = db.transaction(store, 'readonly').objectStore(store).getAll();
          req.onsuccess = () => resolve(req.result);
          req.onerror = () => reject(req.error);
        });
        out.push(`${info.name}/${store}: ${show(all)}`);
      }
      db.close();
    }
    return out.join('\n');
  });
}

const lock = (page: Page) => page.locator('.room-header').getByRole('img', { name: 'End-to-end encrypted' });

test.describe('end-to-end encryption in the app', () => {
  const people = cast();
  test.afterEach(() => people.closeAll());

  test('two tabs chat in an encrypted room both ways, an image too; neither IndexedDB holds the plaintext', async ({ browser }) => {
    test.setTimeout(360_000);
    const alice = await people.person(browser, 'Alice Liddell');
    const bob = await people.person(browser, 'Bob Stone');
    await createRoom(alice.page, 'Secret garden', { encrypted: true });
    await expect(lock(alice.page)).toBeVisible();
    await invite(alice, bob, 'Secret garden');
    await expect(lock(bob.page)).toBeVisible();

    await send(alice.page, 'the rabbit hole is behind the oak');
    await expect(message(bob.page, 'the rabbit hole is behind the oak')).toBeVisible(ARRIVAL);
    await send(bob.page, 'meet me at the croquet lawn');
    await expect(message(alice.page, 'meet me at the croquet lawn')).toBeVisible(ARRIVAL);

    // An image: encrypted in Alice's worker, uploaded as ciphertext, decrypted in Bob's.
    const image = await png(alice.page, 40, 30);
    const chooser = alice.page.waitForEvent('filechooser');
    await alice.page.getByRole('button', { name: 'Attach image' }).click();
    await (await chooser).setFiles({ name: 'map.png', mimeType: 'image/png', buffer: image });
    await alice.page.getByRole('button', { name: 'Send image' }).click();
    for (const p of [alice, bob]) {
      const img = p.page.getByRole('log', { name: 'Timeline' }).locator('img[alt="map.png"]');
      await expect(img).toBeVisible(ARRIVAL);
      await expect(img).toHaveAttribute('src', /^blob:/);
      await expect.poll(() => img.evaluate((el) => (el as HTMLImageElement).naturalWidth), ARRIVAL).toBe(40);
    }

    for (const p of [alice, bob]) {
      const raw = await rawIndexedDb(p.page);
      expect(raw).toContain('m.room.encrypted');
      expect(raw).toContain('m.megolm.v1.aes-sha2');
      for (const secret of ['rabbit hole', 'croquet lawn', 'map.png']) expect(raw, `${secret} in ${p.id}'s IndexedDB`).not.toContain(secret);
    }
  });

  test('a message whose key arrives late waits for it, then reads', async ({ browser }) => {
    test.setTimeout(300_000);
    const alice = await people.person(browser, 'Alice Liddell');
    const bob = await people.person(browser, 'Bob Stone');
    await createRoom(alice.page, 'Late keys', { encrypted: true });
    await invite(alice, bob, 'Late keys');
    // Bob's device holds its incoming to-device messages (a device slow to sync): the room key
    // Alice's first message shares with him waits, while the message itself arrives.
    await bob.page.evaluate(() => (globalThis as { __hearthHoldEncryptionKeys?: (h: boolean) => Promise<void> }).__hearthHoldEncryptionKeys!(true));
    await send(alice.page, 'second, key held back');
    await expect(message(bob.page, WAITING)).toBeVisible(ARRIVAL);
    await bob.page.evaluate(() => (globalThis as { __hearthHoldEncryptionKeys?: (h: boolean) => Promise<void> }).__hearthHoldEncryptionKeys!(false));
    await expect(message(bob.page, 'second, key held back')).toBeVisible(ARRIVAL);
    await expect(message(bob.page, WAITING)).toHaveCount(0);
  });
});

test.describe('end-to-end encryption with a standard client', () => {
  let serve: HearthProcess | undefined;
  const people = cast();
  test.afterEach(async () => {
    await people.closeAll();
    if (serve) await stopHearth(serve);
    serve = undefined;
    Object.assign(console, realConsole);
  });

  test('a Hearth tab and a matrix-js-sdk client (Rust crypto, via hearth serve) exchange encrypted messages both ways', async ({ browser, baseURL }) => {
    test.setTimeout(360_000);
    const config = (await (await fetch(`${baseURL}/hearth-config.json`)).json()) as { relays: string[] };
    serve = await startHearth(['serve', '--relay', config.relays[0]!, '--client-port', '0'], 60_000, ['--experimental-websocket']);
    const baseUrl = serve.info.client_url;
    const sdk = await import('matrix-js-sdk');
    muteConsole();
    const anon = sdk.createClient({ baseUrl });
    const password = 'correct horse battery staple';
    await anon.registerRequest({ username: 'carol', password, auth: { type: 'm.login.dummy' }, inhibit_login: true });
    const login = await anon.loginRequest({ type: 'm.login.password', identifier: { type: 'm.id.user', user: 'carol' }, password });
    const carol = sdk.createClient({ baseUrl, userId: login.user_id, accessToken: login.access_token, deviceId: login.device_id });
    try {
      await carol.initRustCrypto({ useIndexedDB: false });
      await carol.startClient({ initialSyncLimit: 20 });

      const alice = await people.person(browser, 'Alice Liddell');
      await createRoom(alice.page, 'Across clients', { encrypted: true });
      await alice.page.getByRole('button', { name: 'Invite', exact: true }).click();
      await alice.page.getByRole('textbox', { name: 'User ID' }).fill(login.user_id);
      await alice.page.getByRole('button', { name: 'Send invite' }).click();
      const roomId = await waitFor('carol invited', () => carol.getRooms().find((r) => r.getMyMembership() === 'invite')?.roomId, 60_000);
      await carol.joinRoom(roomId);
      await expect(alice.page.getByText(/Carol|carol/).first()).toBeVisible(ARRIVAL);

      await send(alice.page, 'hello carol, from a tab');
      const read = await waitFor(
        'carol decrypts alice',
        async () => {
          const room = carol.getRoom(roomId);
          for (const ev of room?.getLiveTimeline().getEvents() ?? []) {
            await carol.decryptEventIfNeeded(ev);
            if (ev.getType() === 'm.room.message' && ev.getContent().body === 'hello carol, from a tab') return ev;
          }
          return undefined;
        },
        90_000,
      );
      expect(read.isEncrypted()).toBe(true);

      await carol.sendTextMessage(roomId, 'hello alice, from matrix-js-sdk');
      await expect(message(alice.page, 'hello alice, from matrix-js-sdk')).toBeVisible(ARRIVAL);
      // What carol's server holds of alice's message is ciphertext.
      const raw = await fetch(`${baseUrl}/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/event/${encodeURIComponent(read.getId()!)}`, {
        headers: { authorization: `Bearer ${login.access_token}` },
      });
      const body = await raw.text();
      expect(body).toContain('m.room.encrypted');
      expect(body).not.toContain('from a tab');
    } catch (err) {
      throw new Error(`${(err as Error).stack}\n--- js-sdk ---\n${sdkLog.slice(-25).join('\n')}\n--- hearth serve ---\n${serve.stderr().split('\n').slice(-20).join('\n')}`);
    } finally {
      carol.stopClient();
    }
  });
});

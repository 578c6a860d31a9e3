/**
 * Schema migrations in Chromium, from stored databases of every earlier
 * IndexedDB schema version (test/fixtures/migrations/vN.json, written by real
 * builds of those versions; the Node side is test/server/store-migrations.test.ts).
 * Each dump is restored into the browser's own IndexedDB at its version (from
 * a page of the origin that runs no app), then the app is opened: its
 * homeserver worker finds the database, migrates it with the current code
 * and starts on it. The person, the room and its messages (edit applied,
 * redaction honoured) are there, a new message can be sent, and the migrated
 * database — read back from the browser — is at the current version and
 * consistent.
 */
import { expect, test } from '@playwright/test';
import { IDBFactory } from 'fake-indexeddb';
import { checkStoreConsistency } from '../src/server/store/consistency.ts';
import { SCHEMA_VERSION } from '../src/server/store/idb-store.ts';
import { openNodeStore } from '../src/server/store/node.ts';
import { loadMigrationFixtures } from '../test/fixtures/migrations/fixtures.ts';
import { type IdbDump, inPage, restoreIdb } from '../test/helpers/idb-dump.ts';
import { message, send } from './app-helpers.ts';

for (const f of loadMigrationFixtures()) {
  test(`a homeserver written by schema v${f.schema_version} (${f.commit}) opens in the app, migrated to v${SCHEMA_VERSION}`, async ({ browser }) => {
    test.setTimeout(120_000);
    const x = f.expect;
    const context = await browser.newContext();
    const page = await context.newPage();
    // A page of the origin without the app (a JSON document): nothing opens the database before the restore.
    await page.goto('/hearth-config.json');
    await page.evaluate(inPage.restore(f.dump));
    expect(((await page.evaluate(inPage.dump(f.dump.name))) as IdbDump).version).toBe(f.schema_version);

    await page.goto('/');
    await expect(page.getByLabel('Your user ID')).toHaveText(x.user_id, { timeout: 60_000 });
    await page.getByRole('navigation', { name: 'Rooms' }).getByRole('button', { name: x.room_name }).click();
    await expect(message(page, `first message from v${f.schema_version}`)).toBeVisible({ timeout: 30_000 });
    await expect(message(page, 'second message, edited')).toBeVisible();
    await expect(message(page, 'hello from the other server')).toBeVisible();
    await expect(message(page, 'queued while the other server was away 2')).toBeVisible();
    await expect(message(page, 'this one gets redacted')).toHaveCount(0);
    await send(page, `sent in Chromium after migrating from v${f.schema_version}`);
    // Shown is not stored: wait until the local echo is replaced by the stored event, then dump.
    await expect(page.locator('article.msg.outgoing')).toHaveCount(0, { timeout: 60_000 });

    // The migrated database as the browser holds it, opened with the current store code.
    const after = (await page.evaluate(inPage.dump(f.dump.name))) as IdbDump;
    await context.close();
    expect(after.version).toBe(SCHEMA_VERSION);
    expect(after.stores.map((s) => s.name)).toContain('client_data');
    const idb = new IDBFactory();
    await restoreIdb(idb, after);
    const store = await openNodeStore(after.name, { indexedDB: idb });
    try {
      expect(await checkStoreConsistency(store)).toEqual([]);
      const events = await store.roomEvents(x.room_id);
      const ids = new Set(events.map((e) => e.event_id));
      for (const m of x.messages) expect(ids.has(m.event_id), m.event_id).toBe(true);
      expect(events.some((e) => JSON.stringify(e.pdu.content).includes(`sent in Chromium after migrating from v${f.schema_version}`))).toBe(true);
      expect((await store.listAccounts()).map((a) => a.user_id)).toEqual([x.user_id]);
    } finally {
      await store.close();
    }
  });
}

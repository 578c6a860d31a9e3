/**
 * Durability in the browser (issue 17, items 3 and 4): moving a homeserver
 * to another browser with an encrypted backup file (the room continues both
 * ways, the old copy says it moved and is read-only); a full storage quota
 * (a clear message, nothing lost, the app keeps reading and works again once
 * there is room); the browser evicting the site's IndexedDB (the next visit
 * says so instead of silently starting a new homeserver).
 * Run with HEARTH_E2E_PORT=4313.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Page, expect, test } from '@playwright/test';
import { cast, message, onboard, createRoom, send } from './app-helpers.ts';

const PASSPHRASE = 'tea and biscuits at four';
const people = cast();
test.afterEach(() => people.closeAll());

async function openProfile(page: Page) {
  await page.getByRole('button', { name: 'Profile', exact: true }).click();
  return page.getByRole('dialog', { name: 'Your profile' });
}

/** Types a message and presses Enter without waiting for it to show (it may be refused). */
async function trySend(page: Page, text: string): Promise<void> {
  const box = page.getByRole('textbox', { name: 'Message' });
  await box.fill(text);
  await box.press('Enter');
}

test('a homeserver moved to another browser with a backup file continues its room; the old copy is read-only', async ({ browser }) => {
  test.setTimeout(420_000);
  const dir = await mkdtemp(join(tmpdir(), 'hearth-backup-e2e-'));
  try {
    const { alice, bob } = await people.aliceAndBobIn(browser, 'Moving');
    await send(alice.page, 'alice before the move');
    await expect(message(bob.page, 'alice before the move')).toBeVisible({ timeout: 30_000 });

    // Alice makes a "move" file: the download, then this copy retires.
    const profile = await openProfile(alice.page);
    await profile.getByText('Back up / move this homeserver').click();
    const backup = profile.getByRole('group').filter({ hasText: 'Back up / move this homeserver' });
    await backup.getByRole('radio', { name: /A move/ }).check();
    await backup.getByRole('textbox', { name: /Where it goes/ }).fill('my other browser');
    await backup.getByLabel('Passphrase', { exact: true }).fill(PASSPHRASE);
    await backup.getByLabel('Passphrase again').fill(PASSPHRASE);
    const downloading = alice.page.waitForEvent('download', { timeout: 60_000 });
    await backup.getByRole('button', { name: /^Move: download the file/ }).click();
    const download = await downloading;
    expect(download.suggestedFilename()).toMatch(/^hearth-move-\d{4}-\d{2}-\d{2}\.hearth-backup$/);
    const file = join(dir, download.suggestedFilename());
    await download.saveAs(file);
    await alice.page.getByRole('dialog', { name: 'Your profile' }).getByRole('button', { name: 'Close' }).click();
    await expect(alice.page.getByRole('status', { name: 'This homeserver moved' })).toContainText(
      /moved to another place on .*\(my other browser\).*read-only/,
    );
    await trySend(alice.page, 'from the old copy');
    await expect(alice.page.getByText(/Could not send\. This homeserver moved to another place on/)).toBeVisible({ timeout: 30_000 });
    await expect(message(bob.page, 'from the old copy')).toHaveCount(0);

    await send(bob.page, 'bob while alice moves');

    // A second browser restores the file: a wrong passphrase changes nothing, the right one continues Alice.
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto('/');
      await page.getByText('Restore from a backup file').click();
      await page.getByLabel('Backup file').setInputFiles(file);
      await page.getByLabel('Passphrase', { exact: true }).fill('not the passphrase');
      await page.getByRole('button', { name: 'Restore', exact: true }).click();
      await expect(page.getByText(/Could not restore the backup\. Wrong passphrase/)).toBeVisible({ timeout: 60_000 });
      await page.getByLabel('Passphrase', { exact: true }).fill(PASSPHRASE);
      await page.getByRole('button', { name: 'Restore', exact: true }).click();
      await test.step('the restored copy is Alice, with her room', async () => {
        await expect(page.getByLabel('Your user ID')).toHaveText(alice.id, { timeout: 60_000 });
        await expect(page.getByText(/relay connected/)).toBeVisible({ timeout: 60_000 });
        await page.getByRole('navigation', { name: 'Rooms' }).getByRole('button', { name: 'Moving' }).click();
        await expect(message(page, 'alice before the move')).toBeVisible();
      });
      await test.step('Bob catches it up on what it missed', async () => {
        await expect(message(page, 'bob while alice moves')).toBeVisible({ timeout: 90_000 });
      });
      await test.step('the room continues both ways', async () => {
        await send(page, 'alice after the move');
        await expect(message(bob.page, 'alice after the move')).toBeVisible({ timeout: 90_000 });
        await send(bob.page, 'bob after the move');
        await expect(message(page, 'bob after the move')).toBeVisible({ timeout: 90_000 });
      });
    } finally {
      await context.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a full storage quota: a clear message, nothing lost, and sending works again once there is room', async ({ browser, baseURL }) => {
  test.setTimeout(180_000);
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await onboard(page, 'Quota Queen');
    await createRoom(page, 'Full');
    await send(page, 'saved before the disk filled');
    const cdp = await context.newCDPSession(page);
    const origin = new URL(baseURL!).origin;
    const { usage } = (await cdp.send('Storage.getUsageAndQuota', { origin })) as { usage: number };
    // A quota just above what is used: the next big writes no longer fit.
    await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: Math.ceil(usage) + 64 * 1024 });
    // Incompressible text: Chromium compresses what IndexedDB stores, so repeated letters would barely count.
    const big = randomBytes(30_000).toString('base64');
    const refusal = page.getByText(/no room left for this site’s data/).first();
    let refused = false;
    for (let i = 0; i < 60 && !refused; i++) {
      await trySend(page, `${i} ${big}`);
      refused = await refusal
        .waitFor({ timeout: 1500 })
        .then(() => true)
        .catch(() => false);
    }
    expect(refused, 'a write was refused for the quota and said so').toBe(true);
    // Still reading: the room and what was saved before.
    await expect(message(page, 'saved before the disk filled')).toBeVisible();
    const profile = await openProfile(page);
    await expect(profile.getByTestId('storage-used')).toContainText(/This site stores .* of the .* this browser allows it/);
    await profile.getByRole('button', { name: 'Close' }).click();

    // The refused message is kept by the homeserver (it is part of the room already): its Retry
    // saves that event once there is room — it must not send a second copy.
    const failed = page.locator('article.msg.outgoing[data-state="failed"]').first();
    await expect(failed).toContainText('The message is kept');
    const heldText = ((await failed.locator('.body').textContent()) ?? '').trim().slice(0, 40);
    expect(heldText.length).toBeGreaterThan(10);

    // Room again: sending works, and after a reload everything acknowledged is there.
    await cdp.send('Storage.overrideQuotaForOrigin', { origin });
    // (Any write that succeeds first also saves it, and its echo goes: then there is nothing to click.)
    await failed
      .getByRole('button', { name: 'Retry' })
      .click({ timeout: 5_000 })
      .catch(() => undefined);
    await expect(page.locator('article.msg.outgoing[data-state="failed"]')).toHaveCount(0, { timeout: 30_000 });
    await send(page, 'saved once there was room');
    await page.reload();
    await page.getByRole('navigation', { name: 'Rooms' }).getByRole('button', { name: 'Full' }).click();
    await expect(message(page, 'saved before the disk filled')).toBeVisible({ timeout: 30_000 });
    await expect(message(page, 'saved once there was room')).toBeVisible();
    await expect(message(page, heldText)).toHaveCount(1);
  } finally {
    await context.close();
  }
});

test('when the browser evicts the site’s IndexedDB, the next visit says so', async ({ browser, baseURL }) => {
  test.setTimeout(120_000);
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const userId = await onboard(page, 'Evicted Eve');
    await createRoom(page, 'Soon gone');
    const cdp = await context.newCDPSession(page);
    await cdp.send('Storage.clearDataForOrigin', { origin: new URL(baseURL!).origin, storageTypes: 'indexeddb' });
    await page.reload();
    const notice = page.getByRole('alert', { name: 'Stored data was deleted' });
    await expect(notice).toBeVisible({ timeout: 30_000 });
    await expect(notice).toContainText(userId);
    await expect(notice).toContainText(/this is a new homeserver/);
    // It stays until dismissed, across reloads.
    await page.reload();
    await expect(notice).toBeVisible({ timeout: 30_000 });
    await notice.getByRole('button', { name: 'I understand' }).click();
    await expect(notice).toHaveCount(0);
    await page.reload();
    await expect(page.getByRole('textbox', { name: 'Display name' })).toBeVisible({ timeout: 30_000 });
    await expect(notice).toHaveCount(0);
  } finally {
    await context.close();
  }
});

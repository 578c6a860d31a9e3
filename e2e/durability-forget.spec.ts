/**
 * Freeing space by forgetting rooms (issue 17, item 3), in Chromium: a room
 * the person left is listed in Profile → Storage with about how much it
 * stores; forgetting it deletes its history from the browser's IndexedDB
 * (src/server/purge.ts) — the settings say how much that freed, the room is
 * gone from the list and stays gone after a reload, and the site's usage as
 * the browser counts it drops; and with the quota exhausted, forgetting a
 * room is how the app gets going again. Run with HEARTH_E2E_PORT=5313.
 */
import { randomBytes } from 'node:crypto';
import { type Page, expect, test } from '@playwright/test';
import { confirmAction, createRoom, message, onboard, roomAction, send } from './app-helpers.ts';

test('forgetting a room the person left deletes its history and frees the space', async ({ browser, baseURL }) => {
  test.setTimeout(180_000);
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await onboard(page, 'Forgetful');
    await createRoom(page, 'Kept');
    await send(page, 'this room stays');
    await createRoom(page, 'Chatter');
    // Incompressible text: Chromium compresses what IndexedDB stores, so repeated letters would barely count.
    for (let i = 0; i < 8; i++) await send(page, `big message ${i}: ${randomBytes(30_000).toString('base64')}`, `big message ${i}:`);
    await roomAction(page, 'Leave');
    await confirmAction(page, 'Leave');

    const cdp = await context.newCDPSession(page);
    const origin = new URL(baseURL!).origin;
    const usage = async () => ((await cdp.send('Storage.getUsageAndQuota', { origin })) as { usage: number }).usage;
    const before = await usage();

    await page.getByRole('button', { name: 'Profile', exact: true }).click();
    const profile = page.getByRole('dialog', { name: 'Your profile' });
    const left = profile.getByRole('list', { name: 'Rooms you left' });
    await expect(left.getByRole('listitem')).toHaveCount(1, { timeout: 30_000 });
    await expect(left.getByRole('listitem')).toContainText(/Chatter about (\d+ KB|[\d.]+ MB) \(\d+ events\)/);
    await left.getByRole('button', { name: 'Forget Chatter' }).click();
    await expect(page.getByText(/Room forgotten: freed about (\d+ KB|[\d.]+ MB) \(\d+ events\)/)).toBeVisible({ timeout: 30_000 });
    const freed = profile.getByTestId('storage-freed');
    await expect(freed).toContainText(/Forgetting rooms freed about (\d+ KB|[\d.]+ MB)/);
    await expect(left).toHaveCount(0);

    // The browser's own count of the site's storage goes down (IndexedDB reclaims the deleted records' space).
    let after = before;
    await expect
      .poll(
        async () => {
          after = await usage();
          return before - after;
        },
        { timeout: 60_000, message: `usage should drop by at least 150 KB (before ${before} bytes)` },
      )
      .toBeGreaterThan(150_000);

    // Gone for good: not in the room list, not back after a reload; the other room is untouched.
    await profile.getByRole('button', { name: 'Close' }).click();
    await page.reload();
    const rooms = page.getByRole('navigation', { name: 'Rooms' });
    await expect(rooms.getByRole('button', { name: 'Kept' })).toBeVisible({ timeout: 30_000 });
    await expect(rooms.getByRole('button', { name: 'Chatter' })).toHaveCount(0);
    await rooms.getByRole('button', { name: 'Kept' }).click();
    await send(page, 'still writing here');
    test.info().annotations.push({ type: 'usage', description: `site usage ${before} → ${after} bytes` });
  } finally {
    await context.close();
  }
});

/** A room named `name` with eight ~40 KB messages, which the person then leaves. */
async function leftRoomWithHistory(page: Page, name: string): Promise<void> {
  await createRoom(page, name);
  // Incompressible text: Chromium compresses what IndexedDB stores, so repeated letters would barely count.
  for (let i = 0; i < 8; i++) await send(page, `big message ${i}: ${randomBytes(30_000).toString('base64')}`, `big message ${i}:`);
  await roomAction(page, 'Leave');
  await confirmAction(page, 'Leave');
}

// With the quota exhausted, what can and cannot be promised. A message the browser refuses is
// shown as not saved, with Retry — never as sent and never stuck as sending (the room shows the
// event before its write lands; the echo stands for it until then). Forgetting a room still
// works and deletes its records, but Chromium's IndexedDB (LevelDB) gives the space back only when
// it compacts its files, which no refused write triggers: measured here, the site's usage did not
// drop in 30 s and writes stayed refused (PurgeResult.storageFull) — so the app says so rather
// than "freed". Once the browser has room again (here the quota is lifted, as freeing disk space
// does), Retry saves every waiting message, once, and a reload shows them all.
test('with the storage quota exhausted: not saved is shown with Retry; forgetting still works; with room again nothing is lost', async ({
  browser,
  baseURL,
}) => {
  test.setTimeout(240_000);
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await onboard(page, 'Hoarder');
    await leftRoomWithHistory(page, 'Old news');
    await createRoom(page, 'Now');
    await send(page, 'before the disk filled');

    const cdp = await context.newCDPSession(page);
    const origin = new URL(baseURL!).origin;
    const { usage } = (await cdp.send('Storage.getUsageAndQuota', { origin })) as { usage: number };
    await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: Math.ceil(usage) + 64 * 1024 });
    let lifted = false;
    try {
      const big = randomBytes(30_000).toString('base64');
      const box = page.getByRole('textbox', { name: 'Message' });
      const refusal = page.getByText(/no room left for this site’s data/).first();
      let refused = false;
      for (let i = 0; i < 60 && !refused; i++) {
        await box.fill(`filler ${i} ${big}`);
        await box.press('Enter');
        refused = await refusal
          .waitFor({ timeout: 1500 })
          .then(() => true)
          .catch(() => false);
      }
      expect(refused, 'a write was refused for the quota').toBe(true);
      await send(page, 'written while full');

      // Not saved: one row per message, the echo, marked so, with Retry (not also a "sent" copy).
      const failed = page.locator('article.msg.outgoing[data-state="failed"]');
      await expect(failed.filter({ hasText: 'written while full' })).toHaveCount(1, { timeout: 30_000 });
      await expect(message(page, 'written while full')).toHaveCount(1);
      await expect(failed.filter({ hasText: 'written while full' }).getByRole('button', { name: 'Retry' })).toBeVisible();

      // Forgetting the old room goes through even now, and says the space comes back later.
      await page.getByRole('button', { name: 'Profile', exact: true }).click();
      const profile = page.getByRole('dialog', { name: 'Your profile' });
      await profile.getByRole('list', { name: 'Rooms you left' }).getByRole('button', { name: 'Forget Old news' }).click();
      await expect(page.getByText(/Room forgotten: its \d+ events \(about .*\) are deleted, but the browser gives the disk space back only/)).toBeVisible({
        timeout: 30_000,
      });
      await profile.getByRole('button', { name: 'Close' }).click();
      await expect(failed.filter({ hasText: 'written while full' })).toHaveCount(1);

      // Room again (as freeing disk space gives): Retry until every waiting message is saved.
      await cdp.send('Storage.overrideQuotaForOrigin', { origin });
      lifted = true;
      const outgoing = page.locator('article.msg.outgoing');
      await expect
        .poll(
          async () => {
            await failed
              .first()
              .getByRole('button', { name: 'Retry' })
              .click({ timeout: 2_000 })
              .catch(() => undefined);
            return outgoing.count();
          },
          { timeout: 90_000, intervals: [1_000, 3_000] },
        )
        .toBe(0);
      await send(page, 'saved after forgetting a room');
      await expect(outgoing).toHaveCount(0, { timeout: 30_000 });

      // Stored, once each: a reload shows them; the forgotten room stays gone.
      await page.reload();
      const rooms = page.getByRole('navigation', { name: 'Rooms' });
      await rooms.getByRole('button', { name: 'Now' }).click({ timeout: 30_000 });
      await expect(message(page, 'saved after forgetting a room')).toBeVisible({ timeout: 30_000 });
      await expect(message(page, 'written while full')).toHaveCount(1);
      await expect(rooms.getByRole('button', { name: 'Old news' })).toHaveCount(0);
    } finally {
      if (!lifted) await cdp.send('Storage.overrideQuotaForOrigin', { origin });
    }
  } finally {
    await context.close();
  }
});

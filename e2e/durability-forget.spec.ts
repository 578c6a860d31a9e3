/**
 * Freeing space by forgetting rooms (issue 17, item 3), in Chromium: a room
 * the person left is listed in Profile → Storage with about how much it
 * stores; forgetting it deletes its history from the browser's IndexedDB
 * (src/server/purge.ts) — the settings say how much that freed, the room is
 * gone from the list and stays gone after a reload, and the site's usage as
 * the browser counts it drops. Run with HEARTH_E2E_PORT=5313.
 */
import { randomBytes } from 'node:crypto';
import { expect, test } from '@playwright/test';
import { confirmAction, createRoom, onboard, roomAction, send } from './app-helpers.ts';

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

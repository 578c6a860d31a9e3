/**
 * Images: attach one in the composer, see its thumbnail (the bytes come from
 * the worker, never an mxc URL in `src`), open it full size; refuse one over
 * the 2 MiB cap; and across two homeservers through the relay, the other side
 * fetches the image over the network.
 */
import { type Page, expect, test } from '@playwright/test';
import { createRoom, invite, message, onboard, person, png, send } from './app-helpers.ts';

/** Attaches a file through the composer's "Attach image" button, as a person would. */
async function attach(page: Page, file: { name: string; mimeType: string; buffer: Buffer }): Promise<void> {
  const chooser = page.waitForEvent('filechooser');
  await page.getByRole('button', { name: 'Attach image' }).click();
  await (await chooser).setFiles(file);
  // An image is previewed with a caption field first; one over the size cap is refused at once.
  if (file.buffer.length <= 2 * 1024 * 1024) await page.getByRole('button', { name: 'Send image' }).click();
}

function thumbnail(page: Page, alt: string) {
  return page.getByRole('log', { name: 'Timeline' }).locator(`img[alt="${alt}"]`);
}

/** The image is shown from an object URL over bytes it has fully decoded, at its real pixel size. */
async function expectShown(page: Page, alt: string, width: number, height: number, timeout = 10_000): Promise<void> {
  const img = thumbnail(page, alt);
  await expect(img).toBeVisible({ timeout });
  await expect(img).toHaveAttribute('src', /^blob:/);
  await expect.poll(() => img.evaluate((el: HTMLImageElement) => `${el.naturalWidth}×${el.naturalHeight}`)).toBe(`${width}×${height}`);
}

test('attach an image: thumbnail, full view, and a clear refusal over 2 MiB', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await onboard(page, 'Alice');
  await createRoom(page, 'Gallery');
  await attach(page, { name: 'sunset.png', mimeType: 'image/png', buffer: await png(page, 48, 32) });
  await expectShown(page, 'sunset.png', 48, 32);
  const box = await thumbnail(page, 'sunset.png').boundingBox();
  expect(box?.width).toBeLessThanOrEqual(320);
  expect(box?.height).toBeLessThanOrEqual(320);

  // A click opens the full image in a dialog.
  await thumbnail(page, 'sunset.png').click();
  const dialog = page.getByRole('dialog', { name: 'sunset.png' });
  await expect(dialog.getByRole('img', { name: 'sunset.png' })).toBeVisible();
  await page.screenshot({ path: 'e2e/screenshots/media-dialog.png' });
  await dialog.getByRole('button', { name: 'Close' }).click();
  await expect(page.getByRole('dialog')).toHaveCount(0);

  // A big image is scaled into the 320×320 box.
  await attach(page, { name: 'wide.png', mimeType: 'image/png', buffer: await png(page, 1200, 300) });
  await expectShown(page, 'wide.png', 1200, 300);
  const wide = await thumbnail(page, 'wide.png').boundingBox();
  expect(Math.round(wide?.width ?? 0)).toBe(320);
  expect(Math.round(wide?.height ?? 0)).toBe(80);
  await page.screenshot({ path: 'e2e/screenshots/media-timeline.png' });

  // Over the cap: said clearly, nothing sent.
  await attach(page, { name: 'huge.png', mimeType: 'image/png', buffer: Buffer.alloc(3 * 1024 * 1024, 1) });
  await expect(page.getByText(/huge\.png is too large to send \(3\.0 MiB\): images can be at most 2\.0 MiB/)).toBeVisible();
  await expect(thumbnail(page, 'huge.png')).toHaveCount(0);

  // Text still works beside images.
  await send(page, 'nice pictures');
  expect(errors).toEqual([]);
});

test('older items load when scrolling to the top, keeping the place', async ({ page }) => {
  await onboard(page, 'Alice');
  await createRoom(page, 'Long');
  const box = page.getByRole('textbox', { name: 'Message' });
  for (let i = 0; i < 110; i++) {
    await box.fill(`line ${i}`);
    await box.press('Enter');
    await expect(box).toHaveValue('');
  }
  const log = page.getByRole('log', { name: 'Timeline' });
  const line = (n: number) => log.getByRole('article').filter({ has: page.getByText(`line ${n}`, { exact: true }) });
  await expect(line(109)).toBeVisible();
  // The timeline starts with the latest 100 items: the room's creation and the first lines are not loaded yet.
  await expect(log.getByText(/created the room/)).toHaveCount(0);
  await expect(line(0)).toHaveCount(0);
  const firstId = await log.getByRole('article').first().getAttribute('data-event-id');
  await log.evaluate((el) => {
    el.scrollTop = 0;
  });
  await expect(log.getByText(/created the room/)).toHaveCount(1);
  await expect(line(0)).toHaveCount(1);
  // The item that was at the top is still in view: the older items went in above it.
  await expect(log.locator(`[data-event-id="${firstId}"]`)).toBeInViewport();
});




test.describe('images between homeservers', () => {
  test.setTimeout(180_000);

  test('alice sends images, bob fetches them over the network (one from history, one live)', async ({ browser }) => {
    const alice = await person(browser, 'alice');
    const bob = await person(browser, 'bob');
    await createRoom(alice.page, 'Photos');
    // Before bob is in the room: it reaches him through the history fetched after his join.
    await attach(alice.page, { name: 'before.png', mimeType: 'image/png', buffer: await png(alice.page, 40, 30) });
    await expectShown(alice.page, 'before.png', 40, 30);
    await invite(alice, bob, 'Photos');
    await attach(alice.page, { name: 'live.png', mimeType: 'image/png', buffer: await png(alice.page, 64, 64) });
    await expectShown(alice.page, 'live.png', 64, 64);
    // Bob's homeserver has neither blob: the worker downloads them from alice's.
    await expectShown(bob.page, 'live.png', 64, 64, 30_000);
    await expectShown(bob.page, 'before.png', 40, 30, 30_000);
    await send(bob.page, 'got them');
    await expect(message(alice.page, 'got them')).toBeVisible({ timeout: 30_000 });
    await alice.context.close();
    await bob.context.close();
  });
});

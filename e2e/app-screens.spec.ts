/**
 * Screenshots of the main views, light and dark, desktop and phone width, into
 * e2e/screenshots/ (not committed) — for people to look at, not to diff.
 */
import { type Page, expect, test } from '@playwright/test';
import { confirmAction, createRoom, message, onboard, roomAction, send } from './app-helpers.ts';

const SIZES = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } } as const;

async function shot(page: Page, name: string) {
  await page.waitForTimeout(150);
  await page.screenshot({ path: `e2e/screenshots/${name}.png` });
}

for (const scheme of ['light', 'dark'] as const) {
  for (const [size, viewport] of Object.entries(SIZES)) {
    test(`screenshots: ${scheme}, ${size}`, async ({ page }) => {
      const tag = `${size}-${scheme}`;
      await page.setViewportSize(viewport);
      await page.emulateMedia({ colorScheme: scheme });
      await page.goto('/');
      await page.getByRole('textbox', { name: 'Display name' }).fill('Alice Liddell');
      await shot(page, `${tag}-1-onboarding`);
      await onboard(page, 'Alice Liddell');
      await shot(page, `${tag}-2-welcome`);

      await createRoom(page, 'Garden party');
      await send(page, 'Hello **everyone**! The plan is at https://example.org/plan', 'Hello everyone!');
      await send(page, 'Bring `tea` and *cake*', 'Bring tea and cake');
      await message(page, 'Hello').hover();
      await message(page, 'Hello').getByRole('button', { name: 'React 🎉' }).click();
      await message(page, 'Hello').getByRole('button', { name: 'Reply' }).click();
      await send(page, 'Replying to myself');
      await message(page, 'Bring').hover();
      await message(page, 'Bring').getByRole('button', { name: 'Delete' }).click();
      await confirmAction(page, 'Delete');
      await expect(page.getByText('Message deleted')).toBeVisible();
      await page.getByRole('textbox', { name: 'Message' }).click();
      await shot(page, `${tag}-3-timeline`);

      await roomAction(page, 'Room settings');
      await shot(page, `${tag}-4-settings`);
      await page.keyboard.press('Escape');

      await roomAction(page, /^Members/);
      await shot(page, `${tag}-5-members`);
      await page.getByRole('button', { name: 'Close members' }).click();

      await page.getByRole('button', { name: 'Network' }).click();
      await shot(page, `${tag}-6-network`);
      await page.getByRole('button', { name: 'Close panel' }).click();

      await roomAction(page, 'Event graph');
      await page.getByRole('button', { name: /^m\.room\.message by/ }).first().click();
      await expect(page.locator('pre.json')).toBeVisible();
      await shot(page, `${tag}-7-graph`);
      await page.keyboard.press('Escape');

      await message(page, 'Replying').hover();
      await message(page, 'Replying').getByRole('button', { name: 'Thread' }).click();
      const t = page.getByRole('textbox', { name: 'Reply in thread' });
      await t.fill('A thread reply');
      await t.press('Enter');
      await shot(page, `${tag}-8-thread`);
    });
  }
}

/** Shared steps for the app's browser tests: they drive the UI only, by accessible names. */
import { type Page, expect } from '@playwright/test';

/** Opens the app and creates this homeserver's account; returns the user ID shown. */
export async function onboard(page: Page, displayName: string): Promise<string> {
  await page.goto('/');
  await page.getByRole('textbox', { name: 'Display name' }).fill(displayName);
  await page.getByRole('button', { name: 'Start' }).click();
  const id = page.getByLabel('Your user ID');
  await expect(id).toHaveText(/^@[a-z0-9._=/+-]+:.+$/);
  return (await id.textContent()) ?? '';
}

export async function createRoom(page: Page, name: string): Promise<void> {
  await page.getByRole('button', { name: 'New room' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByRole('textbox', { name: 'Room name' }).fill(name);
  await dialog.getByRole('button', { name: 'Create' }).click();
  await expect(page.getByRole('dialog')).toHaveCount(0);
  // The new room opens (at phone width the room list is hidden while a room is open).
  await expect(page.getByRole('heading', { level: 2, name, exact: true })).toBeVisible();
}

/** Sends `text` with Enter and waits for it in the Timeline (as `shown`, when Markdown-lite changes it). */
export async function send(page: Page, text: string, shown = text): Promise<void> {
  const box = page.getByRole('textbox', { name: 'Message' });
  await box.fill(text);
  await box.press('Enter');
  await expect(box).toHaveValue('');
  await expect(message(page, shown)).toBeVisible();
}

/** The message row in the Timeline whose body contains `text`. */
export function message(page: Page, text: string) {
  return page.getByRole('log', { name: 'Timeline' }).getByRole('article').filter({ hasText: text });
}

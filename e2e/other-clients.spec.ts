/**
 * The tab's person can use another Matrix client: "Other clients" shows the
 * homeserver URL and user ID and sets a password, which then logs in through
 * the Service Worker (m.login.password) as that same user.
 */
import { expect, test } from '@playwright/test';
import { onboard } from './app-helpers.ts';

test('the tab person sets a password and logs in with it from a Matrix client', async ({ page }) => {
  const me = await onboard(page, 'Wren');
  await page.getByRole('button', { name: 'Other clients' }).click();
  const dialog = page.getByRole('dialog', { name: 'Use another Matrix client' });
  await expect(dialog.getByLabel('Homeserver URL', { exact: true })).toHaveText(new URL(page.url()).origin);
  await expect(dialog.getByLabel('Your user ID for other clients', { exact: true })).toHaveText(me);
  await expect(dialog.getByText('No password yet')).toBeVisible();
  await dialog.getByLabel('Set a password').fill('correct horse');
  await dialog.getByRole('button', { name: 'Save password' }).click();
  await expect(dialog.getByText('A password is set.')).toBeVisible({ timeout: 15_000 });

  const login = async (password: string) =>
    page.evaluate(
      async ({ user, password }) => {
        const sw = navigator.serviceWorker;
        await sw.ready;
        if (!sw.controller) await new Promise((r) => sw.addEventListener('controllerchange', r, { once: true }));
        const res = await fetch('/_matrix/client/v3/login', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ type: 'm.login.password', identifier: { type: 'm.id.user', user }, password }),
        });
        return { status: res.status, json: (await res.json()) as Record<string, unknown> };
      },
      { user: me, password },
    );
  const wrong = await login('wrong password');
  expect(wrong.status).toBe(403);
  expect(wrong.json.errcode).toBe('M_FORBIDDEN');
  const ok = await login('correct horse');
  expect(ok.status).toBe(200);
  expect(ok.json.user_id).toBe(me);
  expect(typeof ok.json.access_token).toBe('string');
});

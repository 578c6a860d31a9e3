import { expect, test } from '@playwright/test';

test('the page loads and shows the app heading', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.goto('/');
  await expect(page.getByRole('heading', { level: 1, name: 'Hearth' })).toBeVisible();
  expect(errors).toEqual([]);
});

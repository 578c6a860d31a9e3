/**
 * The lab page: three homeserver workers in one tab run the shipped
 * split-brain-topic-race scenario through the relay — a partition, a topic
 * set on each side, the heal — and every converge and expect step passes.
 */
import { expect, test } from '@playwright/test';

test('the lab runs split-brain-topic-race to convergence', async ({ page }) => {
  test.setTimeout(150_000);
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.goto('/lab.html');
  await expect(page.getByRole('heading', { level: 1, name: 'Hearth lab' })).toBeVisible();
  await page.getByRole('combobox', { name: 'Scenario' }).selectOption({ label: 'split-brain-topic-race' });
  await page.getByRole('button', { name: 'Run', exact: true }).click();

  const log = page.getByRole('log', { name: 'Step log' });
  await expect(log).toContainText(/Finished: \d+ passed, \d+ failed, \d+ skipped/, { timeout: 120_000 });
  await expect(log).toContainText('Finished: 21 passed, 0 failed, 0 skipped');
  await expect(log).toContainText(/converged in \d+ ms/);
  await expect(log.getByRole('listitem').filter({ hasText: 'failed —' })).toHaveCount(0);

  // Every server column shows the topic state resolution picked: b's.
  for (const label of ['a', 'b', 'c']) {
    const column = page.getByRole('article', { name: `Server ${label}` });
    await expect(column.getByTestId('topic')).toHaveText('topic from b', { timeout: 10_000 });
    await expect(column).toContainText('back together');
  }
  // The network view: no link left cut after the heal.
  await expect(page.getByRole('button', { name: /^Link a–b: up/ })).toBeVisible();
  expect(errors).toEqual([]);
});

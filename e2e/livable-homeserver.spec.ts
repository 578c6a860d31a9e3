/**
 * A homeserver a person can live in (issue 15, items 1–3): it comes back
 * when every tab was closed and the page is opened again; a second tab of
 * the same profile says the homeserver is open elsewhere and offers to move
 * it or start another; the list of this browser's homeservers names people,
 * never databases, and can delete one; the profile (display name, avatar)
 * changes in every joined room, where the other people see it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import { type Page, chromium, expect, test } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../scripts/chromium.ts';
import { createRoom, invite, message, onboard, person, png, send } from './app-helpers.ts';

/** No serious or critical axe violations on the page as it is. */
async function accessible(page: Page, what: string): Promise<void> {
  const result = await new AxeBuilder({ page }).analyze();
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(bad.map((v) => `${what}: ${v.id} ${v.help}`)).toEqual([]);
}

test('closing every tab and opening the page again gives back your homeserver', async ({ baseURL }) => {
  const profile = await mkdtemp(join(tmpdir(), 'hearth-profile-'));
  const launch = () => chromium.launchPersistentContext(profile, { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, baseURL });
  try {
    let browser = await launch();
    let page = browser.pages()[0] ?? (await browser.newPage());
    const userId = await onboard(page, 'Alice');
    await createRoom(page, 'Kept');
    await send(page, 'still here after closing the browser');
    await browser.close(); // every tab, and the browser itself

    browser = await launch();
    page = browser.pages()[0] ?? (await browser.newPage());
    await page.goto('/');
    await expect(page.getByLabel('Your user ID')).toHaveText(userId, { timeout: 30_000 });
    await page.getByRole('navigation', { name: 'Rooms' }).getByRole('button', { name: 'Kept' }).click();
    await expect(message(page, 'still here after closing the browser')).toBeVisible();
    await browser.close();
  } finally {
    await rm(profile, { recursive: true, force: true });
  }
});

test('a second tab says the homeserver is open in another tab: switch to it, start another, and delete one from the list', async ({ browser }) => {
  const context = await browser.newContext();
  const first = await context.newPage();
  const alice = await onboard(first, 'Alice');
  await createRoom(first, 'Home');

  // A second tab of the same profile does not silently become a new homeserver.
  const second = await context.newPage();
  await second.goto('/');
  await expect(second.getByRole('heading', { name: "Alice's homeserver is open in another tab" })).toBeVisible({ timeout: 30_000 });
  await expect(second.getByText(alice)).toBeVisible();
  await accessible(second, 'open in another tab');

  // Switch to it: the homeserver moves here, the first tab lets it go.
  await second.getByRole('button', { name: 'Switch to it' }).click();
  await expect(second.getByLabel('Your user ID')).toHaveText(alice, { timeout: 30_000 });
  await expect(second.getByRole('navigation', { name: 'Rooms' }).getByRole('button', { name: 'Home' })).toBeVisible();
  await expect(first.getByRole('heading', { name: 'Your homeserver moved to another tab' })).toBeVisible();

  // A third tab starts another homeserver, for demos.
  const third = await context.newPage();
  await third.goto('/');
  await third.getByRole('button', { name: 'Start another homeserver here (for demos)' }).click();
  await expect(third.getByRole('textbox', { name: 'Display name' })).toBeVisible({ timeout: 30_000 });
  const bob = await onboard(third, 'Bob');
  expect(bob).not.toBe(alice);

  // With Alice's tabs closed, Bob's profile lists Alice's homeserver by name and user ID — no database names.
  await first.close();
  await second.close();
  // Closing a tab ends its homeserver worker, and with it the database's lock.
  await expect
    .poll(() => third.evaluate(async () => ((await navigator.locks.query()).held ?? []).filter((l) => l.name?.startsWith('hearth-db:')).length))
    .toBe(1);
  await third.getByRole('button', { name: 'Profile', exact: true }).click();
  const dialog = third.getByRole('dialog', { name: 'Your profile' });
  await dialog.getByText(/Other homeservers in this browser/).click();
  const list = dialog.getByRole('list', { name: 'Other homeservers in this browser' });
  await expect(list.getByRole('listitem')).toHaveCount(1);
  await expect(list).toContainText('Alice');
  await expect(list).toContainText(alice);
  await expect(list).not.toContainText('hearth-hs-');
  await accessible(third, 'profile with the homeserver list');

  // Deleting asks first; cancelling keeps it.
  await list.getByRole('button', { name: "Delete Alice's homeserver" }).click();
  await expect(list).toContainText("Delete Alice's homeserver for good?");
  await list.getByRole('button', { name: 'Cancel' }).click();
  await expect(list.getByRole('listitem')).toHaveCount(1);
  await list.getByRole('button', { name: "Delete Alice's homeserver" }).click();
  await list.getByRole('button', { name: 'Delete for good' }).click();
  await expect(dialog.getByRole('list', { name: 'Other homeservers in this browser' })).toHaveCount(0);
  const names = await third.evaluate(async () => (await indexedDB.databases()).map((d) => d.name ?? ''));
  expect(names.filter((n) => n.startsWith('hearth-hs-'))).toHaveLength(1); // Bob's only
  await context.close();
});

test('profile: a new display name and avatar reach every joined room; user ID, server name and chat link are shown', async ({ browser }) => {
  const alice = await person(browser, 'Alice');
  const bob = await person(browser, 'Bob');
  await createRoom(alice.page, 'Alone');
  await createRoom(alice.page, 'Profiles');
  await invite(alice, bob, 'Profiles');
  await send(alice.page, 'hello from Alice');
  await expect(message(bob.page, 'hello from Alice')).toBeVisible({ timeout: 30_000 });

  await alice.page.getByRole('button', { name: 'Profile', exact: true }).click();
  const dialog = alice.page.getByRole('dialog', { name: 'Your profile' });
  await expect(dialog.getByRole('status', { name: 'Your user ID in your profile' })).toHaveText(alice.id);
  await expect(dialog.getByRole('status', { name: 'Your server name' })).toHaveText(alice.id.split(':').slice(1).join(':'));
  await expect(dialog.getByRole('status', { name: 'Your chat link' })).toHaveText(new RegExp(`#/chat/${alice.id.replace(/[.+]/g, '\\$&')}$`));
  await alice.context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await dialog.getByRole('button', { name: 'Copy your chat link' }).click();
  await expect(dialog.getByRole('button', { name: 'Copy your chat link' })).toHaveText('Copied');
  expect(await alice.page.evaluate(() => navigator.clipboard.readText())).toContain(`#/chat/${alice.id}`);

  await dialog.getByRole('textbox', { name: 'Display name' }).fill('Alicia');
  await dialog.getByRole('button', { name: 'Save display name' }).click();
  await expect(alice.page.getByText('Display name changed in all your rooms')).toBeVisible({ timeout: 30_000 });
  const chooser = alice.page.waitForEvent('filechooser');
  await dialog.getByRole('button', { name: 'Choose avatar image' }).click();
  await (await chooser).setFiles({ name: 'me.png', mimeType: 'image/png', buffer: await png(alice.page, 48, 48) });
  await expect(dialog.locator('img.avatar-image')).toBeVisible({ timeout: 30_000 });
  await dialog.getByRole('button', { name: 'Close' }).click();

  // Bob sees the new name and avatar in the shared room.
  await bob.page.getByRole('button', { name: /^Members/ }).click();
  const bobsMembers = bob.page.getByRole('complementary', { name: 'Members' });
  const aliceRow = bobsMembers.getByRole('listitem').filter({ hasText: alice.id });
  await expect(aliceRow).toContainText('Alicia', { timeout: 30_000 });
  await expect(aliceRow.locator('img.avatar-image')).toBeVisible({ timeout: 30_000 });

  // And the room only Alice is in has the new member event too.
  await alice.page.getByRole('navigation', { name: 'Rooms' }).getByRole('button', { name: 'Alone' }).click();
  await alice.page.getByRole('button', { name: /^Members/ }).click();
  const own = alice.page.getByRole('complementary', { name: 'Members' }).getByRole('listitem').filter({ hasText: alice.id });
  await expect(own).toContainText('Alicia');
  await expect(own.locator('img.avatar-image')).toBeVisible({ timeout: 30_000 });

  await alice.context.close();
  await bob.context.close();
});

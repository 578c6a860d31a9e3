import AxeBuilder from '@axe-core/playwright';
import { type Page, expect, test } from '@playwright/test';
import { confirmAction, createRoom, message, onboard, send } from './app-helpers.ts';

function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  return errors;
}

test('onboarding shows the user ID and the server', async ({ page }) => {
  const errors = collectErrors(page);
  await page.goto('/');
  await expect(page.getByRole('heading', { level: 1, name: 'Hearth' })).toBeVisible();
  await page.getByRole('textbox', { name: 'Display name' }).fill('Alice Liddell');
  await expect(page.getByRole('textbox', { name: 'Username' })).toHaveValue('alice-liddell');
  await page.getByRole('button', { name: 'Start' }).click();
  await expect(page.getByLabel('Your user ID')).toHaveText(/^@alice-liddell:[1-9A-HJ-NP-Za-km-z]{20,}$/);
  await expect(page.getByRole('button', { name: 'Copy user ID' })).toBeVisible();
  await expect(page.getByRole('heading', { name: 'Hello, Alice Liddell' })).toBeVisible();
  expect(errors).toEqual([]);
});

test('create a room, send, edit with Up, react, reply and delete', async ({ page }) => {
  const errors = collectErrors(page);
  await onboard(page, 'Alice');
  await createRoom(page, 'Garden');
  const log = page.getByRole('log', { name: 'Timeline' });
  await expect(log.getByText(/created the room/)).toBeVisible();

  await send(page, 'first message');
  await send(page, 'second with **bold** and `code`', 'second with bold and code');
  await expect(log.locator('strong', { hasText: 'bold' })).toBeVisible();
  await expect(log.locator('code', { hasText: 'code' })).toBeVisible();

  // Up in the empty composer edits my last message.
  const box = page.getByRole('textbox', { name: 'Message' });
  await box.press('ArrowUp');
  await expect(box).toHaveValue('second with **bold** and `code`');
  await box.fill('second, edited');
  await box.press('Enter');
  await expect(message(page, 'second, edited')).toContainText('(edited)');
  await expect(log.getByText('second with')).toHaveCount(0);

  // React.
  await message(page, 'first message').hover();
  await message(page, 'first message').getByRole('button', { name: 'React 👍' }).click();
  await expect(message(page, 'first message').getByRole('button', { name: /^👍 1/ })).toBeVisible();

  // Reply: quoted above the new message.
  await message(page, 'first message').getByRole('button', { name: 'Reply' }).click();
  await expect(page.getByText('Replying to Alice')).toBeVisible();
  await box.fill('a reply');
  await box.press('Enter');
  const reply = message(page, 'a reply');
  await expect(reply.locator('blockquote')).toContainText('first message');

  // Delete.
  await message(page, 'second, edited').hover();
  await message(page, 'second, edited').getByRole('button', { name: 'Delete' }).click();
  await confirmAction(page, 'Delete');
  await expect(log.getByText('second, edited')).toHaveCount(0);
  await expect(log.getByText('Message deleted')).toBeVisible();

  // Thread.
  await message(page, 'a reply').hover();
  await message(page, 'a reply').getByRole('button', { name: 'Thread' }).click();
  const thread = page.getByRole('textbox', { name: 'Reply in thread' });
  await thread.fill('in the thread');
  await thread.press('Enter');
  await expect(page.getByRole('log', { name: 'Thread' }).getByText('in the thread')).toBeVisible();
  await expect(log.getByText('in the thread')).toHaveCount(0);
  await expect(message(page, 'a reply').getByRole('button', { name: '1 reply in thread' })).toBeVisible();
  expect(errors).toEqual([]);
});

test('room settings save the name and topic', async ({ page }) => {
  await onboard(page, 'Alice');
  await createRoom(page, 'Before');
  await page.getByRole('button', { name: 'Room settings' }).click();
  const dialog = page.getByRole('dialog', { name: 'Room settings' });
  await dialog.getByRole('textbox', { name: 'Room name' }).fill('After');
  await dialog.getByRole('textbox', { name: 'Topic' }).fill('Plans for the weekend');
  await dialog.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByRole('dialog')).toHaveCount(0);
  await expect(page.getByRole('heading', { level: 2, name: 'After' })).toBeVisible();
  await expect(page.locator('.room-header').getByText('Plans for the weekend')).toBeVisible();
  await expect(page.getByRole('navigation', { name: 'Rooms' }).getByRole('button', { name: 'After' })).toBeVisible();
  const log = page.getByRole('log', { name: 'Timeline' });
  await expect(log.getByText(/changed the room name to .After./)).toBeVisible();
  // A level for one event type: only admins (100) may change the topic from now on.
  await page.getByRole('button', { name: 'Room settings' }).click();
  await dialog.getByRole('textbox', { name: 'Add an event type' }).fill('m.room.topic');
  await dialog.getByRole('button', { name: 'Add to Event types' }).click();
  await dialog.getByRole('spinbutton', { name: 'm.room.topic' }).fill('100');
  await dialog.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByRole('dialog')).toHaveCount(0);
  await page.getByRole('button', { name: 'Room settings' }).click();
  await expect(dialog.getByRole('spinbutton', { name: 'm.room.topic' })).toHaveValue('100');
  await dialog.getByRole('button', { name: 'Remove m.room.topic from power levels' }).click();
  await expect(dialog.getByRole('spinbutton', { name: 'm.room.topic' })).toHaveCount(0);
  await dialog.getByRole('button', { name: 'Cancel' }).click();
});

test('reload keeps identity, rooms and history', async ({ page }) => {
  const userId = await onboard(page, 'Alice');
  await createRoom(page, 'Kept');
  await send(page, 'still here after reload');
  await page.reload();
  await expect(page.getByLabel('Your user ID')).toHaveText(userId);
  await page.getByRole('navigation', { name: 'Rooms' }).getByRole('button', { name: 'Kept' }).click();
  await expect(page.getByRole('log', { name: 'Timeline' }).getByText('still here after reload')).toBeVisible();
});

test('a second browser context gets a homeserver of its own', async ({ page, browser }) => {
  const first = await onboard(page, 'Alice');
  const context = await browser.newContext();
  const other = await context.newPage();
  const second = await onboard(other, 'Alice');
  expect(second).not.toBe(first);
  expect(second.split(':')[1]).not.toBe(first.split(':')[1]);
  await context.close();
});

test('hostile content renders as text', async ({ page }) => {
  const dialogs: string[] = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  await onboard(page, 'Mallory');
  await createRoom(page, '<b>bold room</b>');
  const hostile = [
    '<img src=x onerror=alert(1)>',
    '<script>alert(2)</script>',
    '[click](javascript:alert(3))',
    '**<img src=y onerror=alert(4)>**',
  ];
  for (const h of hostile) await send(page, h, h.replace(/\*\*/g, '').replace(/\[click\]\(.*\)/, '[click]'));
  const log = page.getByRole('log', { name: 'Timeline' });
  await expect(log.locator('img')).toHaveCount(0);
  await expect(log.locator('script')).toHaveCount(0);
  await expect(log.locator('a[href^="javascript"]')).toHaveCount(0);
  await expect(page.locator('b', { hasText: 'bold room' })).toHaveCount(0);
  await expect(log.getByText('<img src=x onerror=alert(1)>', { exact: true })).toBeVisible();
  await page.waitForTimeout(300);
  expect(dialogs).toEqual([]);
});

test('network panel: server name, relay, and the Offline switch', async ({ page }) => {
  const userId = await onboard(page, 'Alice');
  await page.getByRole('button', { name: 'Network' }).click();
  const panel = page.getByRole('complementary', { name: 'Network' });
  await expect(panel.getByText(userId.split(':')[1]!)).toBeVisible();
  await expect(panel.getByText('connected', { exact: true })).toBeVisible();
  const offline = panel.getByRole('switch', { name: 'Offline' });
  await expect(offline).toHaveAttribute('aria-checked', 'false');
  await offline.click();
  await expect(offline).toHaveAttribute('aria-checked', 'true');
  await expect(page.getByRole('banner').getByText('Offline')).toBeVisible();
  await offline.click();
  await expect(offline).toHaveAttribute('aria-checked', 'false');
});

test('event graph shows the DAG and a clicked event', async ({ page }) => {
  await onboard(page, 'Alice');
  await createRoom(page, 'Graph');
  await send(page, 'a node');
  await page.getByRole('button', { name: 'Event graph' }).click();
  const dialog = page.getByRole('dialog', { name: 'Event graph' });
  const create = dialog.getByRole('button', { name: /^m\.room\.create by/ });
  await expect(create).toBeVisible();
  expect(await dialog.getByRole('button', { name: /^m\.room\./ }).count()).toBeGreaterThanOrEqual(6);
  await dialog.getByRole('button', { name: /^m\.room\.message by/ }).click();
  await expect(dialog.locator('pre.json')).toContainText('"a node"');
  await expect(dialog.getByRole('heading', { name: /Auth events/ })).toBeVisible();
});

test('a chat link offers to start a chat in one click', async ({ page }) => {
  await onboard(page, 'Alice');
  await page.goto('/#/chat/@bob:12D3KooWExampleExampleExample');
  await expect(page.getByRole('region', { name: 'Chat link' })).toContainText('@bob:12D3KooWExampleExampleExample');
  await expect(page.getByRole('button', { name: 'Start chat' })).toBeVisible();
});

test.describe('accessibility (axe: no serious or critical violations)', () => {
  // Six axe passes over a full page: close to a minute on a loaded 2-core machine, so the 60 s default is not enough.
  test.setTimeout(180_000);
  async function check(page: Page, what: string) {
    const result = await new AxeBuilder({ page }).analyze();
    const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    expect(bad.map((v) => `${what}: ${v.id} ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`)).toEqual(
      [],
    );
  }

  for (const scheme of ['light', 'dark'] as const) {
    test(`all main views, ${scheme}`, async ({ page }) => {
      await page.emulateMedia({ colorScheme: scheme });
      await page.goto('/');
      await expect(page.getByRole('textbox', { name: 'Display name' })).toBeVisible();
      await check(page, 'onboarding');
      await onboard(page, 'Alice');
      await check(page, 'room list');
      await createRoom(page, 'Accessible');
      await send(page, 'hello **there**', 'hello there');
      await message(page, 'hello').hover();
      await message(page, 'hello').getByRole('button', { name: 'React 🎉' }).click();
      await check(page, 'timeline');
      await page.getByRole('button', { name: 'Room settings' }).click();
      await check(page, 'settings');
      await page.keyboard.press('Escape');
      await page.getByRole('button', { name: 'Network' }).click();
      await check(page, 'network panel');
      await page.getByRole('button', { name: 'Members' }).click();
      await check(page, 'members');
    });
  }
});

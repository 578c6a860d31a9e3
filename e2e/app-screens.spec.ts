/**
 * Screenshots of the main views, light and dark, desktop (1280×800) and phone (390×844)
 * width — for people to look at, not to diff. They go to e2e/screenshots/ (not committed);
 * to refresh the reviewed set in docs/screenshots/ (listed in its README.md):
 *
 *   HEARTH_SCREENSHOTS=docs/screenshots HEARTH_E2E_PORT=4316 npx playwright test e2e/app-screens.spec.ts
 *
 * Three people (three browser contexts, three homeservers through the test relay) fill one
 * room with what a timeline holds — formatted text, a reply, reactions, a thread, an image —
 * and Alice's page is then shot in each scheme and size.
 */
import { type Browser, type Page, expect, test } from '@playwright/test';
import { type Person, cast, createRoom, invite, message, onboard, png, roomAction, send } from './app-helpers.ts';

const DIR = process.env.HEARTH_SCREENSHOTS ?? 'e2e/screenshots';
const SIZES = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } } as const;
const SCHEMES = ['light', 'dark'] as const;
const ARRIVAL = { timeout: 45_000 };
const ROOM = 'Garden party';

/** Every scheme × size, with the page set to it. */
async function* looks(page: Page): AsyncGenerator<string> {
  for (const scheme of SCHEMES) {
    for (const [size, viewport] of Object.entries(SIZES)) {
      await page.setViewportSize(viewport);
      await page.emulateMedia({ colorScheme: scheme });
      yield `${size}-${scheme}`;
    }
  }
}

async function shot(page: Page, name: string): Promise<void> {
  // No hover toolbar in the picture, transitions and the layout for a new size settle.
  await page.mouse.move(0, 0);
  // Nor the toolbar a focused message shows (the button just clicked keeps the focus).
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  await page.waitForTimeout(200);
  await page.screenshot({ path: `${DIR}/${name}.png` });
}

test.describe.configure({ mode: 'serial' });

const people = cast();
let alice: Person;

test.afterAll(() => people.closeAll());

test('screenshots: onboarding and welcome', async ({ browser }: { browser: Browser }) => {
  test.setTimeout(120_000);
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto('/');
  for await (const look of looks(page)) {
    await page.getByRole('textbox', { name: 'Display name' }).fill('Dinah Kingsley');
    await shot(page, `${look}-01-onboarding`);
  }
  await onboard(page, 'Dinah Kingsley');
  for await (const look of looks(page)) await shot(page, `${look}-02-welcome`);
  await context.close();
});

test('screenshots: a room with three people', async ({ browser }: { browser: Browser }) => {
  test.setTimeout(300_000);
  alice = await people.person(browser, 'Alice Liddell');
  const bob = await people.person(browser, 'Bob Stone');
  const carol = await people.person(browser, 'Carol Reyes');
  await createRoom(alice.page, ROOM);
  await invite(alice, bob, ROOM);
  await invite(alice, carol, ROOM);

  await send(alice.page, 'Hello **everyone**! The plan is at https://example.org/plan', 'Hello everyone!');
  await expect(message(bob.page, 'Hello everyone!')).toBeVisible(ARRIVAL);
  await send(bob.page, 'Count me in — I will bring `tea` and *cake*', 'Count me in');
  await expect(message(carol.page, 'Count me in')).toBeVisible(ARRIVAL);
  for (const [p, key] of [
    [bob.page, '🎉'],
    [carol.page, '🎉'],
    [carol.page, '👍'],
  ] as const) {
    const row = message(p, 'Hello everyone!');
    await row.hover();
    await row.getByRole('button', { name: `React ${key}` }).click();
  }
  const hello = message(carol.page, 'Hello everyone!');
  await hello.hover();
  await hello.getByRole('button', { name: 'Reply' }).click();
  await send(carol.page, 'Can I bring a friend? She plays the violin.', 'Can I bring a friend?');

  // A thread on Carol's question.
  await expect(message(alice.page, 'Can I bring a friend?')).toBeVisible(ARRIVAL);
  const question = message(alice.page, 'Can I bring a friend?');
  await question.hover();
  await question.getByRole('button', { name: 'Thread', exact: true }).click();
  const inThread = alice.page.getByRole('textbox', { name: 'Reply in thread' });
  await inThread.fill('Of course! Music would be lovely.');
  await inThread.press('Enter');
  await expect(alice.page.getByRole('log', { name: 'Thread' }).getByText('Music would be lovely')).toBeVisible(ARRIVAL);
  await alice.page.getByRole('button', { name: 'Close thread' }).click();

  // An image with a caption.
  const chooser = bob.page.waitForEvent('filechooser');
  await bob.page.getByRole('button', { name: 'Attach image' }).click();
  await (await chooser).setFiles({ name: 'garden.png', mimeType: 'image/png', buffer: await png(bob.page, 320, 200) });
  const preview = bob.page.getByRole('group', { name: 'Image to send' });
  await preview.getByRole('textbox', { name: 'Caption' }).fill('The garden this morning');
  await preview.getByRole('button', { name: 'Send image' }).click();
  const log = alice.page.getByRole('log', { name: 'Timeline' });
  await expect(log.locator('img[alt="The garden this morning"]')).toBeVisible(ARRIVAL);
  // (Carol's reply quotes it: the first row is the message itself.)
  await expect(message(alice.page, 'Hello everyone!').first().getByRole('button', { name: /^👍 1, from/ })).toBeVisible(ARRIVAL);
  await send(alice.page, 'See you all on Saturday at 3');

  const page = alice.page;
  for await (const look of looks(page)) {
    await shot(page, `${look}-03-timeline`);

    await roomAction(page, 'Room settings');
    await expect(page.getByRole('dialog')).toBeVisible();
    await shot(page, `${look}-04-settings`);
    // Further down: the people with roles and the per-event-type levels.
    await page
      .getByRole('dialog')
      .getByRole('heading', { name: 'Creators' })
      .evaluate((h) => h.scrollIntoView({ block: 'start' }));
    await shot(page, `${look}-04b-settings-roles`);
    await page.keyboard.press('Escape');
    await expect(page.getByRole('dialog')).toHaveCount(0);

    await roomAction(page, /^Members/);
    await expect(page.getByRole('complementary', { name: 'Members' })).toBeVisible();
    await shot(page, `${look}-05-members`);
    await page.getByRole('button', { name: 'Close members' }).click();

    await page.getByRole('button', { name: 'Network', exact: true }).click();
    await expect(page.getByRole('switch', { name: 'Offline' })).toBeVisible();
    await shot(page, `${look}-06-network`);
    await page.getByRole('button', { name: 'Close panel' }).click();

    await roomAction(page, 'Threads');
    await expect(page.getByRole('heading', { name: 'Threads', exact: true })).toBeVisible();
    await shot(page, `${look}-07-threads`);
    await page.getByRole('button', { name: 'Close threads' }).click();

    await message(page, 'Can I bring a friend?').getByRole('button', { name: /in thread$/ }).click();
    await expect(page.getByRole('log', { name: 'Thread' }).getByText('Music would be lovely')).toBeVisible();
    await shot(page, `${look}-08-thread`);
    await page.getByRole('button', { name: 'Close thread' }).click();

    const you = page.getByRole('button', { name: 'You: your ID and connection' });
    if (await you.isVisible()) await you.click();
    await page.getByRole('button', { name: 'Profile', exact: true }).click();
    await expect(page.getByRole('dialog')).toBeVisible();
    await shot(page, `${look}-09-profile`);
    await page.keyboard.press('Escape');
    await expect(page.getByRole('dialog')).toHaveCount(0);
    if ((await you.isVisible()) && (await you.getAttribute('aria-expanded')) === 'true') await you.click();
  }
});

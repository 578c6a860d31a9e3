/**
 * Issue 15, items 7, 8, 11, 12 and 13: a person can live in the app. Each
 * test has several people (browser contexts) interact, through the UI only.
 */
import { type Page, expect, test } from '@playwright/test';
import { type Person, confirmAction, createRoom, invite, message, person, roomAction, send } from './app-helpers.ts';

const ARRIVAL = { timeout: 30_000 };

function timeline(page: Page) {
  return page.getByRole('log', { name: 'Timeline' });
}

/** How far the timeline is from its bottom, in pixels. */
function fromBottom(page: Page): Promise<number> {
  return timeline(page).evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight);
}

async function expectAtBottom(page: Page): Promise<void> {
  await expect.poll(() => fromBottom(page), { timeout: 5000 }).toBeLessThan(4);
}

test.describe('livable UX', () => {
  const people: Person[] = [];
  test.afterEach(async () => {
    for (const p of people.splice(0)) await p.context.close();
  });

  test('7. scroll: stays at the bottom as panels and the viewport change; jump to latest, a new-messages line, your message in view', async ({
    browser,
  }) => {
    test.setTimeout(150_000);
    const alice = await person(browser, 'Alice');
    const bob = await person(browser, 'Bob');
    people.push(alice, bob);
    await alice.page.setViewportSize({ width: 1100, height: 650 });
    await createRoom(alice.page, 'Long talk');
    await invite(alice, bob, 'Long talk');
    for (let i = 1; i <= 25; i++) await send(bob.page, `bob line ${i} — ${'a fairly long sentence that wraps when the timeline is narrow '.repeat(2)}`, `bob line ${i} `);
    await expect(message(alice.page, 'bob line 25 ')).toBeVisible(ARRIVAL);
    await expectAtBottom(alice.page);

    // A side panel opening and closing, the window narrowing: still at the bottom.
    await alice.page.getByRole('button', { name: /^Members/ }).click();
    await expect(alice.page.getByRole('complementary', { name: 'Members' })).toBeVisible();
    await expectAtBottom(alice.page);
    await alice.page.getByRole('button', { name: 'Close members' }).click();
    await expectAtBottom(alice.page);
    await alice.page.getByRole('button', { name: 'Network', exact: true }).click();
    await expectAtBottom(alice.page);
    await alice.page.getByRole('button', { name: 'Close panel' }).click();
    await alice.page.setViewportSize({ width: 900, height: 500 });
    await expectAtBottom(alice.page);
    await expect(message(alice.page, 'bob line 25 ')).toBeInViewport();

    // Scrolled up: "Jump to latest", and a line where Bob's new messages begin.
    await expect(alice.page.getByRole('button', { name: /jump to latest/i })).toHaveCount(0);
    await timeline(alice.page).evaluate((el) => {
      el.scrollTop = 0;
    });
    await expect(alice.page.getByRole('button', { name: 'Jump to latest' })).toBeVisible();
    await send(bob.page, 'bob: are you still there?');
    await expect(message(alice.page, 'are you still there')).toHaveCount(1, ARRIVAL);
    await expect(alice.page.getByText('New messages', { exact: true })).toBeAttached();
    await expect(alice.page.getByRole('button', { name: 'New messages: jump to latest' })).toBeVisible();
    await expect(message(alice.page, 'are you still there')).not.toBeInViewport();
    await alice.page.getByRole('button', { name: 'New messages: jump to latest' }).click();
    await expect(message(alice.page, 'are you still there')).toBeInViewport();
    await expectAtBottom(alice.page);
    await expect(alice.page.getByRole('button', { name: /jump to latest/i })).toHaveCount(0);

    // Scrolled up again, Alice answers: her message is brought into view.
    await timeline(alice.page).evaluate((el) => {
      el.scrollTop = 0;
    });
    await expect(alice.page.getByRole('button', { name: 'Jump to latest' })).toBeVisible();
    await send(alice.page, 'alice: yes, here');
    await expect(message(alice.page, 'alice: yes, here')).toBeInViewport();
    await expectAtBottom(alice.page);
  });

  test('8. kicked and banned: who and why, the name and allowed history kept, no impossible actions, forget; confirmations with a reason', async ({
    browser,
  }) => {
    test.setTimeout(180_000);
    const alice = await person(browser, 'Alice');
    const bob = await person(browser, 'Bob');
    const carol = await person(browser, 'Carol');
    people.push(alice, bob, carol);
    await createRoom(alice.page, 'Moderated');
    await invite(alice, bob, 'Moderated');
    await invite(alice, carol, 'Moderated');
    await send(alice.page, 'welcome, both of you');
    await send(bob.page, 'bob: buy cheap watches');
    for (const p of [bob, carol]) await expect(message(p.page, 'welcome, both of you')).toBeVisible(ARRIVAL);

    // Deleting asks first; Cancel keeps the message, Delete (with a reason) removes it.
    await message(alice.page, 'buy cheap watches').hover();
    await message(alice.page, 'buy cheap watches').getByRole('button', { name: 'Delete' }).click();
    await expect(alice.page.getByRole('dialog', { name: 'Delete this message?' })).toBeVisible();
    await alice.page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
    await expect(message(alice.page, 'buy cheap watches')).toBeVisible();
    await message(alice.page, 'buy cheap watches').hover();
    await message(alice.page, 'buy cheap watches').getByRole('button', { name: 'Delete' }).click();
    await confirmAction(alice.page, 'Delete', 'advertising');
    await expect(timeline(bob.page).getByText('buy cheap watches')).toHaveCount(0, ARRIVAL);

    // Bob has a thread open when it happens.
    await message(bob.page, 'welcome, both of you').hover();
    await message(bob.page, 'welcome, both of you').getByRole('button', { name: 'Thread' }).click();
    await expect(bob.page.getByRole('textbox', { name: 'Reply in thread' })).toBeVisible();

    // Alice kicks Bob, saying why.
    const members = alice.page.getByRole('complementary', { name: 'Members' });
    await alice.page.getByRole('button', { name: /^Members/ }).click();
    await members.getByRole('button', { name: 'Kick Bob' }).click();
    await expect(alice.page.getByRole('dialog', { name: 'Kick Bob?' })).toBeVisible();
    await confirmAction(alice.page, 'Kick', 'spam');

    // Bob is told who and why, keeps the room's name and what he saw, and cannot act in it.
    await expect(bob.page.getByText('Alice removed you: spam')).toBeVisible(ARRIVAL);
    await expect(bob.page.getByRole('heading', { level: 2, name: 'Moderated', exact: true })).toBeVisible();
    await expect(message(bob.page, 'welcome, both of you')).toBeVisible();
    await expect(bob.page.getByRole('textbox', { name: 'Message' })).toHaveCount(0);
    await expect(bob.page.getByRole('log', { name: 'Thread' })).toContainText('welcome, both of you');
    await expect(bob.page.getByRole('textbox', { name: 'Reply in thread' })).toHaveCount(0);
    await bob.page.getByRole('button', { name: 'Close thread' }).click();
    for (const action of ['Leave', 'Invite', 'Room settings']) {
      await expect(bob.page.locator('.room-header').getByRole('button', { name: action, exact: true })).toHaveCount(0);
    }
    await message(bob.page, 'welcome, both of you').hover();
    await expect(message(bob.page, 'welcome, both of you').getByRole('button', { name: 'Reply' })).toHaveCount(0);
    const bobRooms = bob.page.getByRole('navigation', { name: 'Rooms' });
    await expect(bobRooms.getByRole('region', { name: 'Removed from' }).getByRole('button', { name: 'Moderated' })).toBeVisible();

    // What is said after the kick is not Bob's to read.
    await send(alice.page, 'said after bob left');
    await send(carol.page, 'carol: agreed');
    await expect(message(bob.page, 'welcome, both of you')).toBeVisible();
    await bob.page.waitForTimeout(1500);
    await expect(timeline(bob.page).getByText('said after bob left')).toHaveCount(0);

    // Bob forgets the room: it leaves his list.
    await bob.page.getByRole('button', { name: 'Forget this room' }).click();
    await expect(bobRooms.getByRole('button', { name: 'Moderated' })).toHaveCount(0);
    await expect(bob.page.getByRole('heading', { level: 2, name: 'Moderated', exact: true })).toHaveCount(0);
    await bob.page.reload();
    await expect(bob.page.getByLabel('Your user ID')).toHaveText(bob.id);
    await expect(bob.page.getByRole('navigation', { name: 'Rooms' }).getByRole('button', { name: 'Moderated' })).toHaveCount(0);

    // A ban is named as one.
    await members.getByRole('button', { name: 'Ban Carol' }).click();
    await confirmAction(alice.page, 'Ban', 'trolling');
    await expect(carol.page.getByText('Alice banned you: trolling')).toBeVisible(ARRIVAL);
    await expect(carol.page.getByText('You cannot rejoin while banned.')).toBeVisible();
    await expect(message(carol.page, 'carol: agreed')).toBeVisible();

    // Leaving asks too (and can be called off).
    await roomAction(alice.page, 'Leave');
    await expect(alice.page.getByRole('dialog', { name: 'Leave Moderated?' })).toBeVisible();
    await expect(alice.page.getByRole('dialog').getByRole('textbox', { name: 'Reason (optional)' })).toBeVisible();
    await alice.page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
    await expect(alice.page.getByRole('textbox', { name: 'Message' })).toBeVisible();
  });

  test('11. errors speak to people: unreachable server, user IDs and usernames explained inline, raw text only in details', async ({
    browser,
  }) => {
    test.setTimeout(150_000);
    const alice = await person(browser, 'Alice');
    const bob = await person(browser, 'Bob');
    people.push(alice, bob);
    await createRoom(alice.page, 'Errors');

    // An invalid user ID is explained in the dialog, with the @name:server form.
    await alice.page.getByRole('button', { name: 'Invite', exact: true }).click();
    const field = alice.page.getByRole('textbox', { name: 'User ID' });
    await field.fill('bob');
    await expect(alice.page.getByRole('dialog')).toContainText('A user ID starts with @');
    await expect(alice.page.getByRole('dialog')).toContainText('@name:server');
    await expect(field).toHaveAttribute('aria-invalid', 'true');
    await field.fill('@bob');
    await expect(alice.page.getByRole('dialog')).toContainText('needs the server after a colon');

    // Bob closes his tab: his homeserver is gone. Inviting him says so in words; the raw text waits behind Details.
    await bob.context.close();
    people.splice(people.indexOf(bob), 1);
    await field.fill(bob.id);
    await expect(field).not.toHaveAttribute('aria-invalid', 'true');
    await alice.page.getByRole('button', { name: 'Send invite' }).click();
    const failure = alice.page.getByRole('dialog').getByRole('alert');
    await expect(failure).toContainText('No homeserver with that name is reachable right now', { timeout: 60_000 });
    await expect(failure.locator('p')).not.toContainText(/unreachable|Error/);
    const details = failure.locator('details');
    await expect(details).toHaveCount(1);
    await expect(details.locator('code')).not.toBeVisible();
    await details.locator('summary').click();
    await expect(details.locator('code')).toBeVisible();
    await expect(details.locator('code')).not.toBeEmpty();
    await alice.page.keyboard.press('Escape');

    // The same for a new chat.
    await alice.page.getByRole('button', { name: 'New chat' }).click();
    await alice.page.getByRole('textbox', { name: 'Their user ID' }).fill('carol@example');
    await expect(alice.page.getByRole('dialog')).toContainText('@name:server');
    await alice.page.keyboard.press('Escape');

    // A new person with an invalid username is told what is allowed, before pressing Start.
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto('/');
    await page.getByRole('textbox', { name: 'Display name' }).fill('Dora');
    const username = page.getByRole('textbox', { name: 'Username' });
    await username.fill('Dora Explorer!');
    await expect(page.getByText(/may use only lowercase letters a–z, digits 0–9/)).toBeVisible();
    await expect(page.getByText(/not spaces, “!”/)).toBeVisible();
    await expect(username).toHaveAttribute('aria-invalid', 'true');
    await expect(page.getByRole('button', { name: 'Start' })).toBeDisabled();
    await username.fill('dora');
    await expect(page.getByRole('button', { name: 'Start' })).toBeEnabled();
    await context.close();
  });

  test('12. onboarding says what it is waiting for, not "Starting…"', async ({ browser }) => {
    const alice = await person(browser, 'Alice');
    people.push(alice);
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto('/');
    const card = page.getByRole('region', { name: 'Welcome' });
    await expect(card.getByRole('textbox', { name: 'Display name' })).toBeVisible();
    // Before the name is chosen, the status already follows the relay: waiting for it, then connected.
    await expect(card.getByText(/Waiting for the relay at \S+ to answer|relay connected/)).toBeVisible({ timeout: 10_000 });
    await expect(card.getByText('Starting…')).toHaveCount(0);
    await expect(card.getByText(/relay connected/)).toBeVisible(ARRIVAL);
    await context.close();
  });

  test('13. phone width: the room header fits, actions in a menu; your ID and connection state reachable', async ({ browser }) => {
    test.setTimeout(150_000);
    const alice = await person(browser, 'Alice');
    const bob = await person(browser, 'Bob');
    people.push(alice, bob);
    for (const p of [alice, bob]) await p.page.setViewportSize({ width: 390, height: 844 });
    const page = alice.page;
    await createRoom(page, 'A room with a rather long name for a phone');

    // Nothing in the header overflows the screen; the actions sit behind "More".
    const header = page.locator('.room-header');
    const fits = (sel: string) => page.locator(sel).evaluate((el) => el.scrollWidth <= el.clientWidth + 1 && el.getBoundingClientRect().right <= 391);
    expect(await fits('.room-header')).toBe(true);
    expect(await fits('.topbar')).toBe(true);
    await expect(header.getByRole('button', { name: 'Leave', exact: true })).not.toBeVisible();
    const more = page.getByRole('button', { name: 'More', exact: true });
    await expect(more).toBeInViewport();
    await more.click();
    await expect(more).toHaveAttribute('aria-expanded', 'true');
    for (const name of ['Invite', 'Room settings', 'Event graph', 'Leave']) {
      await expect(header.getByRole('button', { name, exact: true })).toBeInViewport();
    }
    await header.getByRole('button', { name: 'Invite', exact: true }).click();
    await page.getByRole('textbox', { name: 'User ID' }).fill(bob.id);
    await page.getByRole('button', { name: 'Send invite' }).click();
    await bob.page.getByRole('button', { name: 'Accept', exact: true }).click(ARRIVAL);
    await expect(bob.page.getByRole('heading', { level: 2, name: 'A room with a rather long name for a phone' })).toBeVisible(ARRIVAL);
    await send(bob.page, 'hi from a phone');
    await expect(message(page, 'hi from a phone')).toBeVisible(ARRIVAL);
    expect(await fits('.room-header')).toBe(true);

    // In the room, your ID and the connection state are one tap away.
    await expect(page.getByLabel('Your user ID')).not.toBeVisible();
    const you = page.getByRole('button', { name: /^You/ });
    await expect(you).toBeInViewport();
    await you.click();
    await expect(page.getByLabel('Your user ID')).toBeVisible();
    await expect(page.getByLabel('Your user ID')).toHaveText(alice.id);
    await expect(page.getByLabel('Your user ID')).toBeInViewport();
    await expect(page.locator('.topbar').getByText(/relay connected/)).toBeInViewport(ARRIVAL);
    await expect(page.locator('.topbar').getByRole('button', { name: 'Copy user ID' })).toBeInViewport();
  });
});

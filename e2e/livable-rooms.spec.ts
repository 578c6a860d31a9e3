/**
 * Issue 15, "Rooms and people": what a person living in the app trips over,
 * with two or three people on their own homeservers (one browser context
 * each) federating through the relay. The tests drive the UI only.
 *
 * 4. A join through another server carries the joiner's display name.
 * 5. DMs: named after the other person on both sides, filed under Direct
 *    messages on both sides, "Carol wants to chat", a chat link to an existing
 *    DM opens it, no room IDs and nothing wider than the sidebar.
 * 6. The unread badge clears on the open room after an edit and a thread reply.
 * 10. The room list preview: display names and rendered text.
 * 14. Presence dots: someone who is typing is not shown offline.
 * 15. The quick-reaction bar takes your own reaction back too.
 */
import { type Locator, expect, test } from '@playwright/test';
import { type Person, cast, message, openMembers, send } from './app-helpers.ts';

/** Cross-tab arrival: gossip is fast, but a retry through the outbox or a catch-up can take a while. */
const ARRIVAL = { timeout: 45_000 };

/** This test's people: their browser contexts (and so their homeservers and relay slots) end with it. */
const { person, aliceAndBobIn, closeAll } = cast();

function sidebar(p: Person): Locator {
  return p.page.getByRole('navigation', { name: 'Rooms' });
}

/** The room list's button for `name` (its description is the last-message preview). */
function roomButton(p: Person, name: string): Locator {
  return sidebar(p).getByRole('button', { name, exact: true });
}

function unreadBadge(p: Person, room: string): Locator {
  return sidebar(p)
    .getByRole('listitem')
    .filter({ has: p.page.getByRole('button', { name: room, exact: true }) })
    .getByRole('status');
}

function memberRow(panel: Locator, who: Person): Locator {
  return panel.getByRole('listitem').filter({ hasText: who.id });
}

/** Whether an element of the sidebar is wider than its box (a long ID that does not wrap). */
function sidebarOverflows(p: Person): Promise<boolean> {
  return p.page.evaluate(() => {
    const nav = document.querySelector('nav.sidebar');
    if (!nav) return true;
    if (nav.scrollWidth > nav.clientWidth + 1) return true;
    return [...nav.querySelectorAll<HTMLElement>('*')].some((el) => el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX === 'visible' && el.clientWidth > 0);
  });
}

test.describe('livable rooms: two or three people, each on their own homeserver', () => {
  test.setTimeout(240_000);
  test.afterEach(closeAll);

  test('4: people joining through another server are shown by their display names, not their user IDs', async ({ browser }) => {
    const { alice, bob } = await aliceAndBobIn(browser, 'Tea party');

    const aliceSees = await openMembers(alice);
    await expect(memberRow(aliceSees, bob).locator('.member-name')).toHaveText('Bob Stone', ARRIVAL);
    const bobSees = await openMembers(bob);
    await expect(memberRow(bobSees, alice).locator('.member-name')).toHaveText('Alice Liddell', ARRIVAL);

    await send(bob.page, 'hello from the other server');
    await expect(message(alice.page, 'hello from the other server')).toContainText('Bob Stone', ARRIVAL);
    await expect(message(alice.page, 'hello from the other server')).not.toContainText('bob-stone');
  });

  test('5: a DM is named after the other person and filed under Direct messages on both sides; a chat link opens it', async ({
    browser,
  }) => {
    const alice = await person(browser, 'Alice Liddell');
    const carol = await person(browser, 'Carol Ames');

    // Carol starts a chat with Alice from her user ID.
    await carol.page.getByRole('button', { name: 'New chat' }).click();
    await carol.page.getByRole('dialog').getByRole('textbox', { name: 'Their user ID' }).fill(alice.id);
    await carol.page.getByRole('dialog').getByRole('button', { name: 'Start chat' }).click();
    // The invite reaches Alice's server before the dialog closes (a federation round trip, slow on a loaded machine).
    await expect(carol.page.getByRole('dialog')).toHaveCount(0, { timeout: 30_000 });

    // Alice is asked by name, and the card fits the sidebar.
    const card = sidebar(alice).getByRole('listitem').filter({ hasText: 'Carol Ames wants to chat' });
    await expect(card).toBeVisible(ARRIVAL);
    expect(await sidebarOverflows(alice)).toBe(false);
    await card.getByRole('button', { name: 'Accept', exact: true }).click();

    // Both see the DM under Direct messages, named after the other, with no room ID anywhere.
    const dms = (p: Person) => p.page.getByRole('region', { name: 'Direct messages' });
    await expect(dms(alice).getByRole('button', { name: 'Carol Ames', exact: true })).toBeVisible(ARRIVAL);
    await expect(dms(carol).getByRole('button', { name: 'Alice Liddell', exact: true })).toBeVisible(ARRIVAL);
    await expect(alice.page.getByRole('heading', { level: 2, name: 'Carol Ames', exact: true })).toBeVisible(ARRIVAL);
    for (const p of [alice, carol]) {
      await expect(p.page.getByRole('region', { name: 'Rooms', exact: true })).toContainText('No rooms yet.');
      await expect(sidebar(p)).not.toContainText('!');
      expect(await sidebarOverflows(p)).toBe(false);
    }

    // A chat link to someone you already have a DM with opens it, without asking again.
    await send(alice.page, 'hello carol');
    await carol.page.evaluate(() => (location.hash = ''));
    await carol.page.evaluate((id) => (location.hash = `#/chat/${id}`), alice.id);
    await expect(carol.page.getByRole('heading', { level: 2, name: 'Alice Liddell', exact: true })).toBeVisible();
    await expect(carol.page.getByRole('region', { name: 'Chat link' })).toHaveCount(0);
    await expect(message(carol.page, 'hello carol')).toBeVisible(ARRIVAL);
    await alice.page.evaluate(() => (location.hash = ''));
    await alice.page.evaluate((id) => (location.hash = `#/chat/${id}`), carol.id);
    await expect(alice.page.getByRole('heading', { level: 2, name: 'Carol Ames', exact: true })).toBeVisible();
    await expect(alice.page.getByRole('region', { name: 'Chat link' })).toHaveCount(0);
  });

  test('6: the unread badge of the open room clears after an edit and after a thread reply', async ({ browser }) => {
    const { alice, bob } = await aliceAndBobIn(browser, 'Garden');

    await send(bob.page, 'the roses are red');
    await expect(message(alice.page, 'the roses are red')).toBeVisible(ARRIVAL);
    await expect(unreadBadge(alice, 'Garden')).toHaveCount(0);

    // Bob edits it while Alice has the room open.
    const box = bob.page.getByRole('textbox', { name: 'Message' });
    await box.press('ArrowUp');
    await box.fill('the roses are white');
    await box.press('Enter');
    await expect(message(alice.page, 'the roses are white')).toContainText('(edited)', ARRIVAL);
    // Once the room list has the edit…
    await expect(roomButton(alice, 'Garden')).toHaveAccessibleDescription(/the roses are white/, ARRIVAL);
    await expect(unreadBadge(alice, 'Garden')).toHaveCount(0);

    // Bob answers in a thread.
    await message(bob.page, 'the roses are white').hover();
    await message(bob.page, 'the roses are white').getByRole('button', { name: 'Thread' }).click();
    const reply = bob.page.getByRole('textbox', { name: 'Reply in thread' });
    await reply.fill('paint them red');
    await reply.press('Enter');
    await expect(message(alice.page, 'the roses are white')).toContainText('1 reply in thread', ARRIVAL);
    await expect(roomButton(alice, 'Garden')).toHaveAccessibleDescription(/paint them red/, ARRIVAL);
    await expect(unreadBadge(alice, 'Garden')).toHaveCount(0);
    // …and it stays clear.
    await alice.page.waitForTimeout(1500);
    await expect(unreadBadge(alice, 'Garden')).toHaveCount(0);
  });

  test('10: the room list previews the last message with display names and rendered text', async ({ browser }) => {
    const { alice, bob } = await aliceAndBobIn(browser, 'Library');

    await send(bob.page, 'read **this** book', 'read this book');
    await expect(roomButton(alice, 'Library')).toHaveAccessibleDescription('Bob Stone: read this book', ARRIVAL);

    const box = bob.page.getByRole('textbox', { name: 'Message' });
    await box.press('ArrowUp');
    await box.fill('read _that_ `book`');
    await box.press('Enter');
    await expect(message(alice.page, 'read that book')).toContainText('(edited)', ARRIVAL);
    await expect(roomButton(alice, 'Library')).toHaveAccessibleDescription('Bob Stone: read that book', ARRIVAL);
    await expect(roomButton(bob, 'Library')).toHaveAccessibleDescription('Bob Stone: read that book', ARRIVAL);
  });

  test('14: someone who joined and is typing is shown online, not offline', async ({ browser }) => {
    const { alice, bob } = await aliceAndBobIn(browser, 'Porch');

    const aliceSees = await openMembers(alice);
    await bob.page.getByRole('textbox', { name: 'Message' }).pressSequentially('hmm');
    await expect(alice.page.getByText('Bob Stone is typing…')).toBeVisible(ARRIVAL);
    await expect(memberRow(aliceSees, bob).getByRole('img', { name: 'online' })).toBeVisible(ARRIVAL);

    const bobSees = await openMembers(bob);
    await alice.page.getByRole('textbox', { name: 'Message' }).pressSequentially('well');
    await expect(bob.page.getByText('Alice Liddell is typing…')).toBeVisible(ARRIVAL);
    await expect(memberRow(bobSees, alice).getByRole('img', { name: 'online' })).toBeVisible(ARRIVAL);
  });

  test('15: the quick-reaction bar takes your own reaction back', async ({ browser }) => {
    const { alice, bob } = await aliceAndBobIn(browser, 'Kitchen');
    await send(bob.page, 'soup is ready');
    const soup = message(alice.page, 'soup is ready');
    await expect(soup).toBeVisible(ARRIVAL);

    await soup.hover();
    await soup.getByRole('button', { name: 'React 👍' }).click();
    await expect(soup.getByRole('button', { name: /^👍 1, from Alice Liddell$/ })).toBeVisible();
    await expect(message(bob.page, 'soup is ready').getByRole('button', { name: /^👍 1, from Alice Liddell$/ })).toBeVisible(ARRIVAL);

    // The same button in the bar takes it back, for Alice and for Bob.
    await soup.hover();
    await soup.getByRole('button', { name: 'React 👍' }).click();
    await expect(soup.getByRole('list', { name: 'Reactions' })).toHaveCount(0);
    await expect(message(bob.page, 'soup is ready').getByRole('list', { name: 'Reactions' })).toHaveCount(0, ARRIVAL);
    // The bar says which reactions are yours.
    await expect(soup.getByRole('button', { name: 'React 👍' })).toHaveAttribute('aria-pressed', 'false');
    await soup.hover();
    await soup.getByRole('button', { name: 'React 🎉' }).click();
    await expect(soup.getByRole('button', { name: /^🎉 1, from Alice Liddell$/ })).toBeVisible();
    await expect(soup.getByRole('button', { name: 'React 🎉' })).toHaveAttribute('aria-pressed', 'true');
  });
});

/**
 * Issue 15, items 9 and 17: room settings in roles, and the timeline's own tools, with
 * Alice and Bob each on their own homeserver (one browser context each) federating through
 * the relay. The tests drive the UI only, by accessible names.
 *
 * 9. Power levels as roles (Admin / Moderator / Default / Custom, v12 creators as Creator)
 *    in the settings dialog and the Members panel; a warning before lowering your own role
 *    or opening an action to everyone; every power-level change described in the timeline.
 * 17. The room's creation on one line (details on request); edit in place (Esc cancels,
 *    Enter saves, the message highlighted); a message's "More" menu: copy link (a Hearth
 *    room link that opens the event), view source, copy text; a thread list.
 */
import AxeBuilder from '@axe-core/playwright';
import { type Locator, type Page, expect, test } from '@playwright/test';
import { type Person, cast, message, openMembers, send } from './app-helpers.ts';

/** Cross-tab arrival: gossip is fast, but a retry through the outbox or a catch-up can take a while. */
const ARRIVAL = { timeout: 45_000 };

const { aliceAndBobIn, closeAll } = cast();

function timeline(p: Person): Locator {
  return p.page.getByRole('log', { name: 'Timeline' });
}

/** No serious or critical axe violations on the page as it is. */
async function accessible(page: Page, what: string): Promise<void> {
  const result = await new AxeBuilder({ page }).analyze();
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(bad.map((v) => `${what}: ${v.id} ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`)).toEqual([]);
}

/** Opens a message's "More actions" menu and picks `item`. */
async function more(page: Page, text: string, item: string): Promise<void> {
  const msg = message(page, text);
  await msg.hover();
  await msg.getByRole('button', { name: 'More actions' }).click();
  await page.getByRole('menu', { name: 'More actions' }).getByRole('menuitem', { name: item }).click();
}

const clipboard = (p: Person) => p.page.evaluate(() => navigator.clipboard.readText());

test.describe('livable timeline: two people, each on their own homeserver', () => {
  test.setTimeout(240_000);
  test.afterEach(closeAll);

  test('17: creation on one line, edit in place, copy link / view source / copy text, a thread list', async ({ browser }) => {
    const { alice, bob } = await aliceAndBobIn(browser, 'Orchard');
    for (const p of [alice, bob]) await p.context.grantPermissions(['clipboard-read', 'clipboard-write']);

    // The room's creation is one line for both; its set-up is behind "Show details".
    for (const p of [alice, bob]) {
      await expect(timeline(p).getByText('Alice Liddell created the room')).toBeVisible(ARRIVAL);
      await expect(timeline(p).getByText('Alice Liddell joined')).toHaveCount(0);
      await expect(timeline(p).getByText(/Alice Liddell set the power levels/)).toHaveCount(0);
    }
    // What came after the creation (Bob's invitation and join) stays in the timeline.
    await expect(timeline(alice).getByText('Bob Stone joined')).toBeVisible(ARRIVAL);
    const details = timeline(bob).getByRole('button', { name: /^Show details/ });
    await details.click();
    await expect(timeline(bob).getByText('Alice Liddell joined')).toBeVisible();
    await expect(timeline(bob).getByText('Alice Liddell set the power levels')).toBeVisible();
    await expect(timeline(bob).getByText(/Alice Liddell made the room invite only/)).toBeVisible();
    await timeline(bob).getByRole('button', { name: 'Hide details' }).click();
    await expect(timeline(bob).getByText('Alice Liddell joined')).toHaveCount(0);

    // Edit in place: the tile turns editor, highlighted; Escape cancels, Enter saves.
    await send(alice.page, 'the apples are ripe');
    await expect(message(bob.page, 'the apples are ripe')).toBeVisible(ARRIVAL);
    const original = message(alice.page, 'the apples are ripe');
    await original.hover();
    await original.getByRole('button', { name: 'Edit', exact: true }).click();
    const editor = alice.page.getByRole('textbox', { name: 'Edit message' });
    await expect(editor).toBeFocused();
    await expect(editor).toHaveValue('the apples are ripe');
    const editingTile = timeline(alice).getByRole('article').filter({ has: editor });
    await expect(editingTile).toHaveClass(/being-edited/);
    await accessible(alice.page, 'editing in place');
    await editor.fill('the apples are rotten');
    await editor.press('Escape');
    await expect(editor).toHaveCount(0);
    await expect(message(alice.page, 'the apples are ripe')).not.toContainText('(edited)');
    await expect(message(alice.page, 'the apples are ripe')).not.toHaveClass(/being-edited/);
    await original.hover();
    await original.getByRole('button', { name: 'Edit', exact: true }).click();
    await editor.fill('the apples are green');
    await editor.press('Enter');
    await expect(editor).toHaveCount(0);
    for (const p of [alice, bob]) {
      await expect(message(p.page, 'the apples are green')).toContainText('(edited)', ARRIVAL);
      await expect(timeline(p).getByText('the apples are ripe')).toHaveCount(0);
    }
    // The message box was not used for it: it is empty, not in an edit.
    await expect(alice.page.getByRole('textbox', { name: 'Message' })).toHaveValue('');
    await expect(alice.page.getByText('Editing your message')).toHaveCount(0);

    // Copy text.
    await more(bob.page, 'the apples are green', 'Copy text');
    await expect.poll(() => clipboard(bob)).toBe('the apples are green');

    // View source: the event's JSON, pretty-printed.
    await more(bob.page, 'the apples are green', 'View source');
    const source = bob.page.getByRole('dialog', { name: 'Event source' });
    await expect(source.locator('pre')).toContainText('"type": "m.room.message"', ARRIVAL);
    await expect(source.locator('pre')).toContainText(`"sender": "${alice.id}"`);
    await expect(source.locator('pre')).toContainText('"body": "the apples are ripe"');
    await accessible(bob.page, 'view source');
    await source.getByRole('button', { name: 'Done', exact: true }).click();
    await expect(source).toHaveCount(0);

    // Copy link: the app's own room link, with the event; opening it shows the room at that message.
    await more(alice.page, 'the apples are green', 'Copy link');
    const link = await expect.poll(() => clipboard(alice)).toMatch(/#\/room\/[^/]+\/%24/).then(() => clipboard(alice));
    await send(alice.page, 'a later message');
    await bob.page.evaluate(() => {
      location.hash = '';
    });
    await expect(bob.page.getByRole('heading', { level: 2, name: 'Orchard', exact: true })).toHaveCount(0);
    await bob.page.goto(link);
    await expect(bob.page.getByRole('heading', { level: 2, name: 'Orchard', exact: true })).toBeVisible(ARRIVAL);
    await expect(message(bob.page, 'the apples are green')).toHaveClass(/focused/, ARRIVAL);
    await expect(message(bob.page, 'the apples are green')).toBeInViewport();

    // Threads: two, listed with their root, reply count and latest reply; the newest first.
    await send(alice.page, 'who brings baskets?');
    for (const [p, root, reply] of [
      [bob, 'the apples are green', 'pick them tomorrow'],
      [alice, 'the apples are green', 'at nine'],
      [bob, 'who brings baskets?', 'I will'],
    ] as const) {
      await expect(message(p.page, root)).toBeVisible(ARRIVAL);
      await message(p.page, root).hover();
      await message(p.page, root).getByRole('button', { name: 'Thread', exact: true }).click();
      const box = p.page.getByRole('textbox', { name: 'Reply in thread' });
      await box.fill(reply);
      await box.press('Enter');
      await expect(p.page.getByRole('log', { name: 'Thread' }).getByText(reply)).toBeVisible();
    }
    await expect(message(alice.page, 'who brings baskets?')).toContainText('1 reply in thread', ARRIVAL);
    await expect(message(alice.page, 'the apples are green')).toContainText('2 replies in thread', ARRIVAL);
    await alice.page.getByRole('button', { name: 'Threads', exact: true }).click();
    const list = alice.page.getByRole('complementary', { name: 'Threads' });
    const threads = list.getByRole('listitem');
    await expect(threads).toHaveCount(2);
    await expect(threads.nth(0)).toContainText('who brings baskets?');
    await expect(threads.nth(0)).toContainText('1 reply');
    await expect(threads.nth(0)).toContainText('Latest: Bob Stone: I will');
    await expect(threads.nth(1)).toContainText('Alice Liddell: the apples are green');
    await expect(threads.nth(1)).toContainText('2 replies');
    await expect(threads.nth(1)).toContainText('Latest: Alice Liddell: at nine');
    await accessible(alice.page, 'thread list');
    await threads.nth(1).getByRole('button').click();
    const thread = alice.page.getByRole('complementary', { name: 'Thread' });
    await expect(thread.getByText('pick them tomorrow')).toBeVisible();
    await expect(thread.getByText('at nine')).toBeVisible();
    // …and back to the list.
    await thread.getByRole('button', { name: 'All threads' }).click();
    await expect(list.getByRole('listitem')).toHaveCount(2);

    // The "More" menu itself passes axe too.
    await message(alice.page, 'a later message').hover();
    await message(alice.page, 'a later message').getByRole('button', { name: 'More actions' }).click();
    await expect(alice.page.getByRole('menu', { name: 'More actions' })).toBeVisible();
    await accessible(alice.page, 'more actions menu');
    await alice.page.keyboard.press('Escape');
    await expect(alice.page.getByRole('menu', { name: 'More actions' })).toHaveCount(0);
  });
  test('9: roles in the members panel and the settings, a warning before lowering your own role or opening an action to everyone, every change in the timeline', async ({
    browser,
  }) => {
    // A version 12 room (the default): its creator outranks every role and is not in the power levels.
    const { alice, bob } = await aliceAndBobIn(browser, 'Council');
    const panel = await openMembers(alice);
    const row = (who: Person) => panel.getByRole('listitem').filter({ hasText: who.id });
    await expect(row(alice)).toContainText('Creator');
    await expect(row(alice).getByRole('combobox')).toHaveCount(0);
    await expect(row(bob)).toContainText('Power level 0 · Default', ARRIVAL);
    await accessible(alice.page, 'members with roles');

    // Alice makes Bob an Admin from the Members panel; both timelines say so in words.
    await row(bob).getByRole('combobox', { name: 'Role of Bob Stone' }).selectOption('Admin');
    for (const p of [alice, bob]) await expect(timeline(p).getByText('Alice Liddell made Bob Stone an Admin')).toBeVisible(ARRIVAL);

    // Bob lowers his own role: he is asked first, and cancelling keeps it. Alice, the creator, is not his to change.
    const bobPanel = await openMembers(bob);
    const self = bobPanel.getByRole('listitem').filter({ hasText: bob.id });
    await expect(self).toContainText('Power level 100 · Admin', ARRIVAL);
    await expect(bobPanel.getByRole('listitem').filter({ hasText: alice.id })).toContainText('Creator');
    await expect(bobPanel.getByRole('listitem').filter({ hasText: alice.id }).getByRole('combobox')).toHaveCount(0);
    const bobRole = self.getByRole('combobox', { name: 'Role of Bob Stone' });
    await bobRole.selectOption('Moderator');
    const ask = bob.page.getByRole('dialog', { name: 'Lower your own role?' });
    await expect(ask).toContainText('from Admin to Moderator');
    await ask.getByRole('button', { name: 'Cancel' }).click();
    await expect(ask).toHaveCount(0);
    await expect(bobRole).toHaveValue('Admin');
    await bobRole.selectOption('Moderator');
    await ask.getByRole('button', { name: 'Lower my role' }).click();
    for (const p of [alice, bob]) await expect(timeline(p).getByText('Bob Stone made themselves a Moderator')).toBeVisible(ARRIVAL);
    await expect(self).toContainText('Power level 50 · Moderator', ARRIVAL);

    // In the settings, Alice opens changing the topic to everyone and gives Bob a custom level: she is warned first.
    await alice.page.getByRole('button', { name: 'Room settings' }).click();
    const dialog = alice.page.getByRole('dialog', { name: 'Room settings' });
    await expect(dialog.getByRole('listitem').filter({ hasText: alice.id })).toContainText('Creator');
    await expect(dialog.getByRole('combobox', { name: 'Role: Bob Stone' })).toHaveValue('Moderator');
    await accessible(alice.page, 'settings with roles');
    await dialog.getByRole('combobox', { name: 'Role: Bob Stone' }).selectOption('Custom');
    await dialog.getByRole('spinbutton', { name: bob.id }).fill('75');
    await expect(dialog.getByRole('combobox', { name: 'Role: Bob Stone' })).toHaveValue('Custom');
    // Meanwhile Bob, a Moderator, renames the room: Alice's open dialog shows the new name and keeps her edits.
    await bob.page.getByRole('button', { name: 'Room settings' }).click();
    const bobDialog = bob.page.getByRole('dialog', { name: 'Room settings' });
    await bobDialog.getByRole('textbox', { name: 'Room name' }).fill('Council chamber');
    await bobDialog.getByRole('button', { name: 'Save' }).click();
    await expect(bob.page.getByRole('dialog')).toHaveCount(0);
    await expect(dialog.getByRole('textbox', { name: 'Room name' })).toHaveValue('Council chamber', ARRIVAL);
    await expect(dialog.getByRole('spinbutton', { name: bob.id })).toHaveValue('75');
    if ((await dialog.getByRole('combobox', { name: 'Role: Who can change the topic' }).count()) === 0) {
      await dialog.getByRole('textbox', { name: 'Add an event type' }).fill('m.room.topic');
      await dialog.getByRole('button', { name: 'Add to Event types' }).click();
    }
    await dialog.getByRole('combobox', { name: 'Role: Who can change the topic' }).selectOption('Default');
    await dialog.getByRole('button', { name: 'Save' }).click();
    const warning = dialog.getByRole('alert');
    await expect(warning).toContainText('Everyone in the room will be able to change the topic.');
    await accessible(alice.page, 'settings warning');
    // Going back keeps the dialog and its choices; "Save anyway" saves.
    await dialog.getByRole('button', { name: 'Go back' }).click();
    await expect(warning).toHaveCount(0);
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.getByRole('button', { name: 'Save anyway' }).click();
    await expect(alice.page.getByRole('dialog')).toHaveCount(0);
    const sentence =
      "Alice Liddell changed Bob Stone's role from Moderator to Custom (75) and changed who can change the topic from Moderator to Default";
    for (const p of [alice, bob]) await expect(timeline(p).getByText(sentence)).toBeVisible(ARRIVAL);
    await expect(self).toContainText('Power level 75 · Custom (75)', ARRIVAL);
    // Her save changed only what she touched: Bob's name stays.
    await expect(alice.page.getByRole('heading', { level: 2, name: 'Council chamber' })).toBeVisible();

    // Raising the default role opens every Moderator action to everyone: the warning names them; Alice goes back.
    await alice.page.getByRole('button', { name: 'Room settings' }).click();
    await dialog.getByRole('combobox', { name: 'Default role for members' }).selectOption('Moderator');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await expect(dialog.getByRole('alert')).toContainText(/Everyone in the room will be able to .*remove people, ban people/);
    await dialog.getByRole('button', { name: 'Go back' }).click();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await expect(alice.page.getByRole('dialog')).toHaveCount(0);
  });
});

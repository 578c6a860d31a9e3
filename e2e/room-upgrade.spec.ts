/**
 * Room upgrades in the app (issue 19): Alice and Bob, each on their own
 * homeserver, in a room Alice created. Alice upgrades it from room settings;
 * Bob, in the old room, is told it was replaced and follows to the new room;
 * the new room links back to the old room's history, and the room list keeps
 * only the new room once each has joined it.
 */
import { type Locator, expect, test } from '@playwright/test';
import { type Person, cast, message, roomAction, send } from './app-helpers.ts';

const ARRIVAL = { timeout: 45_000 };

const { aliceAndBobIn, closeAll } = cast();

function sidebar(p: Person): Locator {
  return p.page.getByRole('navigation', { name: 'Rooms' });
}

test.describe('room upgrade: two people, each on their own homeserver', () => {
  test.setTimeout(240_000);
  test.afterEach(closeAll);

  test('the admin upgrades the room, the other follows to the new room, and history links back', async ({ browser }) => {
    const { alice, bob } = await aliceAndBobIn(browser, 'Old hall');
    await send(alice.page, 'before the upgrade');
    await expect(message(bob.page, 'before the upgrade')).toBeVisible(ARRIVAL);

    // Bob (no power to send a tombstone) is not offered the upgrade.
    await roomAction(bob.page, 'Room settings');
    const bobSettings = bob.page.getByRole('dialog', { name: 'Room settings' });
    await expect(bobSettings).toBeVisible();
    await expect(bobSettings.getByRole('group', { name: 'Upgrade room' })).toHaveCount(0);
    await bob.page.keyboard.press('Escape');
    await expect(bob.page.getByRole('dialog')).toHaveCount(0);

    // Alice upgrades to version 11 (the versions are offered by name; I.1 says what it is).
    await roomAction(alice.page, 'Room settings');
    const upgrade = alice.page.getByRole('dialog', { name: 'Room settings' }).getByRole('group', { name: 'Upgrade room' });
    await expect(upgrade).toContainText('This room is version 12');
    const version = upgrade.getByRole('combobox', { name: 'New version' });
    await expect(version.getByRole('option', { name: /I\.1 — MIMI draft/ })).toHaveCount(1);
    await version.selectOption('11');
    await upgrade.getByRole('button', { name: 'Upgrade room' }).click();
    await expect(alice.page.getByRole('dialog')).toHaveCount(0);

    // Alice is in the new room, which links back to the old one; the list shows one "Old hall".
    const continued = alice.page.getByRole('region', { name: 'Continued from an older room' });
    await expect(continued).toBeVisible(ARRIVAL);
    await expect(sidebar(alice).getByRole('button', { name: 'Old hall', exact: true })).toHaveCount(1);

    // Bob, still in the old room, is told it was replaced; he follows.
    const replaced = bob.page.getByRole('status', { name: 'Room replaced' });
    await expect(replaced).toContainText('This room has been replaced', ARRIVAL);
    await replaced.getByRole('button', { name: 'Join the new room' }).click();
    await expect(bob.page.getByRole('region', { name: 'Continued from an older room' })).toBeVisible(ARRIVAL);
    await expect(sidebar(bob).getByRole('button', { name: 'Old hall', exact: true })).toHaveCount(1, ARRIVAL);

    // The conversation goes on in the new room.
    await send(bob.page, 'moved in');
    await expect(message(alice.page, 'moved in')).toBeVisible(ARRIVAL);

    // History links back: the old room's messages, and from there the way forward again.
    await bob.page.getByRole('button', { name: 'See older messages' }).click();
    await expect(message(bob.page, 'before the upgrade')).toBeVisible(ARRIVAL);
    await expect(message(bob.page, 'moved in')).toHaveCount(0);
    await bob.page.getByRole('status', { name: 'Room replaced' }).getByRole('button', { name: 'Go to the new room' }).click();
    await expect(message(bob.page, 'moved in')).toBeVisible(ARRIVAL);
  });
});

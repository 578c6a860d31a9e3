/**
 * Homeservers in separate browser contexts (one context = one person's
 * browser) finding each other through the relay started by the test setup,
 * driving only the UI.
 */
import { expect, test } from '@playwright/test';
import { createRoom, invite, message, openNetwork, person, send } from './app-helpers.ts';

test.describe('federation between tabs', () => {
  test.setTimeout(180_000);

  test('two homeservers: invite, accept, talk both ways; history reaches the joiner', async ({ browser }) => {
    const alice = await person(browser, 'alice');
    const bob = await person(browser, 'bob');
    await createRoom(alice.page, 'Fireside');
    await send(alice.page, 'before bob arrived');
    await invite(alice, bob, 'Fireside');
    await send(alice.page, 'hello bob');
    await expect(message(bob.page, 'hello bob')).toBeVisible({ timeout: 30_000 });
    await send(bob.page, 'hello alice');
    await expect(message(alice.page, 'hello alice')).toBeVisible({ timeout: 30_000 });
    // The joiner backfilled the room's history from before its join.
    await expect(message(bob.page, 'before bob arrived')).toBeVisible({ timeout: 30_000 });
    await alice.context.close();
    await bob.context.close();
  });

  test('three homeservers: one goes offline, keeps writing, comes back; everything converges', async ({ browser }) => {
    const alice = await person(browser, 'alice');
    const bob = await person(browser, 'bob');
    const carol = await person(browser, 'carol');
    await createRoom(alice.page, 'Partition');
    await invite(alice, bob, 'Partition');
    await invite(alice, carol, 'Partition');
    await send(alice.page, 'all three here');
    await expect(message(carol.page, 'all three here')).toBeVisible({ timeout: 30_000 });

    // Carol drops off the network: the browser goes offline and so does her homeserver.
    await openNetwork(carol);
    // With a core to spare (2 or more), her signatures are checked by helper workers; else in her worker.
    const cores = await carol.page.evaluate(() => navigator.hardwareConcurrency);
    await expect(carol.page.locator('.verifier')).toContainText(cores > 1 ? /verify pool \(\d+ helpers?;/ : /^WebCrypto Ed25519/);
    await carol.context.setOffline(true);
    await carol.page.getByRole('switch', { name: 'Offline' }).click();
    await expect(carol.page.getByRole('switch', { name: 'Offline' })).toBeChecked();
    await send(carol.page, 'written while offline');
    await send(bob.page, 'bob while carol is away');
    await expect(message(alice.page, 'bob while carol is away')).toBeVisible({ timeout: 30_000 });
    await expect(message(alice.page, 'written while offline')).toHaveCount(0);

    // Back online: the outbox delivers, catch-up pulls what she missed.
    await carol.context.setOffline(false);
    await openNetwork(carol);
    await carol.page.getByRole('switch', { name: 'Offline' }).click();
    await expect(carol.page.getByRole('switch', { name: 'Offline' })).not.toBeChecked();
    await expect(message(alice.page, 'written while offline')).toBeVisible({ timeout: 60_000 });
    await expect(message(bob.page, 'written while offline')).toBeVisible({ timeout: 60_000 });
    await expect(message(carol.page, 'bob while carol is away')).toBeVisible({ timeout: 60_000 });
    for (const p of [alice, bob, carol]) await p.context.close();
  });

  test('a reload keeps the identity, the rooms and the federation', async ({ browser }) => {
    const alice = await person(browser, 'alice');
    const bob = await person(browser, 'bob');
    await createRoom(alice.page, 'Persistent');
    await invite(alice, bob, 'Persistent');
    await send(bob.page, 'before the reload');
    await expect(message(alice.page, 'before the reload')).toBeVisible({ timeout: 30_000 });
    await bob.page.reload();
    await expect(bob.page.getByLabel('Your user ID')).toHaveText(bob.id, { timeout: 30_000 });
    await bob.page.getByRole('button', { name: 'Persistent' }).first().click();
    await expect(message(bob.page, 'before the reload')).toBeVisible();
    await expect(bob.page.getByText(/relay connected/)).toBeVisible({ timeout: 30_000 });
    await send(bob.page, 'after the reload');
    await expect(message(alice.page, 'after the reload')).toBeVisible({ timeout: 30_000 });
    await alice.context.close();
    await bob.context.close();
  });
});

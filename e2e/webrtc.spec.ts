/**
 * Direct tab-to-tab links: two homeservers in separate browser contexts meet
 * through the relay, upgrade to a WebRTC data channel (the page owns the peer
 * connection, the worker runs libp2p over it), and keep talking — gossip and
 * federation requests — after both have lost the relay.
 */
import { expect, test } from '@playwright/test';
import { type Person, createRoom, invite, message, openNetwork, person, send } from './app-helpers.ts';





/** The network panel's row for the server of `other` (server name = the part of the user ID after the colon). */
function peerRow(p: Person, other: Person) {
  const server = other.id.slice(other.id.indexOf(':') + 1);
  return p.page.getByRole('complementary', { name: 'Network' }).getByRole('listitem').filter({ hasText: server.slice(0, 20) });
}

test.describe('direct links between tabs', () => {
  test.setTimeout(180_000);

  test('relayed first, then direct; messages keep flowing both ways after the relay is gone', async ({ browser }) => {
    const alice = await person(browser, 'alice');
    const bob = await person(browser, 'bob');
    // They have met (discovery through the relay) before anyone is invited.
    for (const p of [alice, bob]) await expect(p.page.getByText(/relay connected, 1 peer/)).toBeVisible({ timeout: 30_000 });
    await createRoom(alice.page, 'Hearthside');
    await invite(alice, bob, 'Hearthside');
    await send(alice.page, 'via the relay');
    await expect(message(bob.page, 'via the relay')).toBeVisible({ timeout: 30_000 });

    // The worker upgrades the relayed connection to a WebRTC data channel on its own.
    await openNetwork(alice);
    await openNetwork(bob);
    await expect(peerRow(alice, bob)).toContainText('direct', { timeout: 30_000 });
    await expect(peerRow(bob, alice)).toContainText('direct', { timeout: 30_000 });

    await send(alice.page, 'alice over the direct link');
    await expect(message(bob.page, 'alice over the direct link')).toBeVisible({ timeout: 15_000 });
    await send(bob.page, 'bob over the direct link');
    await expect(message(alice.page, 'bob over the direct link')).toBeVisible({ timeout: 15_000 });

    // Both lose the relay: only the direct link is left between them.
    for (const p of [alice, bob]) {
      await p.page.evaluate(() => (globalThis as unknown as { hearthWebrtc: { blockRelays(b: boolean): void } }).hearthWebrtc.blockRelays(true));
    }
    for (const p of [alice, bob]) await expect(p.page.getByText(/relay connected/)).toHaveCount(0, { timeout: 15_000 });
    await expect(peerRow(alice, bob)).toContainText('direct');
    await expect(peerRow(bob, alice)).toContainText('direct');

    for (let i = 1; i <= 3; i++) {
      await send(alice.page, `alice without relay ${i}`);
      await send(bob.page, `bob without relay ${i}`);
    }
    for (let i = 1; i <= 3; i++) {
      await expect(message(bob.page, `alice without relay ${i}`)).toBeVisible({ timeout: 15_000 });
      await expect(message(alice.page, `bob without relay ${i}`)).toBeVisible({ timeout: 15_000 });
    }
    await alice.context.close();
    await bob.context.close();
  });
});

/**
 * Verification and recovery in the app (issue 18): the tab's device runs
 * the Rust crypto; src/app/e2ee-security.ts drives SAS, cross-signing and
 * key backup.
 * - SAS between two contexts: Alice verifies Bob from the Members panel;
 *   Bob is asked and accepts; both see the same seven emoji, both say they
 *   match, both end verified, and Alice's member list shows Bob verified.
 * - Recovery: Alice sets up a recovery key (shown once, copyable, "I saved
 *   it"), writes in an encrypted room, then moves her homeserver to another
 *   browser with a backup file (issue 17): there her tab is a new device whose
 *   earlier messages wait for their keys — until her recovery key restores
 *   them from the key backup, and they read.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import { type Page, expect, test } from '@playwright/test';
import { cast, createRoom, message, openMembers, send } from './app-helpers.ts';

const ARRIVAL = { timeout: 60_000 };
const WAITING = 'Waiting for the key to decrypt this message';

/** No serious or critical axe violations on the page as it is. */
async function accessible(page: Page, what: string): Promise<void> {
  const result = await new AxeBuilder({ page }).analyze();
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(bad.map((v) => `${what}: ${v.id} ${v.help}`)).toEqual([]);
}

async function openProfile(page: Page) {
  await page.getByRole('button', { name: 'Profile', exact: true }).click();
  return page.getByRole('dialog', { name: 'Your profile' });
}

test.describe('verification and recovery', () => {
  const people = cast();
  test.afterEach(() => people.closeAll());

  test('SAS between two contexts: same emoji on both sides, both confirm, each ends verified', async ({ browser }) => {
    test.setTimeout(180_000);
    const { alice, bob } = await people.aliceAndBobIn(browser, 'Trust');
    const members = await openMembers(alice);
    await members.getByRole('button', { name: 'Verify Bob Stone' }).click({ timeout: 30_000 });

    const bobDialog = bob.page.getByRole('dialog', { name: 'Verify this person' });
    await expect(bobDialog).toContainText('wants to verify you', ARRIVAL);
    await bobDialog.getByRole('button', { name: 'Accept' }).click();

    const aliceDialog = alice.page.getByRole('dialog', { name: 'Verify this person' });
    const emoji = async (dialog: typeof aliceDialog) => {
      const list = dialog.getByRole('list', { name: 'Emoji to compare' });
      await expect(list.getByRole('listitem')).toHaveCount(7, ARRIVAL);
      return (await list.textContent()) ?? "";
    };
    const [seenByAlice, seenByBob] = await Promise.all([emoji(aliceDialog), emoji(bobDialog)]);
    expect(seenByAlice.trim().length).toBeGreaterThan(0);
    expect(seenByBob).toBe(seenByAlice);
    await accessible(alice.page, 'the emoji to compare');

    await aliceDialog.getByRole('button', { name: 'They match' }).click();
    await bobDialog.getByRole('button', { name: 'They match' }).click();
    await expect(aliceDialog).toContainText('Bob Stone is verified', ARRIVAL);
    await expect(bobDialog).toContainText('Alice Liddell is verified', ARRIVAL);
    await aliceDialog.getByRole('button', { name: 'Done' }).click();
    await expect(members.getByText('✓ Verified')).toBeVisible(ARRIVAL);
    await expect(members.getByRole('button', { name: 'Verify Bob Stone' })).toHaveCount(0);
  });

  test('a recovery key restores the history of encrypted messages on a new device', async ({ browser }) => {
    test.setTimeout(300_000);
    const dir = await mkdtemp(join(tmpdir(), 'hearth-recovery-e2e-'));
    try {
      const alice = await people.person(browser, 'Alice Liddell');

      // The recovery key: shown once, copyable, gone after "I saved it".
      let profile = await openProfile(alice.page);
      await expect(profile.getByLabel('Cross-signing')).toContainText('Set up', ARRIVAL);
      await profile.getByRole('button', { name: 'Set up a recovery key' }).click();
      const shown = profile.getByLabel('Recovery key', { exact: true });
      await expect(shown).toHaveText(/^Es[1-9A-HJ-NP-Za-km-z]{2}( [1-9A-HJ-NP-Za-km-z]{4}){11}$/, ARRIVAL);
      const recoveryKey = (await shown.textContent())!;
      await expect(profile.getByRole('button', { name: 'Copy the recovery key' })).toBeVisible();
      await accessible(alice.page, 'the recovery key shown');
      await profile.getByRole('button', { name: 'I saved it' }).click();
      await expect(profile.getByLabel('Recovery key', { exact: true })).toHaveCount(0);
      await profile.getByRole('button', { name: 'Close' }).click();

      // An encrypted room of her own (a second person would add a minute and nothing the backup does not already show).
      await createRoom(alice.page, 'Keepsakes', { encrypted: true });
      await send(alice.page, 'the map is in the attic');
      await send(alice.page, 'and the key under the third step');

      // The room key reaches the backup (backed up as it is made, the count shown in the profile).
      profile = await openProfile(alice.page);
      await expect(profile.getByLabel('Key backup')).toHaveText(/^[1-9]\d* message keys? backed up$/, ARRIVAL);

      // Alice moves her homeserver to another browser (issue 17's backup file).
      await profile.getByText('Back up / move this homeserver').click();
      const backup = profile.getByRole('group').filter({ hasText: 'Back up / move this homeserver' });
      await backup.getByRole('radio', { name: /A move/ }).check();
      await backup.getByRole('textbox', { name: /Where it goes/ }).fill('my new laptop');
      await backup.getByLabel('Passphrase', { exact: true }).fill('a long passphrase for the move');
      await backup.getByLabel('Passphrase again').fill('a long passphrase for the move');
      const downloading = alice.page.waitForEvent('download', ARRIVAL);
      await backup.getByRole('button', { name: /^Move: download the file/ }).click();
      const file = join(dir, 'move.hearth-backup');
      await (await downloading).saveAs(file);

      const context = await browser.newContext();
      try {
        const page = await context.newPage();
        await page.goto('/');
        await page.getByText('Restore from a backup file').click();
        await page.getByLabel('Backup file').setInputFiles(file);
        await page.getByLabel('Passphrase', { exact: true }).fill('a long passphrase for the move');
        await page.getByRole('button', { name: 'Restore', exact: true }).click();
        await expect(page.getByLabel('Your user ID')).toHaveText(alice.id, ARRIVAL);
        await page.getByRole('navigation', { name: 'Rooms' }).getByRole('button', { name: 'Keepsakes' }).click();
        // A new device: the room's history is there, its keys are not.
        await expect(message(page, WAITING)).toHaveCount(2, ARRIVAL);

        const newProfile = await openProfile(page);
        await expect(newProfile.getByLabel('Key backup')).toContainText('restore them with your recovery key', ARRIVAL);
        const field = newProfile.getByRole('textbox', { name: 'Recovery key' });
        await field.fill('EsTc LW2K PGiF wKEA 3As5 g5c4 BXwk qeeJ ZJV8 Q9fu a9eJ 5cz6');
        await newProfile.getByRole('button', { name: 'Restore with the recovery key' }).click();
        await expect(newProfile.getByRole('alert')).toContainText(/recovery key/, ARRIVAL);
        await field.fill(recoveryKey);
        await newProfile.getByRole('button', { name: 'Restore with the recovery key' }).click();
        await expect(newProfile.getByLabel('Key backup')).toHaveText(/message keys? backed up$/, ARRIVAL);
        await newProfile.getByRole('button', { name: 'Close' }).click();
        await expect(message(page, 'the map is in the attic')).toBeVisible(ARRIVAL);
        await expect(message(page, 'and the key under the third step')).toBeVisible(ARRIVAL);
        await expect(message(page, WAITING)).toHaveCount(0);
      } finally {
        await context.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

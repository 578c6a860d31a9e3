/**
 * Issue 15, the last gaps in the web app. Two people (two browser contexts, two homeservers
 * through the test relay) share one room for the whole file.
 *
 * 1. An edit goes through the same Markdown rendering as a new message: `m.new_content`
 *    carries `format` + a sanitized `formatted_body`, so the other person sees the edited
 *    text formatted, not its Markdown source.
 * 2. The thread panel echoes a reply at once, marked *sending*, as the main timeline does —
 *    shown here by holding the homeserver's IndexedDB writes (a slow disk) while it is sent.
 */
import { type Browser, type Page, expect, test } from '@playwright/test';
import { type Person, createRoom, invite, message, person, send } from './app-helpers.ts';

const ARRIVAL = { timeout: 45_000 };
const ROOM = 'Polish room';

test.describe.configure({ mode: 'serial' });

let alice: Person;
let bob: Person;

test.beforeAll(async ({ browser }: { browser: Browser }) => {
  test.setTimeout(120_000);
  alice = await person(browser, 'Alice');
  bob = await person(browser, 'Bob');
  await createRoom(alice.page, ROOM);
  await invite(alice, bob, ROOM);
});

test.afterAll(async () => {
  await alice?.context.close();
  await bob?.context.close();
});

test('an edit is rendered as Markdown, like a new message', async () => {
  test.setTimeout(90_000);
  await send(alice.page, 'first draft of the plan');
  await expect(message(bob.page, 'first draft of the plan')).toBeVisible(ARRIVAL);

  const row = message(alice.page, 'first draft of the plan');
  await row.hover();
  await row.getByRole('button', { name: 'Edit', exact: true }).click();
  const editor = alice.page.getByRole('textbox', { name: 'Edit message' });
  await editor.fill('final plan: **bold** move with `code` and ~~gone~~');
  await editor.press('Enter');
  await expect(editor).toHaveCount(0);

  for (const p of [alice.page, bob.page]) {
    const edited = message(p, 'final plan:');
    await expect(edited).toBeVisible(ARRIVAL);
    await expect(edited).toContainText('(edited)');
    const body = edited.locator('.body.formatted');
    await expect(body.locator('strong')).toHaveText('bold');
    await expect(body.locator('code')).toHaveText('code');
    await expect(body.locator('del')).toHaveText('gone');
    // The Markdown source is not what is shown.
    await expect(edited).not.toContainText('**');
  }

  // Plain text stays plain: an edit without Markdown carries no formatted body.
  const again = message(alice.page, 'final plan:');
  await again.hover();
  await again.getByRole('button', { name: 'Edit', exact: true }).click();
  await editor.fill('final plan, in plain words');
  await editor.press('Enter');
  const plain = message(bob.page, 'final plan, in plain words');
  await expect(plain).toBeVisible(ARRIVAL);
  await expect(plain.locator('.body.formatted')).toHaveCount(0);
});

/**
 * Holds every write to this page's homeserver database: a readwrite transaction over all its
 * stores, kept alive with a chain of reads until `release`. The worker's own writes queue
 * behind it, as they would behind a slow disk. Returns a function that lets them through.
 */
async function holdWrites(page: Page): Promise<() => Promise<void>> {
  await page.evaluate(async () => {
    const w = window as unknown as { __holdWrites: boolean };
    w.__holdWrites = true;
    for (const d of await indexedDB.databases()) {
      if (!d.name) continue;
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const req = indexedDB.open(d.name as string);
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
      if (!db.objectStoreNames.contains('events')) {
        db.close();
        continue;
      }
      const tx = db.transaction(Array.from(db.objectStoreNames), 'readwrite');
      const meta = tx.objectStore(db.objectStoreNames[0] as string);
      const spin = () => {
        if (w.__holdWrites) meta.count().onsuccess = spin;
      };
      spin();
      tx.oncomplete = () => db.close();
    }
  });
  return async () => {
    await page.evaluate(() => {
      (window as unknown as { __holdWrites: boolean }).__holdWrites = false;
    });
  };
}

test('a reply in the thread panel shows at once, marked sending', async () => {
  test.setTimeout(90_000);
  await send(alice.page, 'a thread starts here');
  const root = message(alice.page, 'a thread starts here');
  await root.hover();
  await root.getByRole('button', { name: 'Thread', exact: true }).click();
  const thread = alice.page.getByRole('log', { name: 'Thread' });
  await expect(thread.getByRole('article').filter({ hasText: 'a thread starts here' })).toBeVisible();

  const release = await holdWrites(alice.page);
  try {
    const box = alice.page.getByRole('textbox', { name: 'Reply in thread' });
    await box.fill('a reply on its way');
    await box.press('Enter');
    await expect(box).toHaveValue('');
    const echo = thread.getByRole('article').filter({ hasText: 'a reply on its way' });
    await expect(echo).toBeVisible({ timeout: 5000 });
    await expect(echo.locator('[data-state="sending"]')).toHaveText('Sending…');
    // Still held: the homeserver has not stored it, so this is the echo and not the event.
    await alice.page.waitForTimeout(500);
    await expect(echo.locator('[data-state="sending"]')).toBeVisible();
  } finally {
    await release();
  }
  // Let through: the event replaces its echo, and Bob gets it in the thread.
  const landed = thread.getByRole('article').filter({ hasText: 'a reply on its way' });
  await expect(landed).toHaveCount(1, ARRIVAL);
  await expect(landed.locator('[data-state="sending"]')).toHaveCount(0, ARRIVAL);
  const bobRoot = message(bob.page, 'a thread starts here');
  await expect(bobRoot).toBeVisible(ARRIVAL);
  await expect(bobRoot).toContainText(/1 repl/, ARRIVAL);
});

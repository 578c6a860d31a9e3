/**
 * Issue 15, item 16: the composer a person can live in. Two people (two browser contexts,
 * two homeservers through the test relay) share one room for the whole file.
 *
 * 1. Markdown (CommonMark + GFM through `marked`) is sent as `body` + a sanitized
 *    `formatted_body`, and the other person sees code blocks, quotes, lists, strikethrough
 *    and links; plain text is sent without a `formatted_body`.
 */
import { type Browser, type Page, expect, test } from '@playwright/test';
import { type Person, createRoom, invite, message, person } from './app-helpers.ts';

const ARRIVAL = { timeout: 45_000 };
const ROOM = 'Composer room';

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

function box(page: Page) {
  return page.getByRole('textbox', { name: 'Message' });
}

/** Types `text` (newlines as Shift+Enter) and sends it with Enter. */
async function type(page: Page, text: string): Promise<void> {
  await box(page).fill(text);
  await box(page).press('Enter');
  await expect(box(page)).toHaveValue('');
}

test('Markdown goes out as body + sanitized formatted_body; plain text has none', async () => {
  test.setTimeout(90_000);
  const md = [
    'Plan for **today**:',
    '',
    '- first ~~item~~',
    '- second',
    '',
    '> a quote',
    '',
    '```',
    'const x = 1 < 2;',
    '```',
    '',
    'see [the notes](https://example.org/notes)',
  ].join('\n');
  await type(alice.page, md);
  for (const p of [alice.page, bob.page]) {
    const row = message(p, 'Plan for');
    await expect(row).toBeVisible(ARRIVAL);
    const body = row.locator('.body.formatted');
    await expect(body.locator('strong', { hasText: 'today' })).toBeVisible();
    await expect(body.locator('ul > li')).toHaveCount(2);
    await expect(body.locator('del', { hasText: 'item' })).toBeVisible();
    await expect(body.locator('blockquote', { hasText: 'a quote' })).toBeVisible();
    await expect(body.locator('pre > code')).toHaveText('const x = 1 < 2;\n');
    await expect(body.locator('a', { hasText: 'the notes' })).toHaveAttribute('href', 'https://example.org/notes');
  }
  // Raw HTML is text, and an unsafe link stays its source: nothing that could run is sent.
  await type(alice.page, '**<img src=x onerror=alert(1)>** [x](javascript:alert(2))');
  const hostile = message(bob.page, '<img src=x onerror=alert(1)>');
  await expect(hostile).toBeVisible(ARRIVAL);
  await expect(hostile.locator('strong')).toHaveText('<img src=x onerror=alert(1)>');
  await expect(hostile).toContainText('[x](javascript:alert(2))');
  await expect(hostile.locator('img, a')).toHaveCount(0);

  // Plain text: no formatted_body, so it renders as a plain body on the other side.
  await type(alice.page, 'just words, nothing marked up');
  const plain = message(bob.page, 'just words, nothing marked up');
  await expect(plain).toBeVisible(ARRIVAL);
  await expect(plain.locator('.body.formatted')).toHaveCount(0);
});

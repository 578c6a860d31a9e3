/**
 * Issue 15, item 16: the composer a person can live in. Two people (two browser contexts,
 * two homeservers through the test relay) share one room for the whole file.
 *
 * 1. Markdown (CommonMark + GFM through `marked`) is sent as `body` + a sanitized
 *    `formatted_body`, and the other person sees code blocks, quotes, lists, strikethrough
 *    and links; plain text is sent without a `formatted_body`.
 * 2. Each of my messages shows its delivery: *sending* at once, then *sent*, or *not delivered
 *    to N servers* with a retry while the other server cannot be reached.
 * 3. A message larger than the network accepts is refused in the composer, with the limit.
 * 4. @-mention completion of room members: the link in `formatted_body`, the user in
 *    `m.mentions.user_ids` (Bob's client marks the message as mentioning him).
 * 5. Any file type can be shared (`m.file`), with the size limit stated; the other person
 *    downloads the same bytes.
 * 6. An emoji picker (emoji-picker-element), loaded only when first opened.
 * 7. An image is previewed with a caption field before it is sent; the caption is its body.
 * 8. Up edits my last message, and what is typed at once is the edit (never the old text put
 *    back over it), also while that message is still being sent; an unchanged edit sends nothing.
 */
import { type Browser, type Page, expect, test } from '@playwright/test';
import { type Person, createRoom, invite, message, openNetwork, person, png } from './app-helpers.ts';

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

test('my messages show sending, sent, or not delivered to N servers with a retry', async () => {
  test.setTimeout(120_000);
  // At once, before the worker answers: the local echo, marked as sending.
  await box(alice.page).fill('echo at once');
  await box(alice.page).press('Enter');
  const echo = message(alice.page, 'echo at once');
  await expect(echo).toBeVisible({ timeout: 1000 });
  await expect(echo.locator('[data-state="sent"]')).toHaveText('Sent', ARRIVAL);

  // Cut off from Bob's server: the message is here, but not delivered to 1 server.
  await openNetwork(alice);
  const offline = alice.page.getByRole('switch', { name: 'Offline' });
  await offline.click();
  await expect(offline).toHaveAttribute('aria-checked', 'true');
  await type(alice.page, 'written while offline');
  const row = message(alice.page, 'written while offline');
  await expect(row.locator('[data-state="undelivered"]')).toContainText('Not delivered to 1 server', ARRIVAL);
  await expect(echo.locator('[data-state="sent"]')).toHaveCount(0);
  await alice.page.waitForTimeout(1500);
  await expect(message(bob.page, 'written while offline')).toHaveCount(0);

  // Retrying while still cut off tries again and says so again.
  await row.getByRole('button', { name: 'Retry now' }).click();
  await expect(row.locator('[data-state="undelivered"]')).toContainText('Not delivered to 1 server');

  // Back online (the outbox retries at once when the peer is back, or on Retry): sent, and Bob has it.
  await offline.click();
  await expect(offline).toHaveAttribute('aria-checked', 'false');
  const retry = row.getByRole('button', { name: 'Retry now' });
  if (await retry.isVisible()) await retry.click({ timeout: 2000 }).catch(() => undefined);
  await expect(message(bob.page, 'written while offline')).toBeVisible(ARRIVAL);
  await expect(row.locator('[data-state="sent"]')).toHaveText('Sent', ARRIVAL);
  await expect(row.locator('[data-state="undelivered"]')).toHaveCount(0);
});

/**
 * Presses Up in the message box and types `text` right after it, before the page paints again: a
 * fast typist, or Playwright's `fill` right after a `press`. Between the two only microtasks run
 * (the box re-renders; effects wait for the next frame). With `sendFirst`, that is sent with Enter
 * just before. Returns whether the message Up picked was still on its way (a local echo).
 */
function upThenType(page: Page, text: string, sendFirst?: string): Promise<boolean> {
  return page.evaluate(
    async ([text, sendFirst]) => {
      const box = document.querySelector<HTMLTextAreaElement>('#composer')!;
      const setValue = Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, 'value')!.set!;
      // Each key is its own event: the renders it causes (microtasks) run before the next one.
      const settle = async () => {
        for (let i = 0; i < 5; i++) await Promise.resolve();
      };
      const key = async (k: string) => {
        box.dispatchEvent(new KeyboardEvent('keydown', { key: k, bubbles: true, cancelable: true }));
        await settle();
      };
      const input = async (v: string) => {
        setValue.call(box, v);
        box.dispatchEvent(new Event('input', { bubbles: true }));
        await settle();
      };
      box.focus();
      if (sendFirst) {
        await input(sendFirst);
        await key('Enter');
      }
      const sending = document.querySelector('.msg.outgoing[data-state="sending"]') !== null;
      await key('ArrowUp');
      await input(text);
      return sending;
    },
    [text, sendFirst ?? ''] as const,
  );
}

test('Up edits my last message, and what I type at once is the edit, whether the message has landed or is still sending', async () => {
  test.setTimeout(90_000);
  await type(alice.page, 'a message with a tpyo');
  await expect(message(alice.page, 'a message with a tpyo').locator('[data-state="sent"]')).toHaveText('Sent', ARRIVAL);
  await upThenType(alice.page, 'a message without a typo');
  await expect(alice.page.getByText('Editing your message')).toBeVisible();
  await expect(box(alice.page)).toHaveValue('a message without a typo');
  await box(alice.page).press('Enter');
  await expect(message(bob.page, 'a message without a typo')).toContainText('(edited)', ARRIVAL);
  await expect(message(alice.page, 'a message without a typo')).toContainText('(edited)');

  // Up right after Enter: the message may still be on its way; the edit waits for it to land.
  // Only microtasks ran since Enter, and the worker's answer is a message event: still sending.
  expect(await upThenType(alice.page, 'second thought, revised', 'second thought')).toBe(true);
  await expect(box(alice.page)).toHaveValue('second thought, revised');
  await box(alice.page).press('Enter');
  await expect(box(alice.page)).toHaveValue('');
  await expect(message(bob.page, 'second thought, revised')).toContainText('(edited)', ARRIVAL);
  await expect(message(alice.page, 'second thought, revised')).toContainText('(edited)');
  await expect(message(alice.page, 'a message without a typo')).toContainText('(edited)');

  // Up, then Enter without a change: no edit is sent (nothing to mark edited).
  await type(alice.page, 'left as it is');
  await expect(message(alice.page, 'left as it is').locator('[data-state="sent"]')).toHaveText('Sent', ARRIVAL);
  await box(alice.page).press('ArrowUp');
  await expect(box(alice.page)).toHaveValue('left as it is');
  await box(alice.page).press('Enter');
  await expect(alice.page.getByText('Editing your message')).toHaveCount(0);
  await expect(box(alice.page)).toHaveValue('');
  await expect(message(bob.page, 'left as it is')).toBeVisible(ARRIVAL);
  await alice.page.waitForTimeout(1000);
  await expect(message(bob.page, 'left as it is')).not.toContainText('(edited)');
});

test('a message over the size the network accepts is refused in the composer, with the limit', async () => {
  const send = alice.page.getByRole('button', { name: 'Send', exact: true });
  await box(alice.page).fill(`too long ${'x'.repeat(70_000)}`);
  await expect(alice.page.getByRole('alert').filter({ hasText: 'too large to send' })).toContainText('at most 62 KiB');
  await expect(send).toBeDisabled();
  await box(alice.page).press('Enter');
  await expect(box(alice.page)).not.toHaveValue('');
  await expect(message(alice.page, 'too long')).toHaveCount(0);
  // Shortened: accepted again.
  await box(alice.page).fill(`short enough ${'y'.repeat(1000)}`);
  await expect(alice.page.getByRole('alert').filter({ hasText: 'too large to send' })).toHaveCount(0);
  await box(alice.page).press('Enter');
  await expect(message(bob.page, 'short enough')).toBeVisible(ARRIVAL);
});

test('@-mention completion inserts the member, links them and mentions them', async () => {
  await box(alice.page).fill('thanks @Bo');
  const list = alice.page.getByRole('listbox', { name: 'Mention a member' });
  await expect(list.getByRole('option')).toHaveCount(1);
  await expect(list.getByRole('option').first()).toContainText('Bob');
  await expect(list.getByRole('option').first()).toContainText(bob.id);
  await box(alice.page).press('Enter'); // picks the option, does not send
  await expect(box(alice.page)).toHaveValue('thanks @Bob ');
  await expect(list).toHaveCount(0);
  await box(alice.page).press('End');
  await box(alice.page).pressSequentially('for the review');
  await box(alice.page).press('Enter');
  await expect(box(alice.page)).toHaveValue('');

  const row = message(bob.page, 'for the review');
  await expect(row).toBeVisible(ARRIVAL);
  await expect(row.locator('.body a', { hasText: 'Bob' })).toHaveAttribute('href', `https://matrix.to/#/${bob.id}`);
  await expect(row.getByText('Mentions you')).toBeVisible();
  // On Alice's side (the sender) the link is there, and no "Mentions you".
  const mine = message(alice.page, 'for the review');
  await expect(mine.locator('.body a', { hasText: 'Bob' })).toBeVisible();
  await expect(mine.getByText('Mentions you')).toHaveCount(0);
  // A message without a picked mention mentions no one.
  await type(alice.page, 'no mention here');
  await expect(message(bob.page, 'no mention here')).toBeVisible(ARRIVAL);
  await expect(message(bob.page, 'no mention here').getByText('Mentions you')).toHaveCount(0);
});

async function shareFile(page: Page, file: { name: string; mimeType: string; buffer: Buffer }): Promise<void> {
  const chooser = page.waitForEvent('filechooser');
  await page.getByRole('button', { name: 'Share a file' }).click();
  await (await chooser).setFiles(file);
}

test('any file type can be shared, with the size limit stated', async () => {
  test.setTimeout(90_000);
  await expect(alice.page.getByRole('button', { name: 'Share a file' })).toHaveAttribute('title', /up to 2\.0 MiB/);
  const bytes = Buffer.from('minutes of the meeting\n'.repeat(40));
  await shareFile(alice.page, { name: 'minutes.csv', mimeType: 'text/csv', buffer: bytes });
  const row = message(bob.page, 'minutes.csv');
  await expect(row).toBeVisible(ARRIVAL);
  await expect(row).toContainText('text/csv');
  await expect(row).toContainText('920 B');
  const download = bob.page.waitForEvent('download');
  await row.getByRole('button', { name: 'Download minutes.csv' }).click();
  const file = await download;
  expect(file.suggestedFilename()).toBe('minutes.csv');
  const got = await file.createReadStream().then(async (stream) => {
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  });
  expect(got.equals(bytes)).toBe(true);

  // Over the media cap: said with the limit, nothing sent.
  await shareFile(alice.page, { name: 'archive.zip', mimeType: 'application/zip', buffer: Buffer.alloc(3 * 1024 * 1024, 7) });
  await expect(alice.page.getByText(/archive\.zip is too large to share \(3\.0 MiB\): files can be at most 2\.0 MiB/)).toBeVisible();
  await expect(message(alice.page, 'archive.zip')).toHaveCount(0);
});

test('the emoji picker is loaded on first open and inserts at the caret', async () => {
  test.setTimeout(90_000);
  const page = alice.page;
  // Nothing of the picker was loaded with the page.
  const loaded = await page.evaluate(() =>
    performance.getEntriesByType('resource').map((e) => e.name).filter((n) => /emoji|picker|data-[^/]*\.json/.test(n)),
  );
  expect(loaded).toEqual([]);
  const data = page.waitForRequest((r) => /\.json(\?|$)/.test(r.url()) && /data/.test(r.url()));
  await box(page).fill('great ');
  await page.getByRole('button', { name: 'Emoji' }).click();
  await expect(page.getByRole('button', { name: 'Emoji' })).toHaveAttribute('aria-expanded', 'true');
  await data;
  const picker = page.locator('emoji-picker');
  await picker.getByRole('combobox').fill('thumbs up');
  await picker.getByRole('option', { name: /thumbs up/ }).first().click();
  await expect(box(page)).toHaveValue(/^great 👍\uFE0F?$/);
  await page.keyboard.press('Escape');
  await expect(picker).toHaveCount(0);
  await box(page).press('Enter');
  await expect(message(bob.page, 'great 👍')).toBeVisible(ARRIVAL);
});

test('an image gets a preview and a caption before it is sent', async () => {
  test.setTimeout(90_000);
  const page = alice.page;
  const choose = async (name: string) => {
    const chooser = page.waitForEvent('filechooser');
    await page.getByRole('button', { name: 'Attach image' }).click();
    await (await chooser).setFiles({ name, mimeType: 'image/png', buffer: await png(page, 64, 48) });
  };
  // Cancelled: nothing is sent.
  await choose('draft.png');
  const preview = page.getByRole('group', { name: 'Image to send' });
  await expect(preview.getByRole('img', { name: 'Preview of draft.png' })).toBeVisible();
  await preview.getByRole('button', { name: 'Cancel' }).click();
  await expect(preview).toHaveCount(0);

  await choose('sunset.png');
  await expect(preview.getByRole('img', { name: 'Preview of sunset.png' })).toBeVisible();
  await expect(preview).toContainText('sunset.png');
  await preview.getByRole('textbox', { name: 'Caption' }).fill('Our view tonight');
  await preview.getByRole('button', { name: 'Send image' }).click();
  await expect(preview).toHaveCount(0);

  const log = bob.page.getByRole('log', { name: 'Timeline' });
  await expect(log.locator('img[alt="Our view tonight"]')).toBeVisible(ARRIVAL);
  await expect(log.locator('.image-caption', { hasText: 'Our view tonight' })).toBeVisible();
  await expect(bob.page.getByRole('log', { name: 'Timeline' }).locator('img[alt="draft.png"]')).toHaveCount(0);
});

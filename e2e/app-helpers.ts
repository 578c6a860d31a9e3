/** Shared steps for the app's browser tests: they drive the UI only, by accessible names. */
import { type Browser, type BrowserContext, type Locator, type Page, expect } from '@playwright/test';

/** Opens the app and creates this homeserver's account; returns the user ID shown. */
export async function onboard(page: Page, displayName: string): Promise<string> {
  await page.goto('/');
  await page.getByRole('textbox', { name: 'Display name' }).fill(displayName);
  await page.getByRole('button', { name: 'Start' }).click();
  const id = page.getByLabel('Your user ID');
  await expect(id).toHaveText(/^@[a-z0-9._=/+-]+:.+$/);
  return (await id.textContent()) ?? '';
}

/**
 * Creates a private room from the New room dialog. Rooms are end-to-end encrypted by default;
 * these tests create plain ones unless `encrypted` (e2e/e2ee.spec.ts covers encryption).
 */
export async function createRoom(page: Page, name: string, opts: { encrypted?: boolean } = {}): Promise<void> {
  await page.getByRole('button', { name: 'New room' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByRole('textbox', { name: 'Room name' }).fill(name);
  await dialog.getByRole('checkbox', { name: /Encrypt messages end to end/ }).setChecked(opts.encrypted === true);
  await dialog.getByRole('button', { name: 'Create' }).click();
  // Creating writes several events, and an encrypted room's timeline waits for the tab's encryption device: generous on a loaded machine.
  await expect(page.getByRole('dialog')).toHaveCount(0, { timeout: 30_000 });
  // The new room opens (at phone width the room list is hidden while a room is open).
  await expect(page.getByRole('heading', { level: 2, name, exact: true })).toBeVisible();
}

/** Sends `text` with Enter and waits for it in the Timeline (as `shown`, when Markdown-lite changes it). */
export async function send(page: Page, text: string, shown = text): Promise<void> {
  const box = page.getByRole('textbox', { name: 'Message' });
  await box.fill(text);
  await box.press('Enter');
  await expect(box).toHaveValue('');
  await expect(message(page, shown)).toBeVisible();
}

/** The message row in the Timeline whose body contains `text`. */
export function message(page: Page, text: string) {
  return page.getByRole('log', { name: 'Timeline' }).getByRole('article').filter({ hasText: text });
}

/** One person's browser (a context) with their homeserver, onboarded and connected to the relay. */
export interface Person {
  context: BrowserContext;
  page: Page;
  id: string;
}

export async function person(browser: Browser, name: string): Promise<Person> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const id = await onboard(page, name);
  // The homeserver is reachable once the relay has reserved it a slot.
  await expect(page.getByText(/relay connected/)).toBeVisible({ timeout: 30_000 });
  return { context, page, id };
}

/**
 * The people one test brings in: `person` onboards and remembers each, `closeAll` (in an
 * afterEach) ends their browser contexts, and with them their homeservers and relay slots —
 * homeservers piling up from earlier tests slow the later ones down.
 */
export function cast() {
  const people: Person[] = [];
  const join = async (browser: Browser, name: string): Promise<Person> => {
    const p = await person(browser, name);
    people.push(p);
    return p;
  };
  return {
    person: join,
    /** Alice and Bob, each on their own homeserver, in a room Alice created and invited Bob to. */
    async aliceAndBobIn(browser: Browser, room: string): Promise<{ alice: Person; bob: Person }> {
      const alice = await join(browser, 'Alice Liddell');
      const bob = await join(browser, 'Bob Stone');
      await createRoom(alice.page, room);
      await invite(alice, bob, room);
      return { alice, bob };
    },
    async closeAll(): Promise<void> {
      for (const p of people.splice(0)) await p.context.close();
    },
  };
}

/** `from` invites `to` into the open room; `to` accepts and sees the room open. */
export async function invite(from: Person, to: Person, room: string): Promise<void> {
  await from.page.getByRole('button', { name: 'Invite', exact: true }).click();
  await from.page.getByRole('textbox', { name: 'User ID' }).fill(to.id);
  await from.page.getByRole('button', { name: 'Send invite' }).click();
  await to.page.getByRole('button', { name: 'Accept', exact: true }).click({ timeout: 30_000 });
  await expect(to.page.getByRole('heading', { level: 2, name: room, exact: true })).toBeVisible({ timeout: 30_000 });
}

/** Opens the Members panel unless it is open already; returns it. */
export async function openMembers(p: { page: Page }): Promise<Locator> {
  const panel = p.page.getByRole('complementary', { name: 'Members' });
  if (!(await panel.isVisible())) await p.page.getByRole('button', { name: /^Members/ }).click();
  await expect(panel).toBeVisible();
  return panel;
}

/** Opens the Network panel unless it is open already. */
export async function openNetwork(p: Person): Promise<void> {
  if (await p.page.getByRole('switch', { name: 'Offline' }).isVisible()) return;
  await p.page.getByRole('button', { name: 'Network', exact: true }).click();
}

/** A `width`×`height` PNG drawn by the browser itself. */
export async function png(page: Page, width: number, height: number): Promise<Buffer> {
  const b64 = await page.evaluate(
    async ([w, h]) => {
      const canvas = new OffscreenCanvas(w, h);
      const g = canvas.getContext('2d')!;
      g.fillStyle = '#c8441e';
      g.fillRect(0, 0, w, h);
      g.fillStyle = '#1d5fd1';
      g.fillRect(0, 0, w / 2, h / 2);
      const bytes = new Uint8Array(await (await canvas.convertToBlob({ type: 'image/png' })).arrayBuffer());
      let s = '';
      for (const b of bytes) s += String.fromCharCode(b);
      return btoa(s);
    },
    [width, height] as const,
  );
  return Buffer.from(b64, 'base64');
}

/** Clicks one of the open room's header actions (at phone width they sit behind "More"). */
export async function roomAction(page: Page, name: string | RegExp): Promise<void> {
  const more = page.getByRole('button', { name: 'More', exact: true });
  if (await more.isVisible()) await more.click();
  await page.locator('.room-header').getByRole('button', { name, exact: typeof name === 'string' }).click();
}

/** Confirms the destructive action the open confirmation dialog asks about, with an optional reason. */
export async function confirmAction(page: Page, action: string, reason?: string): Promise<void> {
  const dialog = page.getByRole('dialog');
  if (reason !== undefined) await dialog.getByRole('textbox', { name: 'Reason (optional)' }).fill(reason);
  await dialog.getByRole('button', { name: action, exact: true }).click();
  await expect(page.getByRole('dialog')).toHaveCount(0);
}

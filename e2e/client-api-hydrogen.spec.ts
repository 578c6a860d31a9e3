/**
 * The browser door: Hearth's Service Worker (src/sw/matrix-door.ts) routes same-origin
 * Matrix requests to a tab's homeserver worker (src/app/sw-bridge.ts →
 * HomeserverService.handleClientRequest), and a standard client (Hydrogen,
 * hydrogen.html) talks to it.
 */
import { type Browser, type Page, expect, test } from '@playwright/test';
import { createRoom, message, person, png, send } from './app-helpers.ts';

/** Waits until the page is controlled by the Service Worker (the app registers it at start). */
async function controlled(page: Page): Promise<void> {
  await page.evaluate(async () => {
    const sw = navigator.serviceWorker;
    await sw.ready;
    if (!sw.controller) await new Promise((r) => sw.addEventListener('controllerchange', r, { once: true }));
  });
}

interface Fetched {
  status: number;
  contentType: string | null;
  json: unknown;
  text: string;
}

/** fetch() from inside the page (so through its Service Worker). */
function pageFetch(page: Page, path: string, init?: { method?: string; body?: unknown; token?: string }): Promise<Fetched> {
  return page.evaluate(
    async ({ path, init }) => {
      const headers: Record<string, string> = {};
      if (init?.body !== undefined) headers['content-type'] = 'application/json';
      if (init?.token) headers.authorization = `Bearer ${init.token}`;
      const res = await fetch(path, {
        method: init?.method ?? 'GET',
        headers,
        ...(init?.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
      });
      const text = await res.text();
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: res.status, contentType: res.headers.get('content-type'), json, text };
    },
    { path, init },
  );
}

/** Opens the app: its homeserver starts (the onboarding form shows), and the Service Worker controls the page. */
async function openApp(page: Page): Promise<void> {
  await page.goto('/');
  await expect(page.getByRole('textbox', { name: 'Display name' })).toBeVisible({ timeout: 30_000 });
  await controlled(page);
}

test.describe('Service Worker door', () => {
  test('routes /_matrix/ requests to the tab homeserver: versions, well-known, register, login, whoami, unknown endpoints', async ({ page }) => {
    await openApp(page);
    const versions = await pageFetch(page, '/_matrix/client/versions');
    expect(versions.status).toBe(200);
    expect(versions.contentType).toContain('application/json');
    expect((versions.json as { versions: string[] }).versions).toContain('v1.1');

    const wellKnown = await pageFetch(page, '/.well-known/matrix/client');
    expect(wellKnown.json).toEqual({ 'm.homeserver': { base_url: new URL(page.url()).origin } });

    const reg = await pageFetch(page, '/_matrix/client/v3/register', {
      method: 'POST',
      body: { username: 'door', password: 'correct horse battery', auth: { type: 'm.login.dummy' } },
    });
    expect(reg.status, reg.text).toBe(200);
    const userId = (reg.json as { user_id: string }).user_id;
    expect(userId).toMatch(/^@door:/);

    const login = await pageFetch(page, '/_matrix/client/r0/login', {
      method: 'POST',
      body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'door' }, password: 'correct horse battery' },
    });
    expect(login.status, login.text).toBe(200);
    const token = (login.json as { access_token: string }).access_token;
    const whoami = await pageFetch(page, '/_matrix/client/v3/account/whoami', { token });
    expect(whoami.status).toBe(200);
    expect((whoami.json as { user_id: string }).user_id).toBe(userId);

    // Unknown endpoints are the homeserver's 404 M_UNRECOGNIZED, never the app's index.html.
    const unknown = await pageFetch(page, '/_matrix/client/v3/no-such-thing');
    expect(unknown.status).toBe(404);
    expect((unknown.json as { errcode: string }).errcode).toBe('M_UNRECOGNIZED');

    // The app's own assets are not intercepted.
    const config = await pageFetch(page, '/hearth-config.json');
    expect(config.status).toBe(200);
    expect(config.json).toHaveProperty('relays');
  });

  test('a page without a homeserver is served by the tab that has one, and gets 503 M_UNAVAILABLE when none does', async ({ context, page }) => {
    await openApp(page);
    // A second page of the same origin that runs no homeserver (a JSON document: no app script).
    const other = await context.newPage();
    await other.goto('/hearth-config.json');
    await controlled(other);
    const viaApp = await pageFetch(other, '/_matrix/client/versions');
    expect(viaApp.status).toBe(200);
    expect(viaApp.json).toHaveProperty('versions');

    await page.close();
    const none = await pageFetch(other, '/_matrix/client/versions');
    expect(none.status).toBe(503);
    expect((none.json as { errcode: string }).errcode).toBe('M_UNAVAILABLE');
  });

  test('the Service Worker stopped mid-request: that request still ends (failed or served again), the next one is served', async ({ context, page }) => {
    await openApp(page);
    const reg = await pageFetch(page, '/_matrix/client/v3/register', {
      method: 'POST',
      body: { username: 'sleeper', password: 'correct horse battery', auth: { type: 'm.login.dummy' } },
    });
    expect(reg.status, reg.text).toBe(200);
    const token = (reg.json as { access_token: string }).access_token;
    const first = await pageFetch(page, '/_matrix/client/v3/sync', { token });
    expect(first.status, first.text).toBe(200);
    const since = (first.json as { next_batch: string }).next_batch;

    // A long-poll that nothing will wake: it is in flight in the Service Worker when it is stopped.
    const polling = page.evaluate(
      async ({ since, token }) => {
        try {
          const res = await fetch(`/_matrix/client/v3/sync?since=${encodeURIComponent(since)}&timeout=5000`, {
            headers: { authorization: `Bearer ${token}` },
          });
          return { status: res.status, body: await res.text() };
        } catch (err) {
          return { failed: String(err) };
        }
      },
      { since, token },
    );
    await page.waitForTimeout(1000);
    const cdp = await context.newCDPSession(page);
    const states: string[] = [];
    cdp.on('ServiceWorker.workerVersionUpdated', (e) => {
      for (const v of e.versions) states.push(v.runningStatus);
    });
    await cdp.send('ServiceWorker.enable');
    await cdp.send('ServiceWorker.stopAllWorkers');
    await expect.poll(() => states).toContain('stopped');
    // Chromium either fails the in-flight fetch or (what it does today) starts the worker again and
    // dispatches the request to it; either way the request ends and nothing is left hanging.
    const outcome = await polling;
    if ('status' in outcome) {
      expect(outcome.status, outcome.body).toBe(200);
      expect(JSON.parse(outcome.body ?? '')).toHaveProperty('next_batch');
    } else expect(outcome.failed).toMatch(/TypeError|Failed to fetch/);

    // The next request starts the worker again and is served.
    const after = await pageFetch(page, '/_matrix/client/v3/account/whoami', { token });
    expect(after.status).toBe(200);
    expect((after.json as { user_id: string }).user_id).toBe((reg.json as { user_id: string }).user_id);
  });

  test('after a hard reload the page is claimed and its requests are routed again', async ({ context, page }) => {
    await openApp(page);
    const cdp = await context.newCDPSession(page);
    await cdp.send('Page.reload', { ignoreCache: true });
    await expect(page.getByRole('textbox', { name: 'Display name' })).toBeVisible({ timeout: 30_000 });
    // Not controlled at first (a hard reload bypasses the Service Worker); the bridge asks it to claim the page.
    await controlled(page);
    const versions = await pageFetch(page, '/_matrix/client/versions');
    expect(versions.status).toBe(200);
    expect(versions.json).toHaveProperty('versions');
  });
});

test.describe('Hydrogen through the Service Worker', () => {
  test.setTimeout(240_000);

  test('Hydrogen on its own tab homeserver chats with a Hearth app user: invite, messages both ways, the Service Worker stopped mid-/sync', async ({
    browser,
  }) => {
    const { ann, context, hydrogen, timeline, composer } = await hydrogenInRoom(browser);

    // The browser stops the Service Worker while Hydrogen's /sync long-poll is in flight; Hydrogen recovers.
    const cdp = await context.newCDPSession(hydrogen);
    await cdp.send('ServiceWorker.enable');
    await hydrogen.waitForTimeout(1000);
    await cdp.send('ServiceWorker.stopAllWorkers');
    await send(ann.page, 'after the stop');
    await expect(timeline.getByText('after the stop')).toBeVisible({ timeout: 60_000 });
    await composer.fill('still here');
    await composer.press('Enter');
    await expect(message(ann.page, 'still here')).toBeVisible({ timeout: 30_000 });

    await context.close();
    await ann.context.close();
  });

  // Hydrogen only gives an image tile its src once its timeline reports the tile visible: hydrogen.html
  // must give the timeline a scroller of its own size, and work around Hydrogen's date-header bug that
  // left every visible tile but the last one unnotified (src/hydrogen/main.ts).
  test('an image sent from the Hearth app renders in Hydrogen (authenticated media through the Service Worker)', async ({ browser }) => {
    const { ann, context, hydrogen, timeline } = await hydrogenInRoom(browser);
    const media: string[] = [];
    hydrogen.on('request', (r) => {
      if (r.url().includes('/_matrix/client/v1/media/')) media.push(r.url());
    });
    const chooser = ann.page.waitForEvent('filechooser');
    await ann.page.getByRole('button', { name: 'Attach image' }).click();
    await (await chooser).setFiles({ name: 'square.png', mimeType: 'image/png', buffer: await png(ann.page, 40, 40) });
    await ann.page.getByRole('button', { name: 'Send image' }).click();
    const img = timeline.locator('img[alt="square.png"]');
    await expect(img).toBeVisible({ timeout: 30_000 });
    // Another tile after the image (before the workaround it stayed blank whenever it was not the last tile).
    await send(ann.page, 'after the image');
    await expect(timeline.getByText('after the image')).toBeVisible({ timeout: 30_000 });
    await expect.poll(() => img.evaluate((el: HTMLImageElement) => el.naturalWidth), { timeout: 30_000 }).toBeGreaterThan(0);
    expect(await img.getAttribute('src')).toMatch(/^(blob:|https?:)/);
    expect(media.some((u) => u.includes('/_matrix/client/v1/media/thumbnail/'))).toBe(true);
    await context.close();
    await ann.context.close();
  });
});

/**
 * Ann on the Hearth app; Hydrogen on hydrogen.html (its own tab homeserver), invited by Ann into "Door";
 * one message each way.
 */
async function hydrogenInRoom(browser: Browser) {
  const ann = await person(browser, 'Ann');
  const context = await browser.newContext();
  const hydrogen = await context.newPage();
  await hydrogen.goto('/hydrogen.html?user=hydro');
  const status = hydrogen.getByRole('status', { name: 'Hydrogen page status' });
  await expect(status).toHaveText(/^ready on /, { timeout: 60_000 });
  const hydroId = (await hydrogen.locator('#user-id').textContent()) ?? '';
  expect(hydroId).toMatch(/^@hydro:/);

  // Ann invites Hydrogen's user from the app; the Hydrogen page accepts and opens the room.
  await createRoom(ann.page, 'Door');
  await ann.page.getByRole('button', { name: 'Invite', exact: true }).click();
  await ann.page.getByRole('textbox', { name: 'User ID' }).fill(hydroId);
  await ann.page.getByRole('button', { name: 'Send invite' }).click();
  await expect(status).toHaveText(/room .* open/, { timeout: 60_000 });
  await expect(hydrogen.getByRole('heading', { level: 2, name: 'Door' })).toBeVisible({ timeout: 30_000 });

  // Hearth app → Hydrogen.
  await send(ann.page, 'hello from the Hearth app');
  const timeline = hydrogen.locator('.Timeline');
  await expect(timeline.getByText('hello from the Hearth app')).toBeVisible({ timeout: 30_000 });

  // Hydrogen → Hearth app, through Hydrogen's composer.
  const composer = hydrogen.locator('.MessageComposer textarea');
  await composer.fill('hello from Hydrogen');
  await composer.press('Enter');
  await expect(message(ann.page, 'hello from Hydrogen')).toBeVisible({ timeout: 30_000 });

  return { ann, context, hydrogen, timeline, composer };
}

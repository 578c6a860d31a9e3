/**
 * Issue 15, "The network" and "Offline first", against an app server this
 * spec starts and stops itself (scripts/app-server.ts --preview: the built
 * app, and the relay in the same process, with a new key at every start —
 * so a restart is a real relay restart with a new identity on the same
 * address, and a stop is a real "the server that served the page is down").
 *
 * 18. Two people chatting; the relay is killed → both tabs say "unreachable
 *     since HH:MM"; a relay with a new PeerId starts on the same address →
 *     both tabs re-read the configuration, reconnect and messages flow again.
 *     The Network panel names peers by their people's display names (the key
 *     in the title), explains Block, and long room names do not overflow it.
 * 19. The app shell works offline: with the server down, a reload shows the
 *     app, the person's homeserver and rooms (Workbox's precache in the same
 *     Service Worker that serves /_matrix); the web manifest and its icons
 *     are served and valid.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import { type Browser, type Locator, type Page, expect, test } from '@playwright/test';
import { freePort } from '../test/helpers/hearth-process.ts';
import { type Person, createRoom, invite, message, onboard, send } from './app-helpers.ts';

/** Cross-tab arrival and reconnection: a relay restart, backoff and re-discovery can take a while on a loaded machine. */
const ARRIVAL = { timeout: 60_000 };

interface AppServer {
  origin: string;
  /** The relay's ws multiaddr, /p2p/<PeerId> included. */
  relay: string;
  /** Kills the process (relay and web server at once) and waits for it to exit. */
  kill(): Promise<void>;
}

/** Starts scripts/app-server.ts --preview on fixed ports; resolves once it says it is running. */
function startAppServer(opts: { port: number; relayPort: number; outDir: string; build: boolean }): Promise<AppServer> {
  const args = ['--import', 'tsx', 'scripts/app-server.ts', '--preview', '--port', String(opts.port), '--relay-port', String(opts.relayPort), '--out', opts.outDir];
  if (!opts.build) args.push('--no-build');
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  // A test run that ends mid-test must not leave the server holding its ports.
  const orphan = () => child.kill('SIGKILL');
  process.once('exit', orphan);
  child.once('exit', () => process.off('exit', orphan));
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the app server did not start in 120 s:\n${output}`));
    }, 120_000);
    let started = false;
    child.stderr?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    const early = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`the app server exited (${code}):\n${output}`));
    };
    child.once('exit', early);
    child.stdout?.on('data', (d: Buffer) => {
      output += d.toString();
      const m = /Hearth is running: open (\S+) \(relay (\S+)\)/.exec(output);
      if (!m || started) return;
      started = true;
      clearTimeout(timer);
      child.off('exit', early);
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      resolve({
        origin: m[1]!.replace(/\/$/, ''),
        relay: m[2]!,
        kill: async () => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
          await exited;
        },
      });
    });
  });
}

/** Whether anything answers HTTP at `origin` (from the test, outside the browser and its Service Worker). */
async function answers(origin: string): Promise<boolean> {
  try {
    await fetch(`${origin}/`, { signal: AbortSignal.timeout(5_000) });
    return true;
  } catch {
    return false;
  }
}

let outDir = '';
let port = 0;
let relayPort = 0;
let server: AppServer | undefined;
const people: Person[] = [];

test.beforeAll(async () => {
  test.setTimeout(180_000);
  outDir = await mkdtemp(join(tmpdir(), 'hearth-network-e2e-'));
  port = await freePort();
  relayPort = await freePort();
  // Built once here; every start below serves this build (--no-build).
  server = await startAppServer({ port, relayPort, outDir, build: true });
  await server.kill();
  server = undefined;
});

test.afterEach(async () => {
  for (const p of people.splice(0)) await p.context.close().catch(() => undefined);
  await server?.kill();
  server = undefined;
});

test.afterAll(async () => {
  if (outDir) await rm(outDir, { recursive: true, force: true });
});

async function start(): Promise<AppServer> {
  server = await startAppServer({ port, relayPort, outDir, build: false });
  return server;
}

/** One person on the test's app server: their own browser context, homeserver and relay slot. */
async function person(browser: Browser, origin: string, name: string): Promise<Person> {
  const context = await browser.newContext({ baseURL: origin });
  const page = await context.newPage();
  const id = await onboard(page, name);
  const p = { context, page, id };
  people.push(p);
  await expect(topBar(page).getByText(/relay connected/)).toBeVisible(ARRIVAL);
  return p;
}

function topBar(page: Page): Locator {
  return page.locator('.topbar');
}

async function openNetwork(page: Page): Promise<Locator> {
  const panel = page.getByRole('complementary', { name: 'Network' });
  if (!(await panel.isVisible())) await page.getByRole('button', { name: 'Network', exact: true }).click();
  await expect(panel).toBeVisible();
  return panel;
}

function serverOf(p: Person): string {
  return p.id.slice(p.id.indexOf(':') + 1);
}

test.describe('the network and offline first (issue 15)', () => {
  test('18. a relay restarted with a new identity is found again; "unreachable since" is shown meanwhile; peers by name', async ({
    browser,
  }) => {
    test.setTimeout(300_000);
    const first = await start();
    const longName = `A room whose name is much longer than the network panel is wide ${'and then some more '.repeat(3)}end`;
    const alice = await person(browser, first.origin, 'Alice');
    const bob = await person(browser, first.origin, 'Bob');
    await createRoom(alice.page, longName);
    await invite(alice, bob, longName);
    await send(alice.page, 'before the restart');
    await expect(message(bob.page, 'before the restart')).toBeVisible(ARRIVAL);

    // The Network panel: Bob by his display name, his server key in the title; Block explained; no overflow.
    const panel = await openNetwork(alice.page);
    const bobRow = panel.getByRole('listitem').filter({ hasText: 'Bob' });
    await expect(bobRow).toHaveCount(1, ARRIVAL);
    await expect(bobRow.locator('.peer-name')).toHaveText('Bob');
    await expect(bobRow.locator('[title]').first()).toHaveAttribute('title', new RegExp(serverOf(bob)));
    await expect(panel.getByText(/cuts this homeserver's direct link/)).toBeVisible();
    await expect(panel.getByText(/can still arrive through other\s+members/)).toBeVisible();
    const roomName = panel.locator('.room-fact-name', { hasText: 'A room whose name' });
    await expect(roomName).toHaveAttribute('title', longName);
    const overflow = await panel.evaluate((el) => ({ scroll: el.scrollWidth, client: el.clientWidth }));
    expect(overflow.scroll).toBeLessThanOrEqual(overflow.client + 1);
    const nameBox = await roomName.evaluate((el) => ({ scroll: el.scrollWidth, client: el.clientWidth, overflow: getComputedStyle(el).textOverflow }));
    expect(nameBox.overflow).toBe('ellipsis');
    expect(nameBox.scroll).toBeGreaterThan(nameBox.client); // it is cut, not wrapped or spilling

    // The relay (and the server that names it) goes away: both tabs say so, with the time.
    await first.kill();
    for (const p of [alice, bob]) await expect(topBar(p.page).getByText(/unreachable since \d{1,2}:\d{2}/)).toBeVisible(ARRIVAL);
    await expect(panel.locator('.relay-state')).toHaveText(/unreachable since \d{1,2}:\d{2}/);
    // The panel in this state (names, Block's explanation, the outage) has no serious or critical axe violations.
    const axe = await new AxeBuilder({ page: alice.page }).include('aside.network').analyze();
    expect(axe.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.help}`)).toEqual([]);

    // A relay with a new identity on the same address: the tabs must read the new PeerId and reconnect.
    const second = await start();
    expect(second.origin).toBe(first.origin);
    expect(second.relay.split('/p2p/')[0]).toBe(first.relay.split('/p2p/')[0]);
    expect(second.relay).not.toBe(first.relay);
    for (const p of [alice, bob]) await expect(topBar(p.page).getByText(/relay connected/)).toBeVisible(ARRIVAL);
    await expect(panel.locator('.relay-state')).toHaveText('connected');
    await expect(panel.locator('.relay-addr')).toHaveText(second.relay);

    await send(alice.page, 'after the restart, from Alice');
    await expect(message(bob.page, 'after the restart, from Alice')).toBeVisible(ARRIVAL);
    await send(bob.page, 'after the restart, from Bob');
    await expect(message(alice.page, 'after the restart, from Bob')).toBeVisible(ARRIVAL);
    await expect(bobRow.locator('.peer-name')).toHaveText('Bob', ARRIVAL);
  });

  test('19. with the web server down, a reload shows the app, the homeserver and its rooms; the app is installable', async ({
    browser,
  }) => {
    test.setTimeout(240_000);
    const srv = await start();

    // Installable: the manifest is linked, served and names icons that exist at their stated sizes.
    const html = await (await fetch(`${srv.origin}/`)).text();
    // Relative URLs (the built app works under any path): they resolve against the page, then the manifest.
    const link = /<link rel="manifest" href="([^"]+)"/.exec(html)?.[1];
    expect(link).toBe('./manifest.webmanifest');
    const manifestUrl = new URL(link!, `${srv.origin}/`);
    const res = await fetch(manifestUrl);
    expect(res.ok).toBe(true);
    const manifest = (await res.json()) as {
      name?: string;
      short_name?: string;
      start_url?: string;
      display?: string;
      theme_color?: string;
      icons?: { src: string; sizes: string; type: string; purpose?: string }[];
    };
    expect(manifest.name).toMatch(/Hearth/);
    expect(manifest.short_name).toBe('Hearth');
    expect(new URL(manifest.start_url ?? '', manifestUrl).href).toBe(`${srv.origin}/`);
    expect(manifest.display).toBe('standalone');
    expect(manifest.theme_color).toMatch(/^#[0-9a-f]{6}$/i);
    const icons = manifest.icons ?? [];
    for (const size of ['192x192', '512x512']) expect(icons.some((i) => i.sizes === size && (i.purpose ?? 'any').includes('any'))).toBe(true);
    expect(icons.some((i) => i.purpose?.includes('maskable'))).toBe(true);
    for (const icon of icons) {
      const r = await fetch(new URL(icon.src, manifestUrl));
      expect(r.headers.get('content-type')).toMatch(/image\/png/);
      const png = Buffer.from(await r.arrayBuffer());
      expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
      // IHDR: width and height, big-endian, at bytes 16 and 20.
      expect(`${png.readUInt32BE(16)}x${png.readUInt32BE(20)}`).toBe(icon.sizes);
    }

    const context = await browser.newContext({ baseURL: srv.origin });
    const page = await context.newPage();
    people.push({ context, page, id: '' });
    const id = await onboard(page, 'Alice');
    await createRoom(page, 'Kept offline');
    await send(page, 'written before the server went down');
    // The Service Worker is active (so its precache is complete) and controls the page.
    await page.evaluate(() => navigator.serviceWorker.ready.then(() => undefined));
    await expect.poll(() => page.evaluate(() => navigator.serviceWorker.controller !== null), ARRIVAL).toBe(true);

    await srv.kill();
    expect(await answers(srv.origin)).toBe(false);
    await page.reload();
    await expect(page.getByLabel('Your user ID')).toHaveText(id, ARRIVAL);
    const rooms = page.getByRole('navigation', { name: 'Rooms' });
    await page.getByRole('button', { name: 'Kept offline', exact: true }).or(rooms.getByText('Kept offline')).first().click();
    await expect(message(page, 'written before the server went down')).toBeVisible(ARRIVAL);
    // It says honestly that the relay cannot be reached (the server that runs it is down).
    await expect(topBar(page).getByText(/unreachable since \d{1,2}:\d{2}/)).toBeVisible(ARRIVAL);
    // The Matrix door is the same worker: it still answers from this tab's homeserver.
    const versions = await page.evaluate(async () => (await fetch('/_matrix/client/versions')).status);
    expect(versions).toBe(200);

    // The server comes back (a new relay identity too): the tab finds the relay without a reload.
    await start();
    await expect(topBar(page).getByText(/relay connected/)).toBeVisible(ARRIVAL);
  });
});

/**
 * The app in Debian's Chromium against the real relay: two homeservers in
 * two browser contexts (two people's browsers), driven through the UI by
 * accessible names, as the browser tests do.
 *
 * - Tab-to-tab message latency through the relay: N messages from A to B.
 *   Method: both pages stamp events with `performance.timeOrigin +
 *   performance.now()` (same machine, same system clock; renderer processes
 *   share it to well under a millisecond). Page A records the moment its
 *   document sees the Enter keydown (a capture-phase listener, so before the
 *   composer's own handler runs); page B's MutationObserver on the document
 *   records the first mutation after which B's Timeline contains the text.
 *   Latency = B's stamp − A's stamp: Enter → sign in A's worker → commit →
 *   gossip via the circuit relay → verify + commit in B's worker → Comlink
 *   → B's DOM. Messages are sent one at a time (each waits for the last).
 * - Navigation to a usable composer for a returning person: B's tab goes to
 *   about:blank (its worker ends and the Web Lock is released), then
 *   `page.goto` of its room URL; done when the Message textbox is in the
 *   page and enabled and the connection line says "relay connected".
 * - gzip size of the production build's initial JS (dist/index.html's
 *   module scripts and modulepreloads; the lazy event-graph chunk is not in
 *   it). The worker script, fetched at boot too, is reported beside it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'vite';
import { createServer } from 'node:net';
import { gzipSync } from 'node:zlib';
import { type Browser, type Page, chromium } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../scripts/chromium.ts';

const ROOT = new URL('../', import.meta.url);

export interface TabBench {
  /** Tab-to-tab message latency through the relay (ms). */
  p50: number;
  p95: number;
  samples: number;
  /** Enter in A → the message in A's own Timeline (A's worker signs and commits; no network), p50 ms. */
  echoP50: number;
  /** Returning person: page.goto → Message textbox enabled and relay connected (ms, median of the runs). */
  pageToUsableMs: number;
  pageToUsableRuns: number[];
  /** …and until the other tab is a connected peer again (ms, median). */
  pageToPeerMs: number;
  /** In the new document, ms from its navigation start: composer usable; relay shown connected (medians). */
  composerAtMs: number;
  relayAtMs: number;
  /** gzip bytes of the initial JS (index.html's scripts + modulepreloads). */
  initialJsGzipBytes: number;
  initialJsFiles: string[];
  /** gzip bytes of the homeserver worker script (fetched at boot, not in index.html). */
  workerJsGzipBytes: number;
  /** gzip bytes of the lazily loaded event-graph chunk (not counted above). */
  lazyJsGzipBytes: number;
  /** Incremental /sync carrying one new event, from the page through the Service Worker to its homeserver worker (ms). */
  swSyncP50: number;
  swSyncP95: number;
  swSyncSamples: number;
}

/**
 * Times incremental /sync round trips through the page's Service Worker:
 * a Client-Server API user on the tab's homeserver sends a message (not
 * timed), then `fetch('/_matrix/client/v3/sync?since=…&timeout=0')` is timed
 * inside the page until its JSON is parsed.
 */
async function swSyncRoundTrips(page: Page, samples: number): Promise<number[]> {
  // Plain JS in a string: tsx would wrap the helper functions below in its own `__name` calls,
  // which do not exist in the page.
  const script = `(async (n) => {
    const sw = navigator.serviceWorker;
    await sw.ready;
    if (!sw.controller) await new Promise((r) => sw.addEventListener('controllerchange', r, { once: true }));
    const call = async (method, path, token, body) => {
      const res = await fetch(path, {
        method,
        headers: Object.assign({ 'content-type': 'application/json' }, token ? { authorization: 'Bearer ' + token } : {}),
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const json = await res.json();
      if (!res.ok) throw new Error(method + ' ' + path + ': ' + res.status + ' ' + JSON.stringify(json));
      return json;
    };
    const reg = await call('POST', '/_matrix/client/v3/register', undefined, {
      username: 'bench' + Math.random().toString(36).slice(2, 8),
      password: 'bench-password',
      auth: { type: 'm.login.dummy' },
    });
    const token = reg.access_token;
    const room = (await call('POST', '/_matrix/client/v3/createRoom', token, {})).room_id;
    let since = (await call('GET', '/_matrix/client/v3/sync?timeout=0', token)).next_batch;
    const out = [];
    for (let i = 0; i < n; i++) {
      await call('PUT', '/_matrix/client/v3/rooms/' + encodeURIComponent(room) + '/send/m.room.message/b' + i, token, { msgtype: 'm.text', body: 'b' + i });
      const t0 = performance.now();
      const s = await call('GET', '/_matrix/client/v3/sync?since=' + since + '&timeout=0', token);
      out.push(performance.now() - t0);
      if (!JSON.stringify(s.rooms).includes('"b' + i + '"')) throw new Error('the incremental sync did not carry the new event');
      since = s.next_batch;
    }
    return out;
  })(${samples})`;
  return (await page.evaluate(script)) as number[];
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Starts `scripts/app-server.ts --preview` (relay + build + vite preview) in its own process group. */
export async function startAppServer(port: number): Promise<{ child: ChildProcess; stop: () => Promise<void> }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'scripts/app-server.ts', '--preview', '--port', String(port), '--relay-port', '0'],
    { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      return;
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }, 5_000);
    await exited;
    clearTimeout(timer);
  };
  let log = '';
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`app server did not start in 180 s:\n${log.slice(-2000)}`)), 180_000);
      const onData = (d: Buffer) => {
        log += d.toString();
        if (log.includes('Hearth is running')) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', (d: Buffer) => {
        log += d.toString();
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`app server exited (${code}) before it was ready:\n${log.slice(-2000)}`));
      });
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { child, stop };
}

/** Gzip sizes of a production build, made in a temporary directory of its own. */
export async function initialJsSizes(): Promise<{ initial: number; files: string[]; worker: number; lazy: number }> {
  const outDir = await mkdtemp(join(tmpdir(), 'hearth-size-'));
  await build({ logLevel: 'warn', build: { outDir, emptyOutDir: true } });
  const dist = pathToFileURL(`${outDir}/`);
  const html = readFileSync(new URL('index.html', dist), 'utf8');
  const files = new Set<string>();
  for (const m of html.matchAll(/<script\b[^>]*\bsrc="([^"]+)"/g)) files.add(m[1]!);
  for (const m of html.matchAll(/<link\b[^>]*\brel="modulepreload"[^>]*\bhref="([^"]+)"/g)) files.add(m[1]!);
  for (const m of html.matchAll(/<link\b[^>]*\bhref="([^"]+)"[^>]*\brel="modulepreload"/g)) files.add(m[1]!);
  const gz = (rel: string) => gzipSync(readFileSync(new URL(rel.replace(/^\//, ''), dist))).length;
  let initial = 0;
  for (const f of files) initial += gz(f);
  const assets = readdirSync(new URL('assets/', dist)).filter((f) => f.endsWith('.js'));
  const sum = (names: string[]) => names.reduce((n, f) => n + gz(`assets/${f}`), 0);
  const worker = sum(assets.filter((f) => f.includes('worker')));
  const lazy = sum(assets.filter((f) => !f.includes('worker') && ![...files].some((x) => x.endsWith(`/${f}`))));
  if ([...files].some((f) => /EventGraph/i.test(f))) throw new Error('the event-graph chunk is in the initial JS');
  return { initial, files: [...files], worker, lazy };
}

const TIMELINE = '[role="log"][aria-label="Timeline"]';

async function onboard(page: Page, baseUrl: string, displayName: string): Promise<string> {
  await page.goto(baseUrl);
  await page.getByRole('textbox', { name: 'Display name' }).fill(displayName);
  await page.getByRole('button', { name: 'Start' }).click();
  const id = page.getByLabel('Your user ID').filter({ hasText: /^@[^:]+:.+$/ });
  await id.waitFor({ timeout: 60_000 });
  await page.getByText(/relay connected/).first().waitFor({ timeout: 60_000 });
  return ((await id.textContent()) ?? '').trim();
}

async function createRoom(page: Page, name: string): Promise<void> {
  await page.getByRole('button', { name: 'New room' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByRole('textbox', { name: 'Room name' }).fill(name);
  await dialog.getByRole('button', { name: 'Create' }).click();
  await page.getByRole('heading', { level: 2, name, exact: true }).waitFor({ timeout: 30_000 });
}

async function invite(from: Page, to: Page, toId: string, room: string): Promise<void> {
  await from.getByRole('button', { name: 'Invite', exact: true }).click();
  await from.getByRole('textbox', { name: 'User ID' }).fill(toId);
  await from.getByRole('button', { name: 'Send invite' }).click();
  await to.getByRole('button', { name: 'Accept', exact: true }).click({ timeout: 60_000 });
  await to.getByRole('heading', { level: 2, name: room, exact: true }).waitFor({ timeout: 60_000 });
}

/** Page A: stamp every Enter keydown (capture phase, before the composer handles it). */
function installSenderStamp(page: Page): Promise<void> {
  return page.evaluate(() => {
    const w = window as unknown as { __enterAt: number[] };
    w.__enterAt = [];
    document.addEventListener(
      'keydown',
      (e) => {
        if (e.key === 'Enter' && !e.shiftKey) w.__enterAt.push(performance.timeOrigin + performance.now());
      },
      { capture: true },
    );
  });
}

/** Page B: stamp the first DOM mutation after which the Timeline holds each awaited token. */
function installReceiverStamp(page: Page): Promise<void> {
  return page.evaluate((sel) => {
    const w = window as unknown as { __await: Set<string>; __seenAt: Record<string, number> };
    w.__await = new Set();
    w.__seenAt = {};
    new MutationObserver(() => {
      if (w.__await.size === 0) return;
      const now = performance.timeOrigin + performance.now();
      const text = document.querySelector(sel)?.textContent ?? '';
      for (const t of w.__await) {
        if (text.includes(t)) {
          w.__seenAt[t] = now;
          w.__await.delete(t);
        }
      }
    }).observe(document.body, { childList: true, subtree: true, characterData: true });
  }, TIMELINE);
}

async function sendOne(a: Page, b: Page, token: string): Promise<{ latency: number; echo: number }> {
  for (const p of [a, b]) await p.evaluate((t) => (window as unknown as { __await: Set<string> }).__await.add(t), token);
  const box = a.getByRole('textbox', { name: 'Message' });
  await box.fill(token);
  const before = await a.evaluate(() => (window as unknown as { __enterAt: number[] }).__enterAt.length);
  await box.press('Enter');
  const seen = await b.waitForFunction(
    (t) => (window as unknown as { __seenAt: Record<string, number> }).__seenAt[t],
    token,
    { timeout: 30_000, polling: 20 },
  );
  const seenAt = (await seen.jsonValue()) as number;
  const sentAt = await a.evaluate((i) => (window as unknown as { __enterAt: number[] }).__enterAt[i]!, before);
  // A's own echo (its worker signed and committed it): waited for too, so the next message starts quiet.
  const echo = await a.waitForFunction(
    (t) => (window as unknown as { __seenAt: Record<string, number> }).__seenAt[t],
    token,
    { timeout: 30_000, polling: 20 },
  );
  return { latency: seenAt - sentAt, echo: ((await echo.jsonValue()) as number) - sentAt };
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

/**
 * Returning person: about:blank (worker and lock go), then page.goto until the composer is usable.
 * Also stamps, in the new document (performance.now() counts from its navigation start), when the
 * composer first became usable and when the relay first showed connected.
 */
async function navigateToUsable(page: Page, url: string): Promise<{ usable: number; peer: number; composerAt: number; relayAt: number }> {
  await page.goto('about:blank');
  await new Promise((r) => setTimeout(r, 500)); // the Web Lock is released ~100 ms after the page goes
  const t0 = performance.now();
  await page.goto(url, { waitUntil: 'commit' });
  const stamps = await page.waitForFunction(
    () => {
      const w = window as unknown as { __composerAt?: number; __relayAt?: number };
      const box = document.querySelector('textarea[aria-label="Message"]') as HTMLTextAreaElement | null;
      if (box && !box.disabled && box.offsetParent !== null) w.__composerAt ??= performance.now();
      if (/relay connected/.test((document.body.textContent ?? ''))) w.__relayAt ??= performance.now();
      return w.__composerAt !== undefined && w.__relayAt !== undefined ? { composerAt: w.__composerAt, relayAt: w.__relayAt } : false;
    },
    undefined,
    { timeout: 60_000, polling: 'raf' },
  );
  const usable = performance.now() - t0;
  const { composerAt, relayAt } = (await stamps.jsonValue()) as { composerAt: number; relayAt: number };
  await page.waitForFunction(() => /relay connected, [1-9]\d* peers?/.test((document.body.textContent ?? '')), undefined, {
    timeout: 60_000,
    polling: 'raf',
  });
  return { usable, peer: performance.now() - t0, composerAt, relayAt };
}

/**
 * One retry: `--preview` builds into the shared dist/, so a concurrent build (a browser-test run)
 * can pull the files from under a running preview server.
 */
export async function benchTabLatency(messages = 40, navRuns = 5): Promise<TabBench> {
  try {
    return await tabRun(messages, navRuns);
  } catch (err) {
    console.error(`tab benchmark failed, retrying once: ${(err as Error).message.split('\n')[0]}`);
    return await tabRun(messages, navRuns);
  }
}

async function tabRun(messages: number, navRuns: number): Promise<TabBench> {
  const port = await freePort();
  const server = await startAppServer(port);
  let browser: Browser | undefined;
  try {
    const sizes = await initialJsSizes();
    const base = `http://127.0.0.1:${port}/`;
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
    const ctxA = await browser.newContext();
    const ctxB = await browser.newContext();
    const a = await ctxA.newPage();
    const b = await ctxB.newPage();
    const [, bId] = await Promise.all([onboard(a, base, 'alice'), onboard(b, base, 'bob')]);
    // Both homeservers must know each other (discovery through the relay) before the invite can travel.
    for (const p of [a, b]) await p.getByText(/relay connected, [1-9]\d* peers?/).first().waitFor({ timeout: 60_000 });
    const room = 'Latency';
    await createRoom(a, room);
    await invite(a, b, bId, room);
    await installSenderStamp(a);
    await installReceiverStamp(a);
    await installReceiverStamp(b);
    // Warm-up: the first messages pay for the mesh forming on the room topic.
    for (let i = 0; i < 3; i++) await sendOne(a, b, `warmup-${i}-${Math.random().toString(36).slice(2, 8)}`);
    const lat: number[] = [];
    const echo: number[] = [];
    for (let i = 0; i < messages; i++) {
      const r = await sendOne(a, b, `lat-${i}-${Math.random().toString(36).slice(2, 8)}`);
      lat.push(r.latency);
      echo.push(r.echo);
    }

    const roomUrl = b.url();
    const usable: number[] = [];
    const peer: number[] = [];
    const composerAt: number[] = [];
    const relayAt: number[] = [];
    for (let i = 0; i < navRuns; i++) {
      const r = await navigateToUsable(b, roomUrl);
      usable.push(r.usable);
      peer.push(r.peer);
      composerAt.push(r.composerAt);
      relayAt.push(r.relayAt);
    }
    const sw = await swSyncRoundTrips(a, 40);
    await ctxA.close();
    await ctxB.close();
    return {
      swSyncP50: quantile(sw, 0.5),
      swSyncP95: quantile(sw, 0.95),
      swSyncSamples: sw.length,
      p50: quantile(lat, 0.5),
      p95: quantile(lat, 0.95),
      samples: lat.length,
      echoP50: quantile(echo, 0.5),
      pageToUsableMs: quantile(usable, 0.5),
      pageToUsableRuns: usable,
      pageToPeerMs: quantile(peer, 0.5),
      composerAtMs: quantile(composerAt, 0.5),
      relayAtMs: quantile(relayAt, 0.5),
      initialJsGzipBytes: sizes.initial,
      initialJsFiles: sizes.files,
      workerJsGzipBytes: sizes.worker,
      lazyJsGzipBytes: sizes.lazy,
    };
  } finally {
    await browser?.close().catch(() => undefined);
    await server.stop();
  }
}

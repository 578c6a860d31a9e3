/**
 * The app in Debian's Chromium against the real relay: two homeservers in
 * two browser contexts (two people's browsers), driven through the UI by
 * accessible names, as the browser tests do.
 *
 * - Tab-to-tab message latency, stage by stage, on the relay and over a
 *   direct WebRTC link: bench/latency.ts (fresh tabs for each link).
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
import { gzipSync } from 'node:zlib';
import { type Browser, type Page, chromium } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../scripts/chromium.ts';
import { freePort } from '../test/helpers/free-port.ts';
import { type LatencyPhase, latencyPhase, quantile, twoPeopleInARoom } from './latency.ts';

const ROOT = new URL('../', import.meta.url);

export interface TabBench {
  /** Message latency between two tabs, stage by stage (bench/latency.ts): on the relay, and over a direct WebRTC link. */
  relay: LatencyPhase;
  direct?: LatencyPhase;
  /** Why the direct phase has no figures, if it failed. */
  directError?: string;
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
    const relay = await latencyPhase(browser, base, 'relay', messages);
    let direct: LatencyPhase | undefined;
    let directError: string | undefined;
    try {
      direct = await latencyPhase(browser, base, 'direct', messages);
    } catch (err) {
      directError = (err as Error).message.split('\n')[0];
    }
    const ctxA = await browser.newContext();
    const ctxB = await browser.newContext();
    const { a, b } = await twoPeopleInARoom(ctxA, ctxB, base);

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
      relay,
      ...(direct ? { direct } : {}),
      ...(directError ? { directError } : {}),
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

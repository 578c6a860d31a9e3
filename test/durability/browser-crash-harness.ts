/**
 * Crash consistency in the browser, proven by crashing: the app's own
 * homeserver (the real homeserver Web Worker on Chromium's IndexedDB, in a
 * persistent profile on disk) under load — local sends through its
 * Client-Server API (the Service Worker door) and ingest of a peer's
 * messages over libp2p — crashed at seeded random moments, alternately:
 *
 * - worker: the homeserver worker ends itself (`self.close()` evaluated in it
 *   through the DevTools protocol; CDP cannot close a dedicated worker
 *   target): its pending tasks are dropped and its open transactions never
 *   commit, as when the page terminates it;
 * - tab: the renderer is crashed (`Page.crash` on the page's CDP session),
 *   taking the page and its workers with it;
 * - browser (only when asked for: `modes`): the whole Chromium is SIGKILLed
 *   (its main process, by PID) and launched again on the profile.
 *
 * After every crash, before the app runs again:
 *
 * 1. no partial event: the profile's homeserver database, checked in the
 *    browser from a page of the origin that runs no app, with the current
 *    store code (store-check-page.ts, bundled by Vite for the page:
 *    `openIdbStore` on Chromium's IndexedDB), passes `checkStoreConsistency`
 *    (state groups, DAG edges, extremities);
 * 2. no acknowledged event lost: every event whose PUT /send answered 200
 *    (the acknowledgement a client gets: the promise of its send resolved)
 *    is in it; and so is every peer event the victim acknowledged over
 *    federation — those of the peer's sends that are no longer pending for
 *    the victim in the peer's outbox (read from the peer's IndexedDB right
 *    after the crash): an entry leaves it only when the victim answered the
 *    transaction 200, or demonstrably holds the event (outbox.ts).
 *
 * Then the app is opened again on the same profile (time to reopen: page
 * load → its homeserver answers /whoami through the Service Worker), the
 * sends that got no answer are retried with their transaction IDs (and two
 * acknowledged ones, which must answer the same event), and with the load
 * paused the room must converge with the peer: the same message event IDs
 * (/messages, all pages) and the same state (/state) on both.
 *
 * The peer is a second Chromium (another person's browser) running the app,
 * joined to the room through the app server's relay. Used by
 * e2e/durability-crash.spec.ts (3 crashes) and bench/browser-crash-soak.ts (20).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, type BrowserContext, type Page, chromium } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../scripts/chromium.ts';
import { DB_PREFIX } from '../../src/app/service.ts';
import { mulberry32 } from '../../src/sim/prng.ts';
import { inPage } from '../helpers/idb-dump.ts';
import { pageBundle } from '../helpers/page-bundle.ts';
import type { PageStoreCheck, check } from './store-check-page.ts';
import { type ApiCall, CrashLoad, type CrashFindings, type CrashHarnessOptions, percentiles, retryAndConverge, sleep } from './crash-harness.ts';

/** worker: the homeserver worker ends; tab: the renderer crashes; browser: the whole Chromium is SIGKILLed. */
export type CrashMode = 'worker' | 'tab' | 'browser';

/** The load and timing options are the Node harness's (upMs: how long the victim runs before each crash). */
export interface BrowserCrashOptions extends Omit<CrashHarnessOptions, 'kills'> {
  /** The app server (scripts/app-server.ts --preview), e.g. http://127.0.0.1:4314. */
  baseURL: string;
  crashes: number;
  /** The crash modes, taken in turn (default worker, tab). */
  modes?: CrashMode[];
}

export interface CrashRecord {
  mode: CrashMode;
  upMs: number;
  inFlight: number;
  /** Page load → the reopened homeserver answers. */
  reopenMs: number;
  convergeMs: number;
}

export interface BrowserCrashResult extends CrashFindings {
  crashes: number;
  byMode: Record<CrashMode, number>;
  /** Peer events the victim had acknowledged over federation at a crash (the last crash's count); `lost` includes any of them missing. */
  federationAcknowledged: number;
  /** Events in the database after the last crash (all rooms). */
  storedEvents: number;
  perCrash: CrashRecord[];
  reopenMs: { p50: number; p95: number; max: number };
}

// biome-ignore lint/suspicious/noExplicitAny: responses are read ad hoc
type Json = any;

/** A Client-Server API call from inside `page` (so through its Service Worker to its homeserver). */
function pageCall(page: () => Page, timeoutMs = 20_000): ApiCall {
  return (method, path, body, token) =>
    page().evaluate(
      async ({ method, path, body, token, timeoutMs }) => {
        const headers: Record<string, string> = {};
        if (body !== undefined) headers['content-type'] = 'application/json';
        if (token) headers.authorization = `Bearer ${token}`;
        const res = await fetch(`/_matrix/client/v3${path}`, {
          method,
          headers,
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
          signal: AbortSignal.timeout(timeoutMs),
        });
        const text = await res.text();
        let json: unknown = text;
        try {
          json = JSON.parse(text);
        } catch {
          // not JSON: kept as text
        }
        return { status: res.status, json: json as Json };
      },
      { method, path, body, token, timeoutMs },
    );
}

/** Until the page is controlled by the app's Service Worker (the door to its homeserver). */
async function controlled(page: Page): Promise<void> {
  await page.evaluate(async () => {
    const sw = navigator.serviceWorker;
    await sw.ready;
    if (!sw.controller) await new Promise((r) => sw.addEventListener('controllerchange', r, { once: true }));
  });
}

/** Opens the app in `page` and waits until its homeserver answers `probe` with 200 (or any answer but 503/404 when no probe). */
async function openApp(page: Page, call: ApiCall, token?: string, timeoutMs = 90_000): Promise<void> {
  await page.goto('/');
  await controlled(page);
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const r = await (token ? call('GET', '/account/whoami', undefined, token) : call('GET', '/../versions')).catch((e: unknown) => ({
      status: 0,
      json: String(e),
    }));
    if (r.status === 200) return;
    last = `${r.status} ${JSON.stringify(r.json).slice(0, 200)}`;
    if (Date.now() > deadline) throw new Error(`the app's homeserver did not answer in ${timeoutMs} ms: ${last}`);
    await sleep(200);
  }
}

async function okCall(call: ApiCall, method: string, path: string, body?: unknown, token?: string): Promise<Json> {
  const r = await call(method, path, body, token);
  if (r.status !== 200) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json;
}

async function register(call: ApiCall, username: string): Promise<{ userId: string; token: string }> {
  const r = await okCall(call, 'POST', '/register', { username, password: 'correct horse battery staple', auth: { type: 'm.login.dummy' } });
  return { userId: r.user_id, token: r.access_token };
}

/**
 * Takes `page` to a document of the origin that runs no app (a JSON file), so
 * nothing has the homeserver's database open, and returns that database's name.
 */
async function leaveApp(page: Page): Promise<string> {
  await page.goto('/hearth-config.json');
  const names = (await page.evaluate(inPage.list(DB_PREFIX))) as string[];
  if (names.length !== 1) throw new Error(`expected one homeserver database in the profile, found ${JSON.stringify(names)}`);
  return names[0]!;
}

/** store-check-page.ts bundled into one script (global `hearthStoreCheck`) for a page. */
export function storeCheckScript(): Promise<string> {
  return pageBundle(new URL('./store-check-page.ts', import.meta.url), 'hearthStoreCheck');
}

/** Checks database `dbName` in `page` (left by leaveApp) with the current store code, on the browser's IndexedDB. */
export async function checkInPage(page: Page, script: string, dbName: string, expected: string[]): Promise<PageStoreCheck> {
  await page.addScriptTag({ content: script });
  return page.evaluate(
    ({ dbName, expected }) => (globalThis as unknown as { hearthStoreCheck: { check: typeof check } }).hearthStoreCheck.check(dbName, expected),
    { dbName, expected },
  );
}

/** The event IDs `page`'s homeserver still has to deliver to `destination` (its outbox, read from its database). */
async function pendingFor(page: Page, destination: string): Promise<Set<string>> {
  const ids = await page.evaluate(
    async ({ prefix, destination }) => {
      const [info] = (await indexedDB.databases()).filter((d) => d.name?.startsWith(prefix));
      if (!info?.name) throw new Error('no homeserver database');
      const open = indexedDB.open(info.name);
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        open.onsuccess = () => resolve(open.result);
        open.onerror = () => reject(open.error);
      });
      try {
        const get = db.transaction('outbox').objectStore('outbox').getAll();
        const entries = await new Promise<{ destination: string; kind: string; event_id?: string }[]>((resolve, reject) => {
          get.onsuccess = () => resolve(get.result);
          get.onerror = () => reject(get.error);
        });
        return entries.filter((e) => e.destination === destination && e.kind === 'pdu' && e.event_id).map((e) => e.event_id as string);
      } finally {
        db.close();
      }
    },
    { prefix: DB_PREFIX, destination },
  );
  return new Set(ids);
}

/**
 * SIGKILLs the victim's whole Chromium: its main process, found by the
 * profile directory this harness created (only the browser process of that
 * profile is not the child of another process with it), by PID.
 */
async function killBrowser(profile: string, context: BrowserContext): Promise<void> {
  const closed = new Promise<void>((resolve) => context.once('close', () => resolve()));
  const out = execFileSync('ps', ['-eo', 'pid=,ppid=,args='], { encoding: 'utf8', maxBuffer: 16 << 20 });
  const procs = out
    .split('\n')
    .map((l) => l.trim().match(/^(\d+)\s+(\d+)\s+(.*)$/))
    .filter((m): m is RegExpMatchArray => m !== null)
    .map((m) => ({ pid: Number(m[1]), ppid: Number(m[2]), args: m[3]! }));
  const ofProfile = procs.filter((p) => p.args.includes(`--user-data-dir=${profile}`));
  const pids = new Set(ofProfile.map((p) => p.pid));
  const main = ofProfile.filter((p) => !pids.has(p.ppid));
  if (main.length !== 1) throw new Error(`expected one browser process for ${profile}, found ${main.length}`);
  process.kill(main[0]!.pid, 'SIGKILL');
  await Promise.race([closed, sleep(30_000).then(() => Promise.reject(new Error('the killed browser did not close in 30 s')))]);
}

/** Crashes the victim: its homeserver worker ends itself, or its renderer is crashed. */
async function crash(context: BrowserContext, page: Page, mode: 'worker' | 'tab'): Promise<void> {
  if (mode === 'tab') {
    const crashed = page.waitForEvent('crash', { timeout: 30_000 });
    const cdp = await context.newCDPSession(page);
    void cdp.send('Page.crash').catch(() => undefined); // never answers: the renderer is gone
    await crashed;
    return;
  }
  const worker = page.workers().find((w) => w.url().includes('homeserver'));
  if (!worker) throw new Error(`no homeserver worker in the page (workers: ${page.workers().map((w) => w.url()).join(', ')})`);
  const closed = new Promise<void>((resolve) => worker.once('close', () => resolve()));
  void worker.evaluate('self.close()').catch(() => undefined);
  await Promise.race([closed, sleep(30_000).then(() => Promise.reject(new Error('the homeserver worker did not end in 30 s')))]);
}

export async function runBrowserCrashHarness(opts: BrowserCrashOptions): Promise<BrowserCrashResult> {
  const began = performance.now();
  const log = opts.log ?? (() => {});
  const rand = mulberry32(opts.seed);
  const [upMin, upMax] = opts.upMs ?? [300, 2000];
  const concurrency = opts.concurrency ?? 3;
  const peerIntervalMs = opts.peerIntervalMs ?? 100;
  const convergeTimeoutMs = opts.convergeTimeoutMs ?? 90_000;
  const modes = opts.modes ?? ['worker', 'tab'];

  const profile = mkdtempSync(join(tmpdir(), 'hearth-crash-profile-'));
  let victimCtx: BrowserContext | undefined;
  let peerBrowser: Browser | undefined;

  const acked = new Set<string>();
  const ackedTxns = new Map<string, string>();
  const unanswered = new Set<string>();
  const lost: string[] = [];
  const inconsistencies: string[] = [];
  const divergences: string[] = [];
  const txnProblems: string[] = [];
  const perCrash: CrashRecord[] = [];
  const byMode: Record<CrashMode, number> = { worker: 0, tab: 0, browser: 0 };
  let storedEvents = 0;
  let federationAcknowledged = 0;

  try {
    const checkScript = await storeCheckScript();
    const launch = { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS };
    victimCtx = await chromium.launchPersistentContext(profile, { ...launch, baseURL: opts.baseURL });
    peerBrowser = await chromium.launch(launch);
    const peerCtx = await peerBrowser.newContext({ baseURL: opts.baseURL });
    let victimPage = victimCtx.pages()[0] ?? (await victimCtx.newPage());
    const peerPage = await peerCtx.newPage();
    const victim = pageCall(() => victimPage);
    const peer = pageCall(() => peerPage);

    await Promise.all([openApp(victimPage, victim), openApp(peerPage, peer)]);
    const [alice, bob] = await Promise.all([register(victim, 'alice'), register(peer, 'bob')]);
    const victimServer = alice.userId.split(':').slice(1).join(':');
    const { room_id: roomId } = await okCall(victim, 'POST', '/createRoom', { preset: 'public_chat', name: 'Crash test' }, alice.token);
    // The join goes through the relay: both tabs need their reservations first.
    const joinDeadline = Date.now() + 90_000;
    for (;;) {
      const r = await peer('POST', `/join/${encodeURIComponent(roomId)}?server_name=${encodeURIComponent(victimServer)}`, {}, bob.token).catch(
        (e: unknown) => ({ status: 0, json: String(e) }),
      );
      if (r.status === 200) break;
      if (Date.now() > joinDeadline) throw new Error(`the peer could not join ${roomId}: ${r.status} ${JSON.stringify(r.json)}`);
      await sleep(500);
    }
    log(`seed ${opts.seed}: room ${roomId} on ${victimServer}`);

    const load = new CrashLoad({
      victim: { call: victim, token: alice.token },
      peer: { call: peer, token: bob.token },
      roomId,
      concurrency,
      peerIntervalMs,
      acked,
      ackedTxns,
      unanswered,
    });

    const reopenMs: number[] = [];
    const convergeMs: number[] = [];
    for (let k = 1; k <= opts.crashes; k++) {
      const mode: CrashMode = modes[(k - 1) % modes.length]!;
      const upMs = Math.round(upMin + rand() * (upMax - upMin));
      const stopLoad = load.start();
      await sleep(upMs);
      const pending = load.inFlight;
      const peerKnown = [...load.peerEvents];
      if (mode === 'browser') await killBrowser(profile, victimCtx);
      else await crash(victimCtx, victimPage, mode);
      byMode[mode]++;
      const stopped = stopLoad();
      // What the victim had acknowledged over federation: nothing can leave the outbox now that it is down.
      const stillPending = await pendingFor(peerPage, victimServer);
      const fedAcked = peerKnown.filter((id) => !stillPending.has(id));
      federationAcknowledged = fedAcked.length;
      if (mode === 'browser') {
        victimCtx = await chromium.launchPersistentContext(profile, { ...launch, baseURL: opts.baseURL });
        victimPage = victimCtx.pages()[0] ?? (await victimCtx.newPage());
      } else if (mode === 'tab') {
        await victimPage.close().catch(() => undefined);
        victimPage = await victimCtx.newPage();
      }

      // (1) and (2): the database as the crash left it, before the app opens it again, checked in the
      // browser. (Leaving the app's page also ends the sends a closed worker would leave hanging; an
      // answer produced before the crash may still arrive until then, so the list is made after.)
      const dbName = await leaveApp(victimPage);
      await stopped;
      const expected = [...new Set([...acked, ...fedAcked])];
      const found = await checkInPage(victimPage, checkScript, dbName, expected);
      for (const line of found.inconsistencies) inconsistencies.push(`crash ${k} (${mode}): ${line}`);
      storedEvents = found.events;
      for (const id of found.missing) {
        if (!lost.includes(id)) lost.push(id);
        acked.delete(id); // reported once
      }

      // (3): reopen the app on the same profile, retry, converge.
      const t0 = performance.now();
      await openApp(victimPage, victim, alice.token);
      const reopened = performance.now() - t0;
      reopenMs.push(reopened);

      const { retried, converged, convergeMs: converging, last } = await retryAndConverge({
        what: `crash ${k} (${mode})`,
        rand,
        sendLocal: (id) => load.sendLocal(id),
        unanswered,
        acked,
        ackedTxns,
        txnProblems,
        victim: { call: victim, token: alice.token },
        peer: { call: peer, token: bob.token },
        roomId,
        timeoutMs: convergeTimeoutMs,
        pollMs: 300,
      });
      if (converged) convergeMs.push(converging);
      else divergences.push(`crash ${k} (${mode}): no convergence in ${convergeTimeoutMs} ms (${last})`);
      perCrash.push({ mode, upMs, inFlight: pending, reopenMs: Math.round(reopened), convergeMs: Math.round(converging) });
      log(
        `crash ${k}/${opts.crashes} (${mode}) after ${upMs} ms up, ${pending} sends in flight: ${acked.size} local sends acknowledged so far, ${fedAcked.length} of ${peerKnown.length} peer events acknowledged, ${storedEvents} events stored; lost ${lost.length}, partial ${inconsistencies.length}, txn problems ${txnProblems.length}; retried ${retried.size}; reopen ${Math.round(reopened)} ms; ${converged ? `converged in ${Math.round(converging)} ms` : `DIVERGED (${last})`}`,
      );
    }

    return {
      seed: opts.seed,
      crashes: opts.crashes,
      byMode,
      acknowledged: acked.size + lost.length,
      peerSent: load.peerEvents.size,
      federationAcknowledged,
      lost,
      inconsistencies,
      divergences,
      txnProblems,
      storedEvents,
      perCrash,
      reopenMs: percentiles(reopenMs),
      convergeMs: percentiles(convergeMs),
      wallMs: Math.round(performance.now() - began),
    };
  } finally {
    await victimCtx?.close().catch(() => undefined);
    await peerBrowser?.close().catch(() => undefined);
    rmSync(profile, { recursive: true, force: true });
  }
}

/**
 * Message latency across network namespaces (issue 20): the lab of
 * scripts/netns-hearth.ts — relay, `hearth serve`, and two Chromiums, each
 * in its own network stack, joined by a bridge — and three figures:
 *
 * - browser → browser via the relay: A's and B's pages have no
 *   RTCPeerConnection (removed before the app loads), so their homeservers
 *   stay on the circuit relay in its own namespace;
 * - browser → browser over a direct WebRTC link: fresh people whose tabs
 *   upgrade to a data channel across the bridge, then cut their relays so
 *   only the direct link carries the messages;
 * - hearth serve → browser via the relay: Carol's message, sent through
 *   hearth serve's Client-Server API, until it is in Alice's Timeline.
 *
 * Stamps: `performance.timeOrigin + performance.now()` in the sender (the
 * Enter keydown, capture phase; for Carol, just before the HTTP request) and
 * in the receiver (the first DOM mutation after which its Timeline holds the
 * text). One machine, one clock, whatever the namespaces. Messages go one at
 * a time, each after the last arrived, after three warm-up messages.
 *
 *   node --import tsx bench/netns.ts [--messages N] [--json]
 *
 * Needs root (`ip netns add`); says so and exits 0 where namespaces cannot be
 * made. `npm run bench` runs it (bench/run.ts) when they can.
 */
import '../src/platform/node-polyfills.ts';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Browser, BrowserContext, Page } from '@playwright/test';
import { type HearthLab, ServeUser, startHearthLab } from '../scripts/netns-hearth.ts';
import { namespaceSupport } from '../scripts/netns.ts';
import { freePort } from '../test/helpers/hearth-process.ts';
import type { BenchResult } from './core.ts';
import { startAppServer } from './tabs.ts';

export interface LatencyFigures {
  p50: number;
  p95: number;
  samples: number;
  /** Messages not seen within LOST_MS (counted as infinitely late in the quantiles). */
  lost: number;
}

export interface NetnsBench {
  relay: LatencyFigures;
  direct: LatencyFigures;
  serveToBrowser: LatencyFigures;
  /** What A's Network panel said about its link to B in each browser phase. */
  links: { relay: string; direct: string };
  /** 1-minute load average at the start and the end (figures on a busy 2-core machine stretch with it). */
  load: [number, number];
}

const TIMELINE = '[role="log"][aria-label="Timeline"]';

function figures(xs: number[]): LatencyFigures {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
  return { p50: q(0.5), p95: q(0.95), samples: s.length, lost: s.filter((x) => !Number.isFinite(x)).length };
}

/** A person's browser context; with `noRtc` the page has no RTCPeerConnection, so the homeserver stays relayed. */
async function personIn(browser: Browser, base: string, name: string, noRtc: boolean): Promise<{ ctx: BrowserContext; page: Page; id: string }> {
  const ctx = await browser.newContext({ baseURL: base });
  if (noRtc) await ctx.addInitScript(() => Object.defineProperty(globalThis, 'RTCPeerConnection', { value: undefined, configurable: true }));
  const page = await ctx.newPage();
  await page.goto('/');
  await page.getByRole('textbox', { name: 'Display name' }).fill(name);
  await page.getByRole('button', { name: 'Start' }).click();
  const id = page.getByLabel('Your user ID').filter({ hasText: /^@[^:]+:.+$/ });
  await id.waitFor({ timeout: 60_000 });
  // Met the other homeservers (discovery through the relay) before any invite.
  await page.getByText(/relay connected, [1-9]\d* peers?/).first().waitFor({ timeout: 120_000 });
  return { ctx, page, id: ((await id.textContent()) ?? '').trim() };
}

/** `from` makes a room and invites each of `to` (browser people accept; `serve` users join by API). */
async function roomOf(from: Page, name: string, to: { page?: Page; id: string; serve?: ServeUser }[]): Promise<string | undefined> {
  await from.getByRole('button', { name: 'New room' }).click();
  await from.getByRole('dialog').getByRole('textbox', { name: 'Room name' }).fill(name);
  // Unencrypted, as the figures recorded before the app encrypted private rooms by default (and Carol has no E2EE device).
  const encrypt = from.getByRole('dialog').getByRole('checkbox', { name: /Encrypt messages/ });
  if ((await encrypt.count()) > 0) await encrypt.uncheck();
  await from.getByRole('dialog').getByRole('button', { name: 'Create' }).click();
  await from.getByRole('heading', { level: 2, name, exact: true }).waitFor({ timeout: 30_000 });
  let serveRoom: string | undefined;
  for (const t of to) {
    await from.getByRole('button', { name: 'Invite', exact: true }).click();
    await from.getByRole('textbox', { name: 'User ID' }).fill(t.id);
    await from.getByRole('button', { name: 'Send invite' }).click();
    if (t.page) {
      await t.page.getByRole('button', { name: 'Accept', exact: true }).click({ timeout: 120_000 });
      await t.page.getByRole('heading', { level: 2, name, exact: true }).waitFor({ timeout: 120_000 });
    } else if (t.serve) {
      const deadline = Date.now() + 120_000;
      while (!serveRoom && Date.now() < deadline) {
        serveRoom = (await t.serve.invites())[0];
        if (!serveRoom) await new Promise((r) => setTimeout(r, 250));
      }
      if (!serveRoom) throw new Error('hearth serve never saw the invite');
      await t.serve.join(serveRoom);
    }
  }
  return serveRoom;
}

/** Stamps in the page: every Enter keydown (sender), and when each awaited text first shows in the Timeline (receiver). */
function installStamps(page: Page): Promise<void> {
  return page.evaluate((sel) => {
    const w = window as unknown as { __enters: number[]; __want: Set<string>; __seen: Record<string, number> };
    w.__enters = [];
    w.__want = new Set();
    w.__seen = {};
    // No named helper functions in here: tsx would wrap them in its own `__name`, unknown to the page.
    document.addEventListener('keydown', (e) => e.key === 'Enter' && !e.shiftKey && w.__enters.push(performance.timeOrigin + performance.now()), {
      capture: true,
    });
    new MutationObserver(() => {
      const at = performance.timeOrigin + performance.now();
      const text = w.__want.size ? (document.querySelector(sel)?.textContent ?? '') : '';
      for (const t of w.__want) {
        if (!text.includes(t)) continue;
        w.__seen[t] = at;
        w.__want.delete(t);
      }
    }).observe(document.body, { childList: true, subtree: true, characterData: true });
  }, TIMELINE);
}

async function want(page: Page, token: string): Promise<void> {
  await page.evaluate((t) => (window as unknown as { __want: Set<string> }).__want.add(t), token);
}

/** How long one message may take before it counts as lost (a loaded 2-core machine stretches everything). */
const LOST_MS = 120_000;

/** When `token` showed in the page's Timeline; undefined if it did not within LOST_MS. */
async function seenAt(page: Page, token: string): Promise<number | undefined> {
  const h = await page
    .waitForFunction((t) => (window as unknown as { __seen: Record<string, number> }).__seen[t], token, { timeout: LOST_MS, polling: 20 })
    .catch(() => undefined);
  return h ? ((await h.jsonValue()) as number) : undefined;
}

/** A → B through the composer, one at a time: Enter in A → text in B's Timeline (ms). */
async function browserToBrowser(a: Page, b: Page, messages: number): Promise<number[]> {
  for (const p of [a, b]) await installStamps(p);
  const out: number[] = [];
  for (let i = -3; i < messages; i++) {
    const token = `ns-${i < 0 ? 'warm' : 'lat'}-${i}-${Math.random().toString(36).slice(2, 8)}`;
    await want(b, token);
    const box = a.getByRole('textbox', { name: 'Message' });
    await box.fill(token);
    const n = await a.evaluate(() => (window as unknown as { __enters: number[] }).__enters.length);
    await box.press('Enter');
    const at = await seenAt(b, token);
    const sent = await a.evaluate((k) => (window as unknown as { __enters: number[] }).__enters[k]!, n);
    if (i >= 0) out.push(at === undefined ? Number.POSITIVE_INFINITY : at - sent);
  }
  return out;
}

/** Carol (hearth serve, Client-Server API) → A's Timeline (ms from just before the request). */
async function serveToBrowser(carol: ServeUser, roomId: string, a: Page, messages: number): Promise<number[]> {
  await installStamps(a);
  const out: number[] = [];
  for (let i = -3; i < messages; i++) {
    const token = `ns-serve-${i}-${Math.random().toString(36).slice(2, 8)}`;
    await want(a, token);
    const sent = performance.timeOrigin + performance.now();
    await carol.send(roomId, token);
    const at = await seenAt(a, token);
    if (i >= 0) out.push(at === undefined ? Number.POSITIVE_INFINITY : at - sent);
  }
  return out;
}

/** The link A's Network panel shows to the peer named `name`. */
async function linkTo(page: Page, name: string, want?: string): Promise<string> {
  const panel = page.getByRole('complementary', { name: 'Network' });
  if (!(await panel.isVisible())) await page.getByRole('button', { name: 'Network', exact: true }).click();
  const row = panel.getByRole('listitem').filter({ hasText: name });
  if (want) await row.filter({ hasText: want }).waitFor({ timeout: 120_000 });
  return ((await row.first().textContent()) ?? '').match(/(direct|relayed)/)?.[1] ?? 'unknown';
}

export async function benchNetns(messages = 30): Promise<NetnsBench> {
  const loadBefore = os.loadavg()[0]!;
  const port = await freePort();
  // A preview build on 127.0.0.1 (its own relay there goes unused); the lab's front passes requests to it.
  const app = await startAppServer(port);
  let lab: HearthLab | undefined;
  try {
    lab = await startHearthLab(`http://127.0.0.1:${port}`);
    const [ba, bb] = await Promise.all([lab.launchBrowser('alice'), lab.launchBrowser('bob')]);
    const carol = await ServeUser.register(lab.serveUrl, 'carol');

    // Relay: no WebRTC in the pages.
    const [a1, b1] = await Promise.all([personIn(ba, lab.front.url, 'alice', true), personIn(bb, lab.front.url, 'bob', true)]);
    const roomId = await roomOf(a1.page, 'Relayed', [{ page: b1.page, id: b1.id }, { id: carol.userId, serve: carol }]);
    const relayed = await browserToBrowser(a1.page, b1.page, messages);
    const relayLink = await linkTo(a1.page, 'bob');
    const fromServe = await serveToBrowser(carol, roomId!, a1.page, messages);
    await a1.ctx.close();
    await b1.ctx.close();

    // Direct: fresh people, a WebRTC link across the bridge, then no relay at all between them.
    const [a2, b2] = await Promise.all([personIn(ba, lab.front.url, 'alice2', false), personIn(bb, lab.front.url, 'bob2', false)]);
    await roomOf(a2.page, 'Direct', [{ page: b2.page, id: b2.id }]);
    await linkTo(a2.page, 'bob2', 'direct');
    await linkTo(b2.page, 'alice2', 'direct');
    for (const p of [a2.page, b2.page]) {
      await p.evaluate(() => (globalThis as unknown as { hearthWebrtc: { blockRelays(b: boolean): void } }).hearthWebrtc.blockRelays(true));
    }
    const direct = await browserToBrowser(a2.page, b2.page, messages);
    const directLink = await linkTo(a2.page, 'bob2');
    return {
      relay: figures(relayed),
      direct: figures(direct),
      serveToBrowser: figures(fromServe),
      links: { relay: relayLink, direct: directLink },
      load: [loadBefore, os.loadavg()[0]!],
    };
  } finally {
    await lab?.teardown();
    await app.stop();
  }
}

const f1 = (x: number) => x.toFixed(1);

/**
 * The rows `npm run bench` adds (bench/run.ts): the figures where namespaces can be made,
 * else one row saying why not (or why the run failed).
 */
export async function netnsRows(): Promise<BenchResult[]> {
  const unsupported = await namespaceSupport();
  if (unsupported) return [{ name: 'latency across network namespaces', value: Number.NaN, unit: '', detail: `skipped: ${unsupported}` }];
  try {
    const r = await benchNetns();
    const load = `load average ${r.load[0].toFixed(1)} → ${r.load[1].toFixed(1)}`;
    const row = (name: string, f: LatencyFigures, how: string): BenchResult => ({
      name: `across namespaces: ${name}, p50`,
      value: f.p50,
      unit: 'ms',
      detail: `p95 ${f1(f.p95)} ms over ${f.samples} messages${f.lost ? ` (${f.lost} not seen within ${LOST_MS / 1000} s)` : ''}; ${how}; ${load}`,
    });
    return [
      row('browser → browser via the relay', r.relay, `Enter in A → B's Timeline, link shown ${r.links.relay}`),
      row('browser → browser, direct WebRTC link', r.direct, `Enter in A → B's Timeline, link shown ${r.links.direct}, relays cut`),
      row('hearth serve → browser via the relay', r.serveToBrowser, "Client-Server API send → A's Timeline"),
    ];
  } catch (err) {
    return [{ name: 'latency across network namespaces', value: Number.NaN, unit: '', detail: `failed: ${(err as Error).message.split('\n')[0]}` }];
  }
}

/** The lines `npm run bench` and the standalone command print. */
export function netnsLines(r: NetnsBench): string[] {
  const row = (what: string, f: LatencyFigures) =>
    `${what}: p50 ${f1(f.p50)} ms, p95 ${f1(f.p95)} ms (${f.samples} messages${f.lost ? `, ${f.lost} not seen within ${LOST_MS / 1000} s` : ''})`;
  return [
    row(`browser → browser via the relay (link shown: ${r.links.relay})`, r.relay),
    row(`browser → browser over a direct WebRTC link (link shown: ${r.links.direct})`, r.direct),
    row('hearth serve → browser via the relay', r.serveToBrowser),
    `load average ${r.load[0].toFixed(1)} → ${r.load[1].toFixed(1)} (${os.cpus().length} cores)`,
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const unsupported = await namespaceSupport();
  if (unsupported) {
    console.log(`netns benchmark skipped: ${unsupported}`);
  } else {
    const i = process.argv.indexOf('--messages');
    const r = await benchNetns(i > 0 ? Number(process.argv[i + 1]) : 30);
    if (process.argv.includes('--json')) console.log(JSON.stringify(r, null, 2));
    else for (const l of netnsLines(r)) console.log(l);
  }
}

/**
 * Message latency between two app tabs, stage by stage (issue 16 item 1).
 *
 * Two people's browsers (two contexts), each with its homeserver worker; A
 * sends N messages to B one at a time through the composer. The pages and
 * workers record `performance.timeOrigin + performance.now()` at each stage
 * (src/server/latency-trace.ts, switched on by `__hearthLatencyTrace` before
 * the app loads); the bench stamps the keydown in A, and the first DOM
 * mutation and the next frame after it in each page. One machine, one clock:
 * the marks of different contexts line up to well under a millisecond.
 *
 * Two links, two phases with fresh tabs:
 * - relay: the pages have no RTCPeerConnection, so the tabs stay on the
 *   circuit relay (what a browser without WebRTC, or behind a hostile NAT, gets);
 * - direct: the tabs upgrade to a WebRTC data channel (src/app/webrtc-*), then
 *   both cut their relays so only the direct link carries the messages.
 *
 * Standalone: `node --import tsx bench/latency-cli.ts [--messages N] [--link relay|direct]`;
 * in `npm run bench` through bench/tabs.ts.
 */
import os from 'node:os';
import type { Browser, BrowserContext, Page } from '@playwright/test';
import type { TraceMark } from '../src/server/latency-trace.ts';

const TIMELINE = '[role="log"][aria-label="Timeline"]';

export type Link = 'relay' | 'direct';

/** Targets of issue 16 item 1 (ms), printed beside each figure. */
export const TARGETS = {
  echoPaint: 16,
  storedBroadcast: 20,
  relayP50: 50,
  directP50: 20,
};

export interface StageRow {
  stage: string;
  where: string;
  p50: number;
  p95: number;
  n: number;
}

export interface LatencyPhase {
  link: Link;
  /** Whether the room was end-to-end encrypted (Megolm encryption and decryption are then on the path). */
  encrypted: boolean;
  /** What the tabs' network panels said about their link to each other during the run. */
  links: string[];
  samples: number;
  /** Enter in A → text in B's Timeline (DOM), and → B's next frame. */
  tabToTab: number[];
  tabToTabPaint: number[];
  /** Enter in A → A's local echo in its DOM, and → A's next frame. */
  echoDom: number[];
  echoPaint: number[];
  /**
   * The echo's frame, split: Enter → the start of the frame that paints it (its
   * requestAnimationFrame time: the frame's vsync, so before Enter when the frame was due while
   * the keydown task still ran), and that start → painted (the frame's work).
   */
  echoFrameWait: number[];
  echoFrameWork: number[];
  /** Sends whose echo was in the first frame after it reached the DOM (that frame started < one frame interval after). */
  echoFirstFrame: number;
  /** Enter in A → A's worker has stored and published the event. */
  storedBroadcast: number[];
  stages: StageRow[];
  /** Who held A's room lock when a send asked for it (how many sends). */
  lockHolders: Record<string, number>;
  /** 1-minute load average before and after the phase. */
  load: [number, number];
}

async function onboard(page: Page, baseUrl: string, displayName: string): Promise<string> {
  await page.goto(baseUrl);
  await page.getByRole('textbox', { name: 'Display name' }).fill(displayName);
  await page.getByRole('button', { name: 'Start' }).click();
  const id = page.getByLabel('Your user ID').filter({ hasText: /^@[^:]+:.+$/ });
  await id.waitFor({ timeout: 60_000 });
  await page.getByText(/relay connected/).first().waitFor({ timeout: 60_000 });
  return ((await id.textContent()) ?? '').trim();
}

/**
 * Creates an unencrypted private room (the dialog's end-to-end encryption box unticked where it
 * offers one): the figures stay comparable with the ones before encryption existed, and
 * bench/e2ee-tabs.ts sets an encrypted room beside an unencrypted one. Returns whether the room
 * is encrypted all the same.
 */
async function createRoom(page: Page, name: string): Promise<boolean> {
  await page.getByRole('button', { name: 'New room' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByRole('textbox', { name: 'Room name' }).fill(name);
  const e2ee = dialog.getByRole('checkbox', { name: /Encrypt messages end to end/ });
  if ((await e2ee.count()) > 0) await e2ee.setChecked(false);
  const encrypted = (await e2ee.count()) > 0 && (await e2ee.isChecked());
  await dialog.getByRole('button', { name: 'Create' }).click();
  await page.getByRole('heading', { level: 2, name, exact: true }).waitFor({ timeout: 60_000 });
  return encrypted;
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

/** One frame at 60 Hz (ms): the echo is in "the next frame" when that frame started less than this after it reached the DOM. */
const FRAME_MS = 1000 / 60;

/**
 * Stamps the first DOM mutation after which the Timeline holds each awaited token, and the
 * frame after it: a requestAnimationFrame callback runs just before the frame is painted, and a
 * message posted from it is handled just after. The callback's own argument is the frame's start
 * (its vsync), stamped too.
 */
function installReceiverStamp(page: Page): Promise<void> {
  return page.evaluate((sel) => {
    const w = window as unknown as {
      __await: Set<string>;
      __seenAt: Record<string, number>;
      __paintAt: Record<string, number>;
      __frameAt: Record<string, number>;
    };
    w.__await = new Set();
    w.__seenAt = {};
    w.__paintAt = {};
    w.__frameAt = {};
    new MutationObserver(() => {
      if (w.__await.size === 0) return;
      const now = performance.timeOrigin + performance.now();
      const text = document.querySelector(sel)?.textContent ?? '';
      for (const t of w.__await) {
        if (!text.includes(t)) continue;
        w.__seenAt[t] = now;
        w.__await.delete(t);
        requestAnimationFrame((frameStart) => {
          w.__frameAt[t] = performance.timeOrigin + frameStart;
          const ch = new MessageChannel();
          ch.port1.onmessage = () => {
            w.__paintAt[t] = performance.timeOrigin + performance.now();
          };
          ch.port2.postMessage(0);
        });
      }
    }).observe(document.body, { childList: true, subtree: true, characterData: true });
  }, TIMELINE);
}

type Stamps = { enter: number; seenB: number; paintB: number; seenA: number; frameA: number; paintA: number };

async function sendOne(a: Page, b: Page, token: string): Promise<Stamps> {
  for (const p of [a, b]) await p.evaluate((t) => (window as unknown as { __await: Set<string> }).__await.add(t), token);
  const box = a.getByRole('textbox', { name: 'Message' });
  await box.fill(token);
  const before = await a.evaluate(() => (window as unknown as { __enterAt: number[] }).__enterAt.length);
  await box.press('Enter');
  const painted = (p: Page) =>
    p.waitForFunction(
      (t) => {
        const w = window as unknown as { __seenAt: Record<string, number>; __paintAt: Record<string, number>; __frameAt: Record<string, number> };
        return w.__paintAt[t] !== undefined && [w.__seenAt[t], w.__paintAt[t], w.__frameAt[t]];
      },
      token,
      { timeout: 30_000, polling: 20 },
    );
  const [seenB, paintB] = (await (await painted(b)).jsonValue()) as [number, number, number];
  // A's stored event replaced its echo too before the next message: each message starts quiet.
  const [seenA, paintA, frameA] = (await (await painted(a)).jsonValue()) as [number, number, number];
  const enter = await a.evaluate((i) => (window as unknown as { __enterAt: number[] }).__enterAt[i]!, before);
  await a.waitForFunction(() => document.querySelectorAll('article.msg.outgoing').length === 0, undefined, { timeout: 30_000, polling: 20 });
  return { enter, seenB, paintB, seenA, frameA, paintA };
}

export function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

type Collected = { page: TraceMark[]; worker: TraceMark[] };

function take(p: Page): Promise<Collected> {
  return p.evaluate(async () => {
    const w = window as unknown as { __hearthTakeLatencyTrace: () => Promise<Collected> };
    return w.__hearthTakeLatencyTrace();
  });
}

/** stage → first time, per key. */
function index(marks: TraceMark[]): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  for (const m of marks) {
    const byStage = out.get(m.key) ?? new Map<string, number>();
    out.set(m.key, byStage);
    if (!byStage.has(m.stage)) byStage.set(m.stage, m.at);
  }
  return out;
}

/**
 * The stages, in path order: [name, where, from, to]. A point is `ctx:stage`, ctx one of
 * pa/wa (A's page/worker), wb/pb (B's worker/page), or `bench:…` stamps.
 */
const STAGES: [string, string, string, string][] = [
  ['keydown → local echo in the DOM', 'A page', 'bench:enter', 'bench:echoDom'],
  ['local echo in the DOM → next frame', 'A page', 'bench:echoDom', 'bench:echoPaint'],
  ['keydown → that frame starts (its vsync; < 0 when due during the keydown task)', 'A page', 'bench:enter', 'bench:echoFrame'],
  ['that frame starts → painted (the frame\'s work)', 'A page', 'bench:echoFrame', 'bench:echoPaint'],
  ['keydown → Comlink call made', 'A page', 'bench:enter', 'pa:page-send'],
  ['Comlink page → worker', 'A', 'pa:page-send', 'wa:worker-call'],
  ['service call → room lock asked for (encryption, in an encrypted room)', 'A worker', 'wa:worker-call', 'wa:lock-asked'],
  ['waiting for the room lock', 'A worker', 'wa:lock-asked', 'wa:locked'],
  ['build + hash + sign', 'A worker', 'wa:locked', 'wa:signed'],
  ['gossip publish called (the write under way beside it)', 'A worker', 'wa:signed', 'wa:published'],
  ['store write (commit; the gossip does not wait for it)', 'A worker', 'wa:signed', 'wa:committed'],
  ['gossip: publish → B receives', 'network', 'wa:published', 'wb:received'],
  ['verify (hashes, signature)', 'B worker', 'wb:received', 'wb:verified'],
  ['room lock + auth + place', 'B worker', 'wb:verified', 'wb:placed'],
  ['store write (commit)', 'B worker', 'wb:placed', 'wb:committed'],
  ['(the two above together: verified → stored and announced)', 'B worker', 'wb:verified', 'wb:emitted'],
  ['placed → B page told (Comlink; before the write since the placed update)', 'B', 'wb:told', 'pb:page-update'],
  ['page waits to ask for the timeline', 'B page', 'pb:page-update', 'pb:page-timeline-asked'],
  ['timeline fetched (Comlink round trip)', 'B', 'pb:page-timeline-asked', 'pb:page-timeline'],
  ['render into the DOM', 'B page', 'pb:page-timeline', 'bench:seenB'],
  ['DOM → next frame', 'B page', 'bench:seenB', 'bench:paintB'],
  ['A: its own update → A page', 'A', 'wa:emitted', 'pa:page-update'],
  ['A: stored event in A timeline', 'A', 'bench:enter', 'pa:page-timeline'],
];

function breakdown(stamps: Map<string, Stamps>, a: Collected, b: Collected): { rows: StageRow[]; stored: number[] } {
  const pa = index(a.page);
  const wa = index(a.worker);
  const pb = index(b.page);
  const wb = index(b.worker);
  const byCtx: Record<string, Map<string, Map<string, number>>> = { pa, wa, pb, wb };
  const idOf = new Map<string, string>();
  for (const m of a.page) if (m.stage === 'page-send' && m.note !== undefined) idOf.set(m.note, m.key);
  const deltas = STAGES.map(() => [] as number[]);
  const stored: number[] = [];
  for (const [token, s] of stamps) {
    const id = idOf.get(token);
    if (!id) continue;
    const at = (point: string): number | undefined => {
      const [ctx, stage] = point.split(':') as [string, string];
      if (ctx === 'bench') {
        const v = { enter: s.enter, echoDom: s.seenA, echoFrame: s.frameA, echoPaint: s.paintA, seenB: s.seenB, paintB: s.paintB }[stage];
        return v;
      }
      return byCtx[ctx]?.get(id)?.get(stage);
    };
    STAGES.forEach(([, , from, to], i) => {
      const f = at(from);
      const t = at(to);
      if (f !== undefined && t !== undefined) deltas[i]!.push(t - f);
    });
    const committed = at('wa:committed');
    const published = at('wa:published');
    if (committed !== undefined && published !== undefined) stored.push(Math.max(committed, published) - s.enter);
  }
  const rows = STAGES.map(([stage, where], i) => {
    const d = deltas[i]!;
    return { stage, where, p50: d.length ? quantile(d, 0.5) : Number.NaN, p95: d.length ? quantile(d, 0.95) : Number.NaN, n: d.length };
  });
  return { rows, stored };
}

async function linksOf(p: Page): Promise<string[]> {
  return p.evaluate(async () => {
    const w = window as unknown as { __hearthLinks: () => Promise<string[]> };
    return w.__hearthLinks();
  });
}

/** Fresh contexts for one phase: the trace switched on, and (relay) no WebRTC in the pages. */
async function contexts(browser: Browser, link: Link): Promise<[BrowserContext, BrowserContext]> {
  const make = async () => {
    const ctx = await browser.newContext();
    await ctx.addInitScript((noRtc: boolean) => {
      (globalThis as { __hearthLatencyTrace?: boolean }).__hearthLatencyTrace = true;
      if (noRtc) {
        for (const name of ['RTCPeerConnection', 'webkitRTCPeerConnection']) {
          Object.defineProperty(globalThis, name, { value: undefined, configurable: true, writable: true });
        }
      }
    }, link === 'relay');
    return ctx;
  };
  return [await make(), await make()];
}

/** Alice and Bob onboarded in their own contexts, both in Alice's room 'Latency'. */
export async function twoPeopleInARoom(ctxA: BrowserContext, ctxB: BrowserContext, base: string): Promise<{ a: Page; b: Page; encrypted: boolean }> {
  const a = await ctxA.newPage();
  const b = await ctxB.newPage();
  const [, bId] = await Promise.all([onboard(a, base, 'alice'), onboard(b, base, 'bob')]);
  // Both homeservers must know each other (discovery through the relay) before the invite can travel.
  for (const p of [a, b]) await p.getByText(/relay connected, [1-9]\d* peers?/).first().waitFor({ timeout: 60_000 });
  const encrypted = await createRoom(a, 'Latency');
  await invite(a, b, bId, 'Latency');
  return { a, b, encrypted };
}

/** One phase: two fresh people, a room, `messages` from A to B over the given link. */
export async function latencyPhase(browser: Browser, base: string, link: Link, messages: number): Promise<LatencyPhase> {
  const [ctxA, ctxB] = await contexts(browser, link);
  try {
    const { a, b, encrypted } = await twoPeopleInARoom(ctxA, ctxB, base);
    if (link === 'direct') {
      for (const p of [a, b]) {
        await p.waitForFunction(
          async () => (await (window as unknown as { __hearthLinks: () => Promise<string[]> }).__hearthLinks()).includes('direct'),
          undefined,
          { timeout: 60_000, polling: 250 },
        );
      }
      // Only the direct link is left between them.
      for (const p of [a, b]) {
        await p.evaluate(() => (globalThis as unknown as { hearthWebrtc: { blockRelays(b: boolean): void } }).hearthWebrtc.blockRelays(true));
      }
    }
    await installSenderStamp(a);
    await installReceiverStamp(a);
    await installReceiverStamp(b);
    // Warm-up: the first messages pay for the mesh forming on the room topic.
    for (let i = 0; i < 3; i++) await sendOne(a, b, `warmup-${i}-${Math.random().toString(36).slice(2, 8)}`);
    await take(a);
    await take(b);
    const loadBefore = os.loadavg()[0]!;
    const stamps = new Map<string, Stamps>();
    for (let i = 0; i < messages; i++) {
      const token = `lat-${i}-${Math.random().toString(36).slice(2, 8)}`;
      stamps.set(token, await sendOne(a, b, token));
    }
    const loadAfter = os.loadavg()[0]!;
    const [ta, tb] = [await take(a), await take(b)];
    const links = [...(await linksOf(a)), ...(await linksOf(b))];
    const { rows, stored } = breakdown(stamps, ta, tb);
    const lockHolders: Record<string, number> = {};
    for (const m of ta.worker) if (m.stage === 'lock-asked') lockHolders[m.note ?? '?'] = (lockHolders[m.note ?? '?'] ?? 0) + 1;
    const all = [...stamps.values()];
    return {
      link,
      encrypted,
      links,
      samples: all.length,
      tabToTab: all.map((s) => s.seenB - s.enter),
      tabToTabPaint: all.map((s) => s.paintB - s.enter),
      echoDom: all.map((s) => s.seenA - s.enter),
      echoPaint: all.map((s) => s.paintA - s.enter),
      echoFrameWait: all.map((s) => s.frameA - s.enter),
      echoFrameWork: all.map((s) => s.paintA - s.frameA),
      echoFirstFrame: all.filter((s) => s.frameA - s.seenA < FRAME_MS).length,
      storedBroadcast: stored,
      stages: rows,
      lockHolders,
      load: [loadBefore, loadAfter],
    };
  } finally {
    await ctxA.close().catch(() => undefined);
    await ctxB.close().catch(() => undefined);
  }
}

const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '–');

/** Where the echo's time goes: which frame shows it, the wait for that frame, and the frame's work. */
export function echoFrames(p: LatencyPhase): string {
  return `in the first frame after it: ${p.echoFirstFrame} of ${p.samples}; waiting for that frame p50 ${f1(quantile(p.echoFrameWait, 0.5))} ms, its work p50 ${f1(quantile(p.echoFrameWork, 0.5))} ms`;
}

/** The summary lines, each with its target. */
export function summaryLines(p: LatencyPhase): string[] {
  const q = (xs: number[]) => ({ p50: quantile(xs, 0.5), p95: quantile(xs, 0.95) });
  const t = q(p.tabToTab);
  const target = p.link === 'relay' ? TARGETS.relayP50 : TARGETS.directP50;
  const e = q(p.echoPaint);
  const s = q(p.storedBroadcast);
  return [
    `tab-to-tab via ${p.link === 'relay' ? 'the relay' : 'a direct WebRTC link'}: p50 ${f1(t.p50)} ms (target < ${target}), p95 ${f1(t.p95)} ms (target < 2 × p50 = ${f1(2 * t.p50)}); next frame p50 ${f1(quantile(p.tabToTabPaint, 0.5))} ms`,
    `own message: keydown → local echo painted p50 ${f1(e.p50)} ms, p95 ${f1(e.p95)} ms (target < ${TARGETS.echoPaint}); ${echoFrames(p)}`,
    `stored and broadcast (keydown → A's worker committed and published): p50 ${f1(s.p50)} ms, p95 ${f1(s.p95)} ms (target p50 < ${TARGETS.storedBroadcast})`,
    `room lock when a send asked for it: ${Object.entries(p.lockHolders)
      .map(([k, n]) => `${k} ×${n}`)
      .join(', ')}`,
    `${p.samples} messages in ${p.encrypted ? 'an end-to-end encrypted' : 'an unencrypted'} room; links seen: ${[...new Set(p.links)].join(', ') || 'none'}; load average ${p.load[0].toFixed(2)} → ${p.load[1].toFixed(2)}`,
  ];
}

/** The stage table (Markdown-ish, for the terminal and docs/benchmarks.md). */
export function stageTable(p: LatencyPhase): string[] {
  const w = Math.max(...p.stages.map((r) => r.stage.length));
  const lines = [`| ${'stage'.padEnd(w)} | where    |   p50 |   p95 |  n |`, `|${'-'.repeat(w + 2)}|----------|------:|------:|---:|`];
  for (const r of p.stages) lines.push(`| ${r.stage.padEnd(w)} | ${r.where.padEnd(8)} | ${f1(r.p50).padStart(5)} | ${f1(r.p95).padStart(5)} | ${String(r.n).padStart(2)} |`);
  return lines;
}

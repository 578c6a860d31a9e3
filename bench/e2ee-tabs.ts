/**
 * Encrypted against plain, tab to tab (issue 18): two people in two browser
 * contexts of Debian's Chromium, through the real relay, share two rooms —
 * one end-to-end encrypted, one not — and take turns sending in each. A
 * sample is Enter in A's composer → the text in B's Timeline (stamped in B's
 * page by a MutationObserver; both clocks are this machine's). Alternating
 * the rooms message by message puts both under the same load.
 *
 * In the encrypted room each message is encrypted in A's homeserver worker
 * (Megolm; the room key was shared with B's device by the first message,
 * which is a warm-up and not counted) and decrypted in B's before it shows.
 *
 *   node --import tsx bench/e2ee-tabs.ts [--messages N] [--json]
 */
import { type Browser, type Page, chromium } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../scripts/chromium.ts';
import { freePort } from '../test/helpers/hearth-process.ts';
import { startAppServer } from './tabs.ts';

export interface EncryptedTabsBench {
  plain: number[];
  encrypted: number[];
  plainP50: number;
  encryptedP50: number;
  plainP95: number;
  encryptedP95: number;
  /** Load average (1 min) before and after. */
  load: [number, number];
}

function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

async function loadAverage(): Promise<number> {
  const os = await import('node:os');
  return os.loadavg()[0]!;
}

async function onboard(page: Page, base: string, name: string): Promise<string> {
  await page.goto(base);
  await page.getByRole('textbox', { name: 'Display name' }).fill(name);
  await page.getByRole('button', { name: 'Start' }).click();
  const id = page.getByLabel('Your user ID');
  await id.filter({ hasText: /^@/ }).waitFor({ timeout: 60_000 });
  await page.getByText(/relay connected/).waitFor({ timeout: 60_000 });
  return (await id.textContent()) ?? '';
}

async function roomWith(a: Page, b: Page, bId: string, name: string, encrypted: boolean): Promise<void> {
  await a.getByRole('button', { name: 'New room' }).click();
  const dialog = a.getByRole('dialog');
  await dialog.getByRole('textbox', { name: 'Room name' }).fill(name);
  await dialog.getByRole('checkbox', { name: /Encrypt messages end to end/ }).setChecked(encrypted);
  await dialog.getByRole('button', { name: 'Create' }).click();
  await a.getByRole('heading', { level: 2, name, exact: true }).waitFor({ timeout: 30_000 });
  await a.getByRole('button', { name: 'Invite', exact: true }).click();
  await a.getByRole('textbox', { name: 'User ID' }).fill(bId);
  await a.getByRole('button', { name: 'Send invite' }).click();
  await b.getByRole('button', { name: 'Accept', exact: true }).click({ timeout: 60_000 });
  await b.getByRole('heading', { level: 2, name, exact: true }).waitFor({ timeout: 60_000 });
}

async function openRoom(p: Page, name: string): Promise<void> {
  await p.getByRole('button', { name, exact: true }).first().click();
  await p.getByRole('heading', { level: 2, name, exact: true }).waitFor({ timeout: 30_000 });
}

/** Watches B's Timeline for `text`; B's Date.now() when it appears goes in `__arrived[text]`. */
async function armArrival(b: Page, text: string): Promise<void> {
  // Plain JS in a string: tsx would wrap inner functions in its own `__name` calls, unknown in the page.
  const script = `(() => {
    const t = ${JSON.stringify(text)};
    const w = globalThis;
    w.__arrived = w.__arrived || {};
    const seen = () => [...document.querySelectorAll('[role=log] article, [role=log] [role=article]')].some((el) => (el.textContent || '').includes(t));
    if (seen()) { w.__arrived[t] = Date.now(); return; }
    const obs = new MutationObserver(() => {
      if (!seen()) return;
      w.__arrived[t] = Date.now();
      obs.disconnect();
    });
    obs.observe(document.body, { subtree: true, childList: true, characterData: true });
  })()`;
  await b.evaluate(script);
}

async function oneMessage(a: Page, b: Page, text: string): Promise<number> {
  await armArrival(b, text);
  const box = a.getByRole('textbox', { name: 'Message' });
  await box.fill(text);
  const t0 = await a.evaluate(() => Date.now());
  await box.press('Enter');
  const handle = await b.waitForFunction(`(globalThis.__arrived || {})[${JSON.stringify(text)}]`, undefined, { timeout: 120_000 });
  return ((await handle.jsonValue()) as number) - t0;
}

export async function benchEncryptedTabs(messages = 20): Promise<EncryptedTabsBench> {
  const port = await freePort();
  const server = await startAppServer(port);
  const base = `http://127.0.0.1:${port}/`;
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
    const [ca, cb] = [await browser.newContext(), await browser.newContext()];
    const [a, b] = [await ca.newPage(), await cb.newPage()];
    await onboard(a, base, 'Alice');
    const bId = await onboard(b, base, 'Bob');
    await roomWith(a, b, bId, 'Plain', false);
    await roomWith(a, b, bId, 'Sealed', true);
    const load0 = await loadAverage();
    const plain: number[] = [];
    const encrypted: number[] = [];
    for (let i = -1; i < messages; i++) {
      for (const [room, out] of [
        ['Plain', plain],
        ['Sealed', encrypted],
      ] as const) {
        await openRoom(a, room);
        await openRoom(b, room);
        const ms = await oneMessage(a, b, `${room} ${i} ${Math.random().toString(36).slice(2, 8)}`);
        if (i >= 0) out.push(ms); // i = -1: warm-up (the encrypted room's key is shared then)
      }
    }
    const load1 = await loadAverage();
    return {
      plain,
      encrypted,
      plainP50: quantile(plain, 0.5),
      encryptedP50: quantile(encrypted, 0.5),
      plainP95: quantile(plain, 0.95),
      encryptedP95: quantile(encrypted, 0.95),
      load: [load0, load1],
    };
  } finally {
    await browser?.close().catch(() => undefined);
    await server.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const r = await benchEncryptedTabs(Number(arg('messages') ?? 20));
  if (process.argv.includes('--json')) console.log(JSON.stringify(r));
  else {
    console.log(`tab-to-tab via relay, p50: plain ${r.plainP50} ms, encrypted ${r.encryptedP50} ms (p95 ${r.plainP95} / ${r.encryptedP95} ms; ${r.plain.length} + ${r.encrypted.length} messages; load ${r.load[0].toFixed(1)}–${r.load[1].toFixed(1)})`);
  }
}

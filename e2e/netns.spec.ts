/**
 * Beyond one machine (issue 20): the relay, a `hearth serve` and two browsers
 * each in a network namespace of their own, joined by a bridge with distinct
 * addresses (scripts/netns.ts, scripts/netns-hearth.ts) — nothing reaches
 * anything over 127.0.0.1. Alice and Bob (Chromium, app served from the
 * bridge's root-namespace address) and Carol (`hearth serve`, driven through
 * its Client-Server API) share a room; messages go every way; Alice's and
 * Bob's browsers set up a direct WebRTC link across their namespaces; the
 * relay is SIGKILLed and the room goes on over that link; the relay comes
 * back (same key, same address) and Carol's server, which only ever reaches
 * the others through it, catches up and talks again.
 *
 * The app's origin is http://<bridge address>:<port>: not localhost, so not
 * a secure context; the browsers get
 * `--unsafely-treat-insecure-origin-as-secure=<origin>` (WebCrypto, service
 * worker) and `--disable-features=WebRtcHideLocalIpsWithMdns` (ICE host
 * candidates carry the bridge addresses, not `.local` names the other
 * namespace could not resolve) — scripts/netns.ts labChromiumArgs.
 *
 * Needs root (`ip netns add`); skipped with the reason where that fails.
 * Everything it creates is torn down in a finally; a lab left by a killed
 * run (its PID gone) is removed at the next start.
 */
import { type Browser, type Page, expect, test } from '@playwright/test';
import { type HearthLab, ServeUser, startHearthLab } from '../scripts/netns-hearth.ts';
import { namespaceSupport } from '../scripts/netns.ts';
import { message, openNetwork } from './app-helpers.ts';

/**
 * How long any one network step may take: on a quiet machine each takes seconds, but this
 * machine's 2 cores are often shared with other runs (load average 30–50 seen), which
 * stretches discovery and delivery by an order of magnitude.
 */
const NET = 120_000;

interface Person {
  page: Page;
  id: string;
  /** The page's (and its workers') recent console lines, for a failure's message. */
  log: string[];
}

/*
 * The app steps of app-helpers.ts, with every wait at UI_WAIT instead of expect's default 5 s:
 * a homeserver worker starting, signing or committing on a loaded machine can take longer.
 */
const UI_WAIT = 30_000;

async function onboard(page: Page, displayName: string): Promise<string> {
  await page.goto('/');
  await page.getByRole('textbox', { name: 'Display name' }).fill(displayName);
  await page.getByRole('button', { name: 'Start' }).click();
  const id = page.getByLabel('Your user ID');
  await expect(id).toHaveText(/^@[a-z0-9._=/+-]+:.+$/, { timeout: NET });
  return (await id.textContent()) ?? '';
}

/** An unencrypted room: Carol is a plain Client-Server API client with no end-to-end encryption device. */
async function createRoom(page: Page, name: string): Promise<void> {
  await page.getByRole('button', { name: 'New room' }).click();
  await page.getByRole('dialog').getByRole('textbox', { name: 'Room name' }).fill(name);
  const encrypt = page.getByRole('dialog').getByRole('checkbox', { name: /Encrypt messages/ });
  if ((await encrypt.count()) > 0) await encrypt.uncheck();
  await page.getByRole('dialog').getByRole('button', { name: 'Create' }).click();
  await expect(page.getByRole('heading', { level: 2, name, exact: true })).toBeVisible({ timeout: UI_WAIT });
}

async function send(page: Page, text: string): Promise<void> {
  const box = page.getByRole('textbox', { name: 'Message' });
  await box.fill(text);
  await box.press('Enter');
  await expect(box).toHaveValue('', { timeout: UI_WAIT });
  await expect(message(page, text)).toBeVisible({ timeout: UI_WAIT });
}

async function personIn(browser: Browser, url: string, name: string): Promise<Person> {
  const context = await browser.newContext({ baseURL: url });
  // Keep a list of the page's peer connections, to read which addresses the direct link really joins.
  await context.addInitScript(() => {
    const Native = globalThis.RTCPeerConnection;
    const made: RTCPeerConnection[] = [];
    Object.assign(globalThis, { __labPcs: made });
    globalThis.RTCPeerConnection = class extends Native {
      constructor(config?: RTCConfiguration) {
        super(config);
        made.push(this);
      }
    };
  });
  const page = await context.newPage();
  const log: string[] = [];
  page.on('console', (m) => {
    log.push(`[${name} ${new Date().toISOString().slice(11, 23)}] ${m.text()}`);
    if (log.length > 150) log.shift();
  });
  const id = await onboard(page, name);
  await expect(page.getByText(/relay connected/)).toBeVisible({ timeout: NET });
  return { page, id, log };
}

/** "local address -> remote address" of each connected peer connection's selected ICE candidate pair. */
function candidatePairs(p: Person): Promise<string[]> {
  return p.page.evaluate(async () => {
    const out: string[] = [];
    for (const pc of (globalThis as unknown as { __labPcs: RTCPeerConnection[] }).__labPcs) {
      if (pc.connectionState !== 'connected') continue;
      const stats = await pc.getStats();
      stats.forEach((s: { type: string; state?: string; nominated?: boolean; localCandidateId?: string; remoteCandidateId?: string }) => {
        if (s.type !== 'candidate-pair' || s.state !== 'succeeded' || !s.nominated) return;
        out.push(`${stats.get(s.localCandidateId!)?.address} -> ${stats.get(s.remoteCandidateId!)?.address}`);
      });
    }
    return out;
  });
}

/** The Network panel's row for a peer, found by its user's display name. */
function peerRow(p: Person, displayName: string) {
  return p.page.getByRole('complementary', { name: 'Network' }).getByRole('listitem').filter({ hasText: displayName });
}

async function inviteById(from: Person, userId: string): Promise<void> {
  await from.page.getByRole('button', { name: 'Invite', exact: true }).click();
  await from.page.getByRole('textbox', { name: 'User ID' }).fill(userId);
  await from.page.getByRole('button', { name: 'Send invite' }).click();
}

/** Polls `fn` until it returns true (a condition, not a sleep). */
async function until(what: string, fn: () => Promise<boolean>, timeoutMs = NET): Promise<void> {
  await expect.poll(fn, { message: what, timeout: timeoutMs, intervals: [250, 500, 1000] }).toBe(true);
}

test.describe('across network namespaces', () => {
  test.setTimeout(600_000);

  test('relay, hearth serve and two browsers in separate namespaces: messages every way, a direct WebRTC link, the relay killed and back', async ({
    baseURL,
  }) => {
    const unsupported = await namespaceSupport();
    test.skip(unsupported !== undefined, `network namespaces unavailable: ${unsupported}`);
    let lab: HearthLab | undefined;
    const people: Person[] = [];
    try {
      lab = await startHearthLab(baseURL!);
      const hl = lab;
      const [aliceBrowser, bobBrowser] = await Promise.all([hl.launchBrowser('alice'), hl.launchBrowser('bob')]);
      const [alice, bob] = await Promise.all([personIn(aliceBrowser, hl.front.url, 'alice'), personIn(bobBrowser, hl.front.url, 'bob')]);
      people.push(alice, bob);
      const carol = await ServeUser.register(hl.serveUrl, 'carol');
      // All three homeservers have met through the relay before anyone is invited.
      for (const p of [alice, bob]) await expect(p.page.getByText(/relay connected, [2-9] peers/)).toBeVisible({ timeout: NET });
      // The relay in its own namespace counts them: three homeservers connected (its metrics, read over the bridge).
      await until('the relay has the three homeservers connected', async () => (await hl.relayMetric('hearth_relay_peers')) >= 3);

      await createRoom(alice.page, 'Across');
      await inviteById(alice, bob.id);
      await bob.page.getByRole('button', { name: 'Accept', exact: true }).click({ timeout: NET });
      await expect(bob.page.getByRole('heading', { level: 2, name: 'Across', exact: true })).toBeVisible({ timeout: NET });
      await inviteById(alice, carol.userId);
      let roomId = '';
      await until('Carol (hearth serve) is invited', async () => {
        roomId = (await carol.invites())[0] ?? '';
        return roomId !== '';
      });
      await carol.join(roomId);

      // Messages every way: browser ↔ browser, browser ↔ hearth serve, all through the relay's namespace at first.
      await send(alice.page, 'alice to everyone');
      await expect(message(bob.page, 'alice to everyone')).toBeVisible({ timeout: NET });
      await until('Carol has Alice’s message', async () => (await carol.bodies(roomId)).includes('alice to everyone'));
      await send(bob.page, 'bob to everyone');
      await expect(message(alice.page, 'bob to everyone')).toBeVisible({ timeout: NET });
      await until('Carol has Bob’s message', async () => (await carol.bodies(roomId)).includes('bob to everyone'));
      await carol.send(roomId, 'carol from hearth serve');
      for (const p of [alice, bob]) await expect(message(p.page, 'carol from hearth serve')).toBeVisible({ timeout: NET });

      // The two browsers upgrade their relayed connection to a direct WebRTC link across the bridge.
      await openNetwork({ ...alice, context: alice.page.context() });
      await openNetwork({ ...bob, context: bob.page.context() });
      await expect(peerRow(alice, 'bob')).toContainText('direct', { timeout: NET });
      await expect(peerRow(bob, 'alice')).toContainText('direct', { timeout: NET });
      // …and that link joins the two browsers' namespaces' own addresses, through the bridge.
      const [aliceAddr, bobAddr] = [hl.lab.hosts.alice!.addr, hl.lab.hosts.bob!.addr];
      await until('Alice’s peer connection joins her address to Bob’s', async () => (await candidatePairs(alice)).includes(`${aliceAddr} -> ${bobAddr}`));
      expect(await candidatePairs(bob)).toContain(`${bobAddr} -> ${aliceAddr}`);

      // A word each way once the link is up (gossip moves to it as the relayed connection is let go).
      await send(alice.page, 'alice, linked');
      await expect(message(bob.page, 'alice, linked')).toBeVisible({ timeout: NET });
      await send(bob.page, 'bob, linked');
      await expect(message(alice.page, 'bob, linked')).toBeVisible({ timeout: NET });
      console.log(`relay circuits before the kill: ${await hl.relayMetric('hearth_relay_circuits')}`);

      // The relay dies: Alice and Bob go on over the direct link; Carol's server, reachable only through the relay, is cut off.
      await hl.killRelay();
      for (const p of [alice, bob]) await expect(p.page.getByText(/relay connected/)).toHaveCount(0, { timeout: NET });
      await send(alice.page, 'alice with the relay down');
      await expect(message(bob.page, 'alice with the relay down')).toBeVisible({ timeout: NET });
      await send(bob.page, 'bob with the relay down');
      await expect(message(alice.page, 'bob with the relay down')).toBeVisible({ timeout: NET });
      expect(await carol.bodies(roomId)).not.toContain('alice with the relay down');

      // The relay is back (same key, same address): everyone reconnects, and the room continues through it.
      await hl.restartRelay();
      for (const p of [alice, bob]) await expect(p.page.getByText(/relay connected/)).toBeVisible({ timeout: NET });
      await carol.send(roomId, 'carol through the new relay');
      for (const p of [alice, bob]) await expect(message(p.page, 'carol through the new relay')).toBeVisible({ timeout: NET });
      await send(alice.page, 'alice through the new relay');
      await until(
        'Carol has what was said while the relay was down, and after',
        async () => {
          const got = await carol.bodies(roomId);
          return ['alice with the relay down', 'bob with the relay down', 'alice through the new relay'].every((b) => got.includes(b));
        },
      );
    } catch (err) {
      const panels: string[] = [];
      for (const p of people) {
        const text = await p.page
          .getByRole('complementary', { name: 'Network' })
          .textContent({ timeout: 2_000 })
          .catch(() => 'not open');
        const line = await p.page
          .getByText(/relay connected|unreachable|Connecting/)
          .first()
          .textContent({ timeout: 2_000 })
          .catch(() => '?');
        panels.push(`--- ${p.id}: ${line}; network panel ---\n${text}\n--- its console ---\n${p.log.slice(-40).join('\n')}`);
      }
      throw new Error(
        `${(err as Error).stack ?? String(err)}\n--- lab stderr (relay, hearth serve) ---\n${lab?.logs().slice(-6000) ?? ''}\n${panels.join('\n')}`,
      );
    } finally {
      await lab?.teardown();
    }
  });
});

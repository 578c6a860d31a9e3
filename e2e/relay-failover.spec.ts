/**
 * Issue 20, a deployable app with several relays: the built site served
 * under a sub-path (/hearth/) by a static server (scripts/app-server.ts
 * --preview --no-relay: no relay of its own, the build directory's
 * hearth-config.json is served as a file), listing two `hearth relay`
 * processes run with the public-service limits. Two people chat; the first
 * relay is killed → both homeservers move to the second and the room goes
 * on; the first relay comes back (same key, same port) → both go back to it
 * (its metrics count their two reservations again, the second's drop to 0).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, type Locator, type Page, expect, test } from '@playwright/test';
import { freePort } from '../test/helpers/hearth-process.ts';
import { type Person, createRoom, invite, message, send } from './app-helpers.ts';

/** Fail-over waits for a dead relay's connections to close and a bootstrap tick; a loaded machine is slow. */
const ARRIVAL = { timeout: 60_000 };
const BASE = '/hearth/';

interface Proc {
  child: ChildProcess;
  /** Everything it printed so far. */
  output(): string;
  kill(): Promise<void>;
}

/** Spawns `node args…` and resolves once its stdout matches `ready`. */
function startProc(args: string[], ready: RegExp, what: string, timeoutMs = 180_000): Promise<{ proc: Proc; match: RegExpExecArray }> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const orphan = () => child.kill('SIGKILL');
  process.once('exit', orphan);
  child.once('exit', () => process.off('exit', orphan));
  let out = '';
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const proc: Proc = {
    child,
    output: () => out,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${what} did not start in ${timeoutMs / 1000} s:\n${out}`));
    }, timeoutMs);
    const early = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code}):\n${out}`));
    };
    child.once('exit', early);
    child.stderr?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = ready.exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.off('exit', early);
      resolve({ proc, match: m });
    });
  });
}

interface RelayProc {
  proc: Proc;
  multiaddr: string;
  metricsUrl: string;
}

async function startRelayProc(dir: string, name: string, port: number, metricsPort: number): Promise<RelayProc> {
  const args = ['bin/hearth.mjs', 'relay', '--host', '127.0.0.1', '--port', String(port), '--key', join(dir, `${name}.key`)];
  const { proc, match } = await startProc([...args, '--metrics', `127.0.0.1:${metricsPort}`], /^(\{.*"peer_id".*\})$/m, `relay ${name}`, 60_000);
  const line = JSON.parse(match[1]!) as { multiaddr: string; metrics_url: string; limits: { circuitDataLimitBytes?: number } };
  // The public-service limits are what the browsers live with here.
  expect(line.limits.circuitDataLimitBytes).toBe(64 * 1024 * 1024);
  return { proc, multiaddr: line.multiaddr, metricsUrl: line.metrics_url };
}

async function reservations(r: RelayProc): Promise<number> {
  try {
    const text = await (await fetch(r.metricsUrl, { signal: AbortSignal.timeout(5_000) })).text();
    return Number(/^hearth_relay_reservations (\d+)$/m.exec(text)?.[1] ?? Number.NaN);
  } catch {
    return Number.NaN;
  }
}

let dir = '';
let origin = '';
let web: Proc | undefined;
const relays: RelayProc[] = [];
const people: Person[] = [];

test.afterAll(async () => {
  for (const p of people.splice(0)) await p.context.close().catch(() => undefined);
  for (const r of relays.splice(0)) await r.proc.kill();
  await web?.kill();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Opens the app under its sub-path and creates this homeserver's account. */
async function person(browser: Browser, name: string): Promise<Person> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${origin}${BASE}`);
  await page.getByRole('textbox', { name: 'Display name' }).fill(name);
  await page.getByRole('button', { name: 'Start' }).click();
  const idBox = page.getByLabel('Your user ID');
  await expect(idBox).toHaveText(/^@[a-z0-9._=/+-]+:.+$/);
  const p = { context, page, id: (await idBox.textContent()) ?? '' };
  people.push(p);
  await expect(topBar(page).getByText(/relay connected/)).toBeVisible(ARRIVAL);
  return p;
}

function topBar(page: Page): Locator {
  return page.locator('.topbar');
}

async function relayShown(p: Person): Promise<Locator> {
  const panel = p.page.getByRole('complementary', { name: 'Network' });
  if (!(await panel.isVisible())) await p.page.getByRole('button', { name: 'Network', exact: true }).click();
  return panel.locator('.relay-addr');
}

test('a deployed app under a sub-path fails over to its second relay and goes back to the first', async ({ browser }) => {
  test.setTimeout(420_000);
  dir = await mkdtemp(join(tmpdir(), 'hearth-failover-e2e-'));
  const outDir = join(dir, 'site');
  const [webPort, p1, p2, m1, m2] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  const started = await startProc(
    ['--import', 'tsx', 'scripts/app-server.ts', '--preview', '--no-relay', '--base', BASE, '--port', String(webPort), '--out', outDir],
    /Hearth is running: open (\S+) /,
    'the static app server',
  );
  web = started.proc;
  origin = new URL(started.match[1]!).origin;
  const first = await startRelayProc(dir, 'first', p1, m1);
  relays.push(first);
  const second = await startRelayProc(dir, 'second', p2, m2);
  relays.push(second);
  // The deployment's config, a plain file next to index.html.
  await writeFile(join(outDir, 'hearth-config.json'), JSON.stringify({ relays: [first.multiaddr, second.multiaddr] }));

  const alice = await person(browser, 'Alice');
  const bob = await person(browser, 'Bob');
  // Both on the first relay only: two reservations there, none on the second.
  await expect.poll(() => reservations(first), ARRIVAL).toBe(2);
  await expect.poll(() => reservations(second), ARRIVAL).toBe(0);
  await expect(await relayShown(alice)).toHaveText(first.multiaddr);

  await createRoom(alice.page, 'Two relays');
  await invite(alice, bob, 'Two relays');
  await send(alice.page, 'on the first relay');
  await expect(message(bob.page, 'on the first relay')).toBeVisible(ARRIVAL);

  // The first relay dies: both homeservers reserve on the second and the room goes on.
  await first.proc.kill();
  await expect.poll(() => reservations(second), ARRIVAL).toBe(2);
  for (const p of [alice, bob]) await expect(topBar(p.page).getByText(/relay connected/)).toBeVisible(ARRIVAL);
  await expect(await relayShown(alice)).toHaveText(second.multiaddr, ARRIVAL);
  await send(alice.page, 'on the second relay, from Alice');
  await expect(message(bob.page, 'on the second relay, from Alice')).toBeVisible(ARRIVAL);
  await send(bob.page, 'on the second relay, from Bob');
  await expect(message(alice.page, 'on the second relay, from Bob')).toBeVisible(ARRIVAL);

  // It comes back (same key, same port): both go back to it and leave the second.
  const again = await startRelayProc(dir, 'first', p1, m1);
  relays.push(again);
  expect(again.multiaddr).toBe(first.multiaddr);
  await expect.poll(() => reservations(again), ARRIVAL).toBe(2);
  await expect.poll(() => reservations(second), ARRIVAL).toBe(0);
  await expect(await relayShown(alice)).toHaveText(first.multiaddr, ARRIVAL);
  await send(bob.page, 'back on the first relay');
  await expect(message(alice.page, 'back on the first relay')).toBeVisible(ARRIVAL);
});

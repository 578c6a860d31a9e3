/**
 * Crash consistency in the browser (the short form of
 * `node --import tsx bench/browser-crash-soak.ts`): the app's homeserver —
 * its Web Worker on Chromium's IndexedDB, in a persistent profile — crashed
 * 3 times under local sends and a peer's messages, alternately by ending the
 * worker and by crashing the tab through the DevTools protocol. After each:
 * no partial event in the database, no acknowledged send lost, retried
 * transaction IDs answer without duplicates, and the reopened homeserver's
 * room converges with the peer's. See test/durability/browser-crash-harness.ts.
 * The seed is printed; rerun one with HEARTH_CRASH_SEED=N. A second test
 * shows the in-page check is not blind: a real database with its newest
 * event chunk removed is reported (missing extremity, missing acknowledged event).
 */
import { expect, test } from '@playwright/test';
import { loadMigrationFixtures } from '../test/fixtures/migrations/fixtures.ts';
import { checkInPage, runBrowserCrashHarness, storeCheckScript } from '../test/durability/browser-crash-harness.ts';
import { inPage } from '../test/helpers/idb-dump.ts';

const CRASHES = 3;

test(`the tab's homeserver crashed ${CRASHES} times mid-write: nothing partial, nothing acknowledged lost, the room converges`, async ({ baseURL }) => {
  test.setTimeout(600_000);
  const seed = process.env.HEARTH_CRASH_SEED ? Number(process.env.HEARTH_CRASH_SEED) : Math.floor(Math.random() * 2 ** 31);
  const lines: string[] = [];
  console.log(`browser crash seed ${seed} (rerun with HEARTH_CRASH_SEED=${seed})`);
  const r = await runBrowserCrashHarness({ baseURL: baseURL!, crashes: CRASHES, seed, log: (l) => lines.push(l) });
  const report = `seed ${seed}\n${lines.join('\n')}`;
  console.log(report);
  expect(r.crashes).toBe(CRASHES);
  expect(r.byMode.worker, report).toBeGreaterThan(0);
  expect(r.byMode.tab, report).toBeGreaterThan(0);
  expect(r.acknowledged, report).toBeGreaterThan(CRASHES);
  expect(r.peerSent, report).toBeGreaterThan(0);
  expect(r.federationAcknowledged, report).toBeGreaterThan(0);
  expect(r.lost, report).toEqual([]);
  expect(r.inconsistencies, report).toEqual([]);
  expect(r.divergences, report).toEqual([]);
  expect(r.txnProblems, report).toEqual([]);
});

test('the in-page store check finds a partial write: a database missing its newest events', async ({ browser }) => {
  test.setTimeout(120_000);
  // A real homeserver database (the newest migration fixture) with its last event chunk taken out:
  // the room's forward extremity and the last acknowledged message are gone.
  const f = loadMigrationFixtures().at(-1)!;
  const events = f.dump.stores.find((s) => s.name === 'events')!;
  const kept = events.records.slice(0, -1);
  const damaged = { ...f.dump, stores: f.dump.stores.map((s) => (s === events ? { ...s, records: kept } : s)) };
  const lastMessage = f.expect.messages.at(-1)!.event_id;
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto('/hearth-config.json');
  await page.evaluate(inPage.restore(damaged));
  const found = await checkInPage(page, await storeCheckScript(), f.dump.name, [f.expect.first, lastMessage]);
  await context.close();
  expect(found.missing).toEqual([lastMessage]);
  expect(found.inconsistencies.join('\n')).toContain(`its forward extremity ${f.expect.extremities[0]} is missing`);
});

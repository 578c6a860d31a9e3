/**
 * Crash consistency in the browser (the short form of
 * `node --import tsx bench/browser-crash-soak.ts`): the app's homeserver —
 * its Web Worker on Chromium's IndexedDB, in a persistent profile — crashed
 * 3 times under local sends and a peer's messages, alternately by ending the
 * worker and by crashing the tab through the DevTools protocol. After each:
 * no partial event in the database, no acknowledged send lost, retried
 * transaction IDs answer without duplicates, and the reopened homeserver's
 * room converges with the peer's. See test/durability/browser-crash-harness.ts.
 * The seed is printed; rerun one with HEARTH_CRASH_SEED=N.
 */
import { expect, test } from '@playwright/test';
import { runBrowserCrashHarness } from '../test/durability/browser-crash-harness.ts';

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

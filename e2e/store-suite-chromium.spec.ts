/**
 * The shared Store acceptance suite (test/server/store-suite.ts) on
 * Chromium's own IndexedDB — the backend the app's homeserver worker uses —
 * beside its runs on fake-indexeddb (test/server/store.test.ts) and SQLite
 * (test/server/sqlite-store.test.ts): one suite, every backend (issue 17,
 * item 1). The suite is bundled for a page with `vitest` aliased to a small
 * stand-in (test/helpers/browser-vitest.ts) that keeps Vitest's own `expect`.
 * Run with HEARTH_E2E_PORT=5313.
 */
import { expect, test } from '@playwright/test';
import type { CaseResult } from '../test/helpers/browser-vitest.ts';
import { pageBundle } from '../test/helpers/page-bundle.ts';

test('the shared Store acceptance suite passes on Chromium IndexedDB', async ({ browser }) => {
  test.setTimeout(240_000);
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    // A document of the origin that runs no app: nothing else opens databases here.
    await page.goto('/hearth-config.json');
    const script = await pageBundle(new URL('../test/durability/store-suite-page.ts', import.meta.url), 'hearthStoreSuite', {
      vitest: new URL('../test/helpers/browser-vitest.ts', import.meta.url),
    });
    await page.addScriptTag({ content: script });
    const results = (await page.evaluate(() =>
      (globalThis as unknown as { hearthStoreSuite: { run: () => Promise<CaseResult[]> } }).hearthStoreSuite.run(),
    )) as CaseResult[];
    const failed = results.filter((r) => !r.ok).map((r) => `${r.name}: ${r.error}`);
    expect(failed).toEqual([]);
    // Every case of the suite ran (it has 30-odd; a bundling slip that registered none would pass above).
    expect(results.length).toBeGreaterThan(25);
    expect(results.map((r) => r.name)).toContainEqual(expect.stringContaining('purges a room'));
    test.info().annotations.push({ type: 'cases', description: `${results.length} cases, ${results.reduce((n, r) => n + r.ms, 0)} ms` });
  } finally {
    await context.close();
  }
});

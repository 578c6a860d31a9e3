/**
 * Runs bench/browser in Debian's Chromium (the same binary the e2e tests
 * use): starts a Vite dev server on 127.0.0.1, opens the bench page, waits
 * for the worker's result.
 */
import { chromium } from '@playwright/test';
import { createServer } from 'vite';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../scripts/chromium.ts';
import type { PairedIngestRound } from './engine.ts';

export interface BrowserBench {
  ok: boolean;
  error?: string;
  store?: { perTxn: number; batched100: number; oneTxn: number };
  /** Paired rounds: one origin, then `origins` servers sending at once, each beside its verify rate. */
  rounds?: PairedIngestRound[];
  origins?: number;
  /** Medians over the measurements taken between the rounds. */
  rawVerify?: number;
  poolVerify?: number;
  poolHelpers?: number;
}

export async function benchBrowser(query = ''): Promise<BrowserBench> {
  const server = await createServer({
    server: { host: '127.0.0.1', port: 0 },
    logLevel: 'error',
    // The bench page and its workers are not among the app's entries: without this Vite finds their
    // dependencies only as the worker loads them, optimizes them then and reloads the page mid-run
    // (on a machine's first run; one such run never answered).
    optimizeDeps: { entries: ['bench/browser/index.html', 'bench/browser/worker.ts', 'workers/verify.worker.ts'] },
  });
  await server.listen();
  const address = server.httpServer?.address();
  const port = typeof address === 'object' && address ? address.port : 5173;
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: CHROMIUM_ARGS,
  });
  // What the page and its workers said, for the error when no result comes: a hang here once cost a
  // whole `npm run bench` run its printout with nothing to say why.
  const said: string[] = [];
  const started = performance.now();
  const note = (line: string) => {
    said.push(`${((performance.now() - started) / 1000).toFixed(1)} s ${line}`);
    if (said.length > 40) said.splice(0, said.length - 40);
  };
  try {
    const page = await browser.newPage();
    page.on('console', (m) => note(`console.${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => note(`page error: ${e.message}`));
    page.on('crash', () => note('page crashed'));
    page.on('framenavigated', (f) => {
      if (f === page.mainFrame()) note(`navigated to ${f.url()}`);
    });
    page.on('worker', (w) => {
      note(`worker started: ${w.url()}`);
      w.on('close', () => note(`worker closed: ${w.url()}`));
    });
    await page.goto(`http://127.0.0.1:${port}/bench/browser/index.html${query}`);
    const handle = await page
      .waitForFunction(() => (window as unknown as { __benchResult?: unknown }).__benchResult, undefined, { timeout: 600_000, polling: 500 })
      .catch(async (err: Error) => {
        const phase = await page.evaluate(() => document.getElementById('out')?.textContent ?? '').catch(() => '(page gone)');
        throw new Error(`${err.message.split('\n')[0]}; the page's last phase: ${phase}; what it said:\n${said.join('\n')}`);
      });
    return (await handle.jsonValue()) as BrowserBench;
  } finally {
    await browser.close();
    await server.close();
  }
}

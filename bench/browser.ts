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
  const server = await createServer({ server: { host: '127.0.0.1', port: 0 }, logLevel: 'error' });
  await server.listen();
  const address = server.httpServer?.address();
  const port = typeof address === 'object' && address ? address.port : 5173;
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: CHROMIUM_ARGS,
  });
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${port}/bench/browser/index.html${query}`);
    const handle = await page.waitForFunction(() => (window as unknown as { __benchResult?: unknown }).__benchResult, undefined, {
      timeout: 600_000,
    });
    return (await handle.jsonValue()) as BrowserBench;
  } finally {
    await browser.close();
    await server.close();
  }
}

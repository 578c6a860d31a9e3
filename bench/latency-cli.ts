/**
 * The message latency breakdown alone (bench/latency.ts), without the rest of `npm run bench`:
 *
 *   node --import tsx bench/latency-cli.ts [--messages N] [--link relay|direct]
 *
 * Starts its own app server (relay + production build), runs each link with fresh tabs and
 * prints the figures with their targets and the stage table.
 */
import { chromium } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../scripts/chromium.ts';
import { type Link, latencyPhase, stageTable, summaryLines } from './latency.ts';
import { freePort } from '../test/helpers/free-port.ts';
import { startAppServer } from './tabs.ts';

async function main(): Promise<void> {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const messages = Number(arg('--messages') ?? 40);
  const only = arg('--link') as Link | undefined;
  const port = await freePort();
  const server = await startAppServer(port);
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  try {
    for (const link of only ? [only] : (['relay', 'direct'] as Link[])) {
      const p = await latencyPhase(browser, `http://127.0.0.1:${port}/`, link, messages);
      console.log(`\n== ${link} ==`);
      for (const l of summaryLines(p)) console.log(l);
      for (const l of stageTable(p)) console.log(l);
    }
  } finally {
    await browser.close().catch(() => undefined);
    await server.stop();
  }
}

await main();
process.exit(0);

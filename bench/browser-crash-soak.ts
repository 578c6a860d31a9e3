/**
 * Browser crash soak: the app's homeserver (its Web Worker on Chromium's
 * IndexedDB, persistent profile) crashed `--crashes` times (default 20) under
 * local sends and a peer tab's messages, alternately by ending the worker and
 * by crashing the tab (DevTools protocol), at seeded random moments; see
 * test/durability/browser-crash-harness.ts for what is checked after each
 * crash. Starts its own app server (relay + production build) on a free
 * port. Prints one JSON summary on stdout (progress on stderr) and exits 1
 * if anything was partial, lost, duplicated or did not converge.
 *
 *   node --import tsx bench/browser-crash-soak.ts [--crashes 20] [--seed N] [--modes worker,tab,browser]
 *
 * --modes: the crash modes taken in turn (default worker,tab); browser SIGKILLs
 * the victim's whole Chromium (its main process) and relaunches it on the profile.
 */
import '../src/platform/node-polyfills.ts';
import { type CrashMode, runBrowserCrashHarness } from '../test/durability/browser-crash-harness.ts';
import { freePort } from '../test/helpers/hearth-process.ts';
import { startAppServer } from './tabs.ts';
import { wholeNumberFlag } from './flags.ts';

const crashes = wholeNumberFlag('crashes') ?? 20;
const modesAt = process.argv.indexOf('--modes');
const modes = (modesAt >= 0 ? (process.argv[modesAt + 1] ?? '') : 'worker,tab').split(',') as CrashMode[];
if (modes.length === 0 || modes.some((m) => !['worker', 'tab', 'browser'].includes(m))) {
  throw new Error(`--modes takes worker, tab and/or browser, comma-separated; got ${JSON.stringify(process.argv[modesAt + 1])}`);
}
const seed = wholeNumberFlag('seed') ?? Math.floor(Math.random() * 2 ** 31);
process.stderr.write(`browser crash soak: ${crashes} crashes, seed ${seed}; building the app…\n`);
const port = await freePort();
const app = await startAppServer(port);
try {
  const r = await runBrowserCrashHarness({ baseURL: `http://127.0.0.1:${port}`, crashes, seed, modes, log: (line) => process.stderr.write(`${line}\n`) });
  // What must be empty; the summary gives their sizes, and their first lines if any is not.
  const findings = { partial_events: r.inconsistencies, lost_acknowledged: r.lost, divergences: r.divergences, txn_problems: r.txnProblems };
  const failed = Object.values(findings).some((list) => list.length > 0);
  const summary = {
    seed: r.seed,
    crashes: r.crashes,
    worker_ended: r.byMode.worker,
    tab_crashed: r.byMode.tab,
    browser_killed: r.byMode.browser,
    acknowledged: r.acknowledged,
    peer_sent: r.peerSent,
    federation_acknowledged_at_last_crash: r.federationAcknowledged,
    stored_events: r.storedEvents,
    ...Object.fromEntries(Object.entries(findings).map(([k, list]) => [k, list.length])),
    reopen_ms: r.reopenMs,
    converge_ms: r.convergeMs,
    wall_s: Math.round(r.wallMs / 1000),
    ...(failed ? { findings: Object.fromEntries(Object.entries(findings).map(([k, list]) => [k, list.slice(0, 50)])) } : {}),
  };
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  process.exitCode = failed ? 1 : 0;
} finally {
  await app.stop();
}

/**
 * Crash soak: `hearth serve --data DIR` SIGKILLed under load (local sends and
 * a peer's messages) `--kills` times (default 100) at seeded random moments,
 * restarted on the same DIR each time; see test/durability/crash-harness.ts
 * for what is checked after each kill. Prints one JSON summary on stdout
 * (progress on stderr) and exits 1 if anything was lost, inconsistent or
 * did not converge.
 *
 *   node --import tsx bench/crash-soak.ts [--kills 100] [--seed N]
 */
import { runCrashHarness } from '../test/durability/crash-harness.ts';
import { wholeNumberFlag } from './flags.ts';

const kills = wholeNumberFlag('kills') ?? 100;
const seed = wholeNumberFlag('seed') ?? Math.floor(Math.random() * 2 ** 31);
process.stderr.write(`crash soak: ${kills} kills, seed ${seed}\n`);
const r = await runCrashHarness({ kills, seed, log: (line) => process.stderr.write(`${line}\n`) });
const summary = {
  seed: r.seed,
  kills: r.kills,
  acknowledged: r.acknowledged,
  peer_sent: r.peerSent,
  room_messages: r.roomMessages,
  lost: r.lost.length,
  inconsistencies: r.inconsistencies.length,
  divergences: r.divergences.length,
  txn_problems: r.txnProblems.length,
  restart_ms: r.restartMs,
  converge_ms: r.convergeMs,
  wall_s: Math.round(r.wallMs / 1000),
  ...(r.lost.length ? { lost_ids: r.lost } : {}),
  ...(r.inconsistencies.length ? { inconsistency_list: r.inconsistencies.slice(0, 50) } : {}),
  ...(r.divergences.length ? { divergence_list: r.divergences } : {}),
  ...(r.txnProblems.length ? { txn_problem_list: r.txnProblems } : {}),
};
process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
process.exitCode = r.lost.length || r.inconsistencies.length || r.divergences.length || r.txnProblems.length ? 1 : 0;

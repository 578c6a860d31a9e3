/**
 * Checks a deployment's hearth-config.json before friends load the app:
 *
 *   node --import tsx scripts/check-config.ts dist/hearth-config.json [--http]
 *
 * Prints the relays the app will use, in order, and every problem in words
 * (src/app/relay-config.ts); exits 1 when there is a problem. The page is
 * assumed to be served over https (a deployment), so plain ws:// relays are
 * problems; --http checks for a page served over plain http (a LAN test).
 */
import { readFileSync } from 'node:fs';
import { checkRelayConfig } from '../src/app/relay-config.ts';

const file = process.argv[2];
if (!file) {
  console.error('usage: node --import tsx scripts/check-config.ts FILE [--http]');
  process.exit(2);
}
let doc: unknown;
try {
  doc = JSON.parse(readFileSync(file, 'utf8'));
} catch (err) {
  console.error(`${file}: ${(err as Error).message}`);
  process.exit(1);
}
const { relays, problems } = checkRelayConfig(doc, { pageProtocol: process.argv.includes('--http') ? 'http:' : 'https:' });
for (const [i, r] of relays.entries()) console.log(`relay ${i + 1}${i === 0 ? ' (used while it answers)' : ' (fail-over)'}: ${r}`);
for (const p of problems) console.error(`${file}: ${p}`);
process.exit(problems.length ? 1 : 0);

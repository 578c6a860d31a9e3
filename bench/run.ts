/**
 * `npm run bench [-- --json]`: protocol-core benchmarks. Prints a table (or
 * JSON with --json) and writes bench/results/latest.json. Targets are in
 * docs/benchmarks.md; they are measured here, never asserted in tests.
 */
import '../src/platform/node-polyfills.ts';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { type BenchResult, benchCore } from './core.ts';
import { benchStateRes } from './state-res.ts';

const json = process.argv.includes('--json');

async function main(): Promise<void> {
  const results: BenchResult[] = [];
  results.push(...(await benchCore()));
  for (const r of await benchStateRes()) results.push({ name: r.name, value: r.ms, unit: 'ms', detail: r.detail });
  const report = {
    date: new Date().toISOString(),
    machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`,
    results,
  };
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  writeFileSync(new URL('./results/latest.json', import.meta.url), `${JSON.stringify(report, null, 2)}\n`);
  if (json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return;
  }
  console.log(`Hearth benchmarks — ${report.date} — ${report.machine}\n`);
  const w = Math.max(...results.map((r) => r.name.length));
  for (const r of results) {
    const v = r.unit === 'ms' ? r.value.toFixed(1) : Math.round(r.value).toLocaleString('en-US');
    console.log(`${r.name.padEnd(w)}  ${v.padStart(10)} ${r.unit.padEnd(5)} ${r.detail ?? ''}`);
  }
}

await main();

#!/usr/bin/env node
// Runs `node ARGS…` with libuv's thread pool sized to the machine's cores
// (unless UV_THREADPOOL_SIZE is already set), for the Node benchmarks.
//
// Why: Node verifies Ed25519 (WebCrypto) on libuv's pool, 4 threads by
// default. On a 2-core machine those 4 threads and the event loop share two
// cores, and under Linux's fair scheduler the event loop — the critical path
// of ingest: validation, placement, auth, the store — gets ~2/5 of them while
// verifications are queued. With as many pool threads as cores the raw
// verification rate is the same (measured alternately: 7.4–10.3k/s with 2
// threads, 7.7–9.9k/s with 4) and the event loop is not crowded out. It must
// be set before the process starts: the pool is created when the module
// loader first reads a file, before any script runs.
import { spawn } from 'node:child_process';
import { availableParallelism, constants } from 'node:os';

const env = { ...process.env, UV_THREADPOOL_SIZE: process.env.UV_THREADPOOL_SIZE ?? String(availableParallelism()) };
const child = spawn(process.execPath, process.argv.slice(2), { stdio: 'inherit', env });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
// A child killed by a signal exits the shell way (128 + its number): re-raising the signal here
// would only reach the forwarding handlers above and leave this process running.
child.on('exit', (code, signal) => process.exit(signal ? 128 + (constants.signals[signal] ?? 0) : (code ?? 1)));

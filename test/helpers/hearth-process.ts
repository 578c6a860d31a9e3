/**
 * Long-running `hearth` processes for tests (`hearth serve`, `hearth relay`):
 * start one and wait for its start-up JSON line, stop it (SIGTERM, then
 * SIGKILL if it hangs), and a free port for a server that must come back
 * on the same URL. Every process started here is SIGKILLed if the test
 * process exits mid-run, so none is left holding its ports.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export { freePort } from './free-port.ts';

const BIN = fileURLToPath(new URL('../../bin/hearth.mjs', import.meta.url));

export interface HearthProcess {
  child: ChildProcessWithoutNullStreams;
  /** The start-up JSON line (a relay's fields or a server's). */
  info: { server_name: string; client_url: string; multiaddrs: string[]; tcp_multiaddr: string; user_id?: string };
  /** Everything it wrote to stderr so far. */
  stderr(): string;
  /** Resolves with the exit code when the process has ended. */
  exited: Promise<number | null>;
}

const running = new Set<HearthProcess>();
process.once('exit', () => {
  for (const p of running) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
});

/**
 * Starts `hearth ARGS` and resolves once it prints its first line on stdout (JSON).
 * `nodeArgs`: flags for node itself (`--experimental-websocket` to dial a relay's ws address).
 */
export function startHearth(args: string[], timeoutMs = 30_000, nodeArgs: string[] = []): Promise<HearthProcess> {
  const child = spawn(process.execPath, [...nodeArgs, BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`hearth ${args.join(' ')} printed nothing in ${timeoutMs} ms; stderr: ${stderr}`)), timeoutMs);
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.stdout.on('data', (d) => {
      stdout += d;
      const nl = stdout.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      const p: HearthProcess = { child, info: JSON.parse(stdout.slice(0, nl)), stderr: () => stderr, exited };
      running.add(p);
      void exited.then(() => running.delete(p));
      resolve(p);
    });
    child.on('error', reject);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`hearth ${args.join(' ')} exited (${code}) before starting: ${stderr}`));
    });
  });
}

/** SIGTERM, and SIGKILL if it has not exited within `graceMs`; resolves once it is gone. */
export async function stopHearth(p: HearthProcess, graceMs = 10_000): Promise<void> {
  if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
  const code = await Promise.race([p.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), graceMs))]);
  if (code === 'timeout') {
    p.child.kill('SIGKILL');
    await p.exited;
  }
}


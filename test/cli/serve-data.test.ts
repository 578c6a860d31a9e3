/**
 * `hearth serve --data DIR`: the server keeps its identity (so its name) and
 * its accounts across a restart, and a second process on the same DIR is
 * refused with a message about the lock.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { hearth } from './helpers.ts';

const BIN = fileURLToPath(new URL('../../bin/hearth.mjs', import.meta.url));

interface Running {
  child: ChildProcessWithoutNullStreams;
  /** The start-up JSON line. */
  started: { server_name: string; user_id?: string };
  /** Resolves with the exit code and all of stdout and stderr once the process ends. */
  exited: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

const children: ChildProcessWithoutNullStreams[] = [];

/** Starts `hearth serve ARGS` and waits for its start-up line on stdout. */
function serve(args: string[]): Promise<Running> {
  const child = spawn(process.execPath, [BIN, 'serve', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  return new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.stdout.on('data', (d) => {
      stdout += d;
      const nl = stdout.indexOf('\n');
      if (nl >= 0) resolve({ child, started: JSON.parse(stdout.slice(0, nl)), exited });
    });
    child.on('error', reject);
    void exited.then(({ code }) => reject(new Error(`hearth serve exited (${code}) before starting: ${stderr}`)));
  });
}

const root = mkdtempSync(join(tmpdir(), 'hearth-serve-data-'));

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('hearth serve --data DIR', () => {
  it('keeps its name and accounts across a restart; a second process on DIR is refused', { timeout: 90_000 }, async () => {
    const dir = join(root, 'node-a');
    const first = await serve(['--data', dir, '--user', 'alice']);
    const { server_name: serverName, user_id: userId } = first.started;
    expect(serverName).toBeTruthy();
    expect(userId).toBe(`@alice:${serverName}`);
    expect(existsSync(join(dir, 'LOCK'))).toBe(true);

    // A second server on the same directory, while the first runs.
    const second = await hearth(['serve', '--data', dir], '');
    expect(second.code).not.toBe(0);
    expect(second.stdout).toBe('');
    expect(second.stderr).toContain(`${dir}: data directory in use by process ${first.child.pid}`);
    expect(second.stderr).toMatch(/lock file .*LOCK/);

    first.child.kill('SIGTERM');
    const end = await first.exited;
    expect(end.code).toBe(0);
    expect(end.stdout).toContain('"stopped":"SIGTERM"');
    expect(existsSync(join(dir, 'LOCK'))).toBe(false);

    const again = await serve(['--data', dir, '--user', 'alice']);
    expect(again.started.server_name).toBe(serverName);
    expect(again.started.user_id).toBe(userId);
    again.child.kill('SIGTERM');
    expect((await again.exited).code).toBe(0);
  });

  it('without --data, each start is a new server', { timeout: 90_000 }, async () => {
    const names: string[] = [];
    for (let i = 0; i < 2; i++) {
      const s = await serve([]);
      names.push(s.started.server_name);
      s.child.kill('SIGTERM');
      await s.exited;
    }
    expect(names[0]).not.toBe(names[1]);
  });
});

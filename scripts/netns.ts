/**
 * Separate network stacks on one machine, for tests and benchmarks that need
 * several "computers" (issue 20): Linux network namespaces joined by a bridge.
 *
 *   root namespace ── bridge hnb<id> (SUBNET.1)
 *                        ├── veth ── namespace hn-<id>-relay (SUBNET.2)
 *                        ├── veth ── namespace hn-<id>-serve (SUBNET.3)
 *                        └── …
 *
 * The bridge lives in the root namespace with the first address, so the test
 * process itself can serve the app to the namespaces and reach their HTTP
 * ports; everything else runs inside a namespace (`ip netns exec`) and sees
 * only its own loopback and its bridge address. Needs root (CAP_NET_ADMIN):
 * `namespaceSupport()` says why not where it is missing.
 *
 * Names carry the creating process's PID, so a lab left behind by a killed
 * run is removed by the next one (`removeStaleLabs`) while a concurrent run's
 * lab is left alone. Every lab is bounded: a handful of namespaces and one
 * /24, all deleted by `teardown()`.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { type IncomingMessage, type Server, type ServerResponse, createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './chromium.ts';

const run = promisify(execFile);
const PREFIX = 'hn-';
const BRIDGE_PREFIX = 'hnb';

async function ip(...args: string[]): Promise<string> {
  return (await run('ip', args)).stdout;
}

/** Undefined when namespaces can be created here; otherwise the reason (not root, no `ip`, no permission). */
export async function namespaceSupport(): Promise<string | undefined> {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  const probe = `${PREFIX}${process.pid}-probe`;
  try {
    await ip('netns', 'add', probe);
  } catch (err) {
    return `cannot create a network namespace (\`ip netns add\` needs root / CAP_NET_ADMIN): ${String((err as Error).message).split('\n')[0]}`;
  }
  await ip('netns', 'del', probe).catch(() => undefined);
  return undefined;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Deletes namespaces and bridges of labs whose creating process is gone. */
export async function removeStaleLabs(): Promise<void> {
  const names = (await ip('netns', 'list').catch(() => ''))
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(PREFIX));
  for (const n of names) {
    const pid = Number(n.slice(PREFIX.length).split('-')[0]);
    if (Number.isInteger(pid) && !pidAlive(pid)) await ip('netns', 'del', n).catch(() => undefined);
  }
  const links = (await ip('-o', 'link', 'show', 'type', 'bridge').catch(() => ''))
    .split('\n')
    .map((l) => l.split(': ')[1]?.split('@')[0] ?? '')
    .filter((n) => n.startsWith(BRIDGE_PREFIX));
  for (const l of links) {
    const pid = Number(l.slice(BRIDGE_PREFIX.length));
    if (Number.isInteger(pid) && !pidAlive(pid)) await ip('link', 'del', l).catch(() => undefined);
  }
}

export interface Host {
  /** The namespace's name (for `ip netns exec`). */
  ns: string;
  /** Its address on the bridge. */
  addr: string;
}

export interface Lab {
  /** The root namespace's address on the bridge (the test process listens here). */
  hostAddr: string;
  hosts: Record<string, Host>;
  /** Spawns `command args` inside `host`'s namespace. */
  spawnIn(host: Host, command: string, args: string[]): ChildProcess;
  /** The argv prefix that runs a command inside `host`'s namespace. */
  execPrefix(host: Host): string[];
  /** A Chromium executable (a wrapper script) that runs inside `host`'s namespace. */
  chromiumIn(host: Host): Promise<string>;
  /** A fresh temporary directory, removed by teardown. */
  dir: string;
  /** Kills what was spawned in the lab, deletes its namespaces, bridge and directory. */
  teardown(): Promise<void>;
}

/** 10.77.N with N from `start` on, the first not already on an interface here (another lab's bridge). */
async function freeSubnet(start: number): Promise<string> {
  const used = new Set([...(await ip('-o', '-4', 'addr', 'show')).matchAll(/inet 10\.77\.(\d+)\./g)].map((m) => Number(m[1])));
  for (let i = 0; i < 250; i++) {
    const n = (start + i) % 250;
    if (!used.has(n)) return `10.77.${n}`;
  }
  throw new Error('no free 10.77.N.0/24 for a lab');
}

/**
 * Creates one namespace per name, each with a veth into a new bridge.
 * The /24 is 10.77.N.0, N from the PID and not in use, so concurrent labs do not overlap.
 */
export async function createLab(names: string[]): Promise<Lab> {
  await removeStaleLabs();
  const pid = process.pid;
  const subnet = await freeSubnet(pid % 250);
  const bridge = `${BRIDGE_PREFIX}${pid}`;
  const dir = await mkdtemp(join(tmpdir(), 'hearth-netns-'));
  const created: string[] = [];
  const children = new Set<ChildProcess>();
  const teardown = async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await Promise.all([...children].map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
    // Deleting a namespace deletes its end of the veth, and with it the peer on the bridge.
    for (const ns of created) await ip('netns', 'del', ns).catch(() => undefined);
    await ip('link', 'del', bridge).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };
  const hosts: Record<string, Host> = {};
  try {
    await ip('link', 'add', bridge, 'type', 'bridge');
    await ip('addr', 'add', `${subnet}.1/24`, 'dev', bridge);
    await ip('link', 'set', bridge, 'up');
    for (const [i, name] of names.entries()) {
      const ns = `${PREFIX}${pid}-${name}`;
      await ip('netns', 'add', ns);
      created.push(ns);
      const outer = `hnv${pid}x${i}`;
      const addr = `${subnet}.${i + 2}`;
      await ip('link', 'add', outer, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
      await ip('link', 'set', outer, 'master', bridge, 'up');
      await ip('-n', ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0');
      await ip('-n', ns, 'link', 'set', 'eth0', 'up');
      await ip('-n', ns, 'link', 'set', 'lo', 'up');
      // A default route out of the bridge port, with no gateway: Chromium's WebRTC gathers host
      // candidates only on the interface of the default route (none without it). Nothing
      // forwards beyond the bridge, so traffic still stays inside the lab.
      await ip('-n', ns, 'route', 'add', 'default', 'dev', 'eth0');
      hosts[name] = { ns, addr };
    }
  } catch (err) {
    await teardown();
    throw err;
  }
  const execPrefix = (h: Host) => ['ip', 'netns', 'exec', h.ns];
  return {
    hostAddr: `${subnet}.1`,
    hosts,
    dir,
    execPrefix,
    spawnIn(h, command, args) {
      const [cmd, ...pre] = execPrefix(h);
      // `ip netns exec` execs the command in place: the child's PID is the command's.
      const child = spawn(cmd!, [...pre, command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.add(child);
      child.once('exit', () => children.delete(child));
      return child;
    },
    async chromiumIn(h) {
      const file = join(dir, `chromium-${h.ns}.sh`);
      // Playwright talks to the browser over inherited pipes (fds 3 and 4), which cross namespaces.
      await writeFile(file, `#!/bin/sh\nexec ${execPrefix(h).join(' ')} ${CHROMIUM_PATH} "$@"\n`);
      await chmod(file, 0o755);
      return file;
    },
    teardown,
  };
}

/**
 * Chromium flags for a page served from `origin` on a bridge address: a plain
 * http origin off localhost is not a secure context (no WebCrypto, no service
 * worker), so it is declared secure for this test browser only; and WebRTC
 * host candidates carry the real bridge address instead of an mDNS `.local`
 * name, which the other namespace could not resolve.
 */
export function labChromiumArgs(origin: string): string[] {
  return [...CHROMIUM_ARGS, `--unsafely-treat-insecure-origin-as-secure=${origin}`, '--disable-features=WebRtcHideLocalIpsWithMdns'];
}

export interface AppFront {
  url: string;
  /** Replaces the relay list served as /hearth-config.json. */
  setRelays(relays: string[]): void;
  close(): Promise<void>;
}

/**
 * Serves the app to the namespaces on `host:port` (0: any free port): every request is passed to
 * `upstream` (a running `scripts/app-server.ts --preview`), except
 * /hearth-config.json, answered here with the lab's relays.
 */
export async function startAppFront(host: string, port: number, upstream: string, relays: string[]): Promise<AppFront> {
  let config = JSON.stringify({ relays });
  const up = new URL(upstream);
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url?.split('?')[0] === '/hearth-config.json') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(config);
      return;
    }
    const out = request(
      { host: up.hostname, port: up.port, method: req.method, path: req.url, headers: { ...req.headers, host: up.host } },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    out.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(out);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as { port: number }).port;
  return {
    url: `http://${host}:${bound}`,
    setRelays(r) {
      config = JSON.stringify({ relays: r });
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Resolves with the first line `child` prints on stdout, parsed as JSON (a start-up line). */
export function firstJsonLine<T>(child: ChildProcess, what: string, timeoutMs = 60_000): Promise<T> {
  let stdout = '';
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} printed nothing in ${timeoutMs} ms; stderr: ${stderr.slice(-2000)}`)), timeoutMs);
    child.stdout?.on('data', (d) => {
      stdout += d;
      const nl = stdout.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      try {
        resolve(JSON.parse(stdout.slice(0, nl)) as T);
      } catch {
        reject(new Error(`${what} printed ${stdout.slice(0, nl)}; stderr: ${stderr.slice(-2000)}`));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code}) before starting; stderr: ${stderr.slice(-2000)}`));
    });
  });
}

/** SIGKILL and wait until it is gone. */
export async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await gone;
}

/**
 * Two `hearth serve` processes federating through a `hearth relay`, for the
 * matrix-js-sdk tests: started before the file's cases and stopped after
 * them (with the SDK clients made through `clients`). Server B keeps its
 * state in a --data DIR on a fixed client port, so a case can stop it and
 * start it again on the same URL. `step` runs a case and, when it fails,
 * adds the SDK's warnings and both servers' stderr to the error.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MatrixClient } from 'matrix-js-sdk';
import { afterAll, beforeAll, it } from 'vitest';
import { type HearthProcess, freePort, startHearth as start, stopHearth as stop } from './hearth-process.ts';
import { muteConsole, realConsole, sdkLog } from './js-sdk-console.ts';

export interface TwoServers {
  readonly relay: HearthProcess;
  readonly serverA: HearthProcess;
  readonly serverB: HearthProcess;
  readonly urlA: string;
  readonly urlB: string;
  /** The port server B's Client-Server API listens on, the same across restarts. */
  readonly bobPort: number;
  /** SDK clients to stop at the end. */
  readonly clients: MatrixClient[];
  stopB(): Promise<void>;
  /** Starts server B again on its --data DIR and port. */
  startB(): Promise<HearthProcess>;
  step(name: string, timeout: number, fn: () => Promise<void>): void;
}

export function twoHearthServers(prefix: string): TwoServers {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const bobData = join(root, 'bob-server');
  const s = {
    clients: [] as MatrixClient[],
  } as { -readonly [K in keyof TwoServers]: TwoServers[K] };
  const startBob = () => start(['serve', '--relay', s.relay.info.tcp_multiaddr, '--data', bobData, '--client-port', String(s.bobPort)]);
  s.stopB = () => stop(s.serverB);
  s.startB = async () => {
    s.serverB = await startBob();
    return s.serverB;
  };
  const explain = (err: unknown): never => {
    const tail = (t: string) => t.split('\n').slice(-15).join('\n');
    throw new Error(
      `${(err as Error)?.stack ?? String(err)}\n--- js-sdk warnings ---\n${sdkLog.slice(-25).join('\n')}\n--- server A stderr ---\n${tail(s.serverA?.stderr() ?? '')}\n--- server B stderr ---\n${tail(s.serverB?.stderr() ?? '')}`,
    );
  };
  s.step = (name, timeout, fn) => it(name, { timeout }, () => fn().catch(explain));

  beforeAll(async () => {
    muteConsole();
    s.relay = await start(['relay', '--port', '0', '--tcp-port', '0', '--key-file', join(root, 'relay.key')]);
    s.bobPort = await freePort();
    [s.serverA, s.serverB] = await Promise.all([start(['serve', '--relay', s.relay.info.tcp_multiaddr, '--client-port', '0']), startBob()]);
    s.urlA = s.serverA.info.client_url;
    s.urlB = s.serverB.info.client_url;
  }, 60_000);

  afterAll(async () => {
    for (const c of s.clients) c.stopClient();
    await Promise.all([s.relay, s.serverA, s.serverB].filter((p) => p !== undefined).map((p) => stop(p)));
    Object.assign(console, realConsole);
    rmSync(root, { recursive: true, force: true });
  }, 30_000);

  return s;
}

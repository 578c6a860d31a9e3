/**
 * Hearth across separate network stacks (issue 20), shared by
 * e2e/netns.spec.ts and bench/netns.ts: four namespaces on one bridge —
 *
 *   relay  `hearth relay` (public limits), ws :9090, tcp :9091, metrics :9100
 *   serve  `hearth serve` (in memory), its Client-Server API on :8008
 *   alice  a Chromium with the app
 *   bob    another Chromium with the app
 *
 * — and, in the root namespace on the bridge, the app's front (scripts/netns.ts
 * startAppFront) passing requests to a running `app-server.ts --preview` and
 * answering /hearth-config.json with the lab relay's address.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium } from '@playwright/test';
import { type AppFront, type Lab, createLab, firstJsonLine, kill, labChromiumArgs, startAppFront } from './netns.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const HEARTH_BIN = join(ROOT, 'bin/hearth.mjs');

export interface RelayInfo {
  multiaddr: string;
  tcp_multiaddr: string;
  peer_id: string;
  /** Prometheus text (hearth_relay_peers, …). */
  metrics_url: string;
}

export interface HearthLab {
  lab: Lab;
  front: AppFront;
  relay: RelayInfo;
  /** `hearth serve`'s Client-Server API, as the root namespace reaches it. */
  serveUrl: string;
  serveName: string;
  /** Everything `hearth serve` and the relay wrote to stderr (for failure messages). */
  logs(): string;
  /** SIGKILLs the relay. */
  killRelay(): Promise<void>;
  /** Starts the relay again with the same key on the same addresses. */
  restartRelay(): Promise<void>;
  /** One figure from the relay's metrics (e.g. hearth_relay_reservations), read over the bridge; NaN if absent. */
  relayMetric(name: string): Promise<number>;
  /** A Chromium inside `who`'s namespace, with the flags the lab's origin needs. */
  launchBrowser(who: 'alice' | 'bob'): Promise<Browser>;
  teardown(): Promise<void>;
}

/** Builds the lab; `upstream` is a running app server (the Playwright webServer, or one the bench starts). */
export async function startHearthLab(upstream: string): Promise<HearthLab> {
  const lab = await createLab(['relay', 'serve', 'alice', 'bob']);
  const h = lab.hosts;
  const browsers: Browser[] = [];
  let front: AppFront | undefined;
  let relayChild: ChildProcess | undefined;
  let log = '';
  const capture = (who: string, c: ChildProcess) =>
    c.stderr?.on('data', (d) => {
      log = `${log}${String(d)
        .split('\n')
        .filter((l) => l.length > 0)
        .map((l) => `[${who}] ${l}\n`)
        .join('')}`.slice(-20_000);
    });
  const startRelay = async (): Promise<RelayInfo> => {
    // `hearth relay` as it would run for friends on the internet (public limits, a persistent key, metrics), on the namespace's address.
    const a = h.relay!.addr;
    const c = lab.spawnIn(h.relay!, process.execPath, [
      HEARTH_BIN,
      'relay',
      '--host',
      a,
      '--port',
      '9090',
      '--tcp-port',
      '9091',
      '--key',
      join(lab.dir, 'relay.key'),
      '--metrics',
      `${a}:9100`,
    ]);
    capture('relay', c);
    relayChild = c;
    return firstJsonLine<RelayInfo>(c, 'the relay');
  };
  const teardown = async () => {
    for (const b of browsers) await b.close().catch(() => undefined);
    await front?.close();
    await lab.teardown();
  };
  try {
    const relay = await startRelay();
    front = await startAppFront(lab.hostAddr, 0, upstream, [relay.multiaddr]);
    const serve = lab.spawnIn(h.serve!, process.execPath, [
      HEARTH_BIN,
      'serve',
      '--relay',
      relay.tcp_multiaddr,
      // Listening on its own address, as a server on a network would (not 127.0.0.1, which no other namespace reaches).
      '--host',
      h.serve!.addr,
      '--client-port',
      '8008',
      '--client-host',
      h.serve!.addr,
    ]);
    capture('serve', serve);
    const info = await firstJsonLine<{ server_name: string; client_url: string }>(serve, 'hearth serve');
    const appFront = front;
    return {
      lab,
      front: appFront,
      relay,
      serveUrl: info.client_url,
      serveName: info.server_name,
      logs: () => log,
      killRelay: async () => {
        if (relayChild) await kill(relayChild);
      },
      restartRelay: async () => {
        const again = await startRelay();
        if (again.peer_id !== relay.peer_id) throw new Error('the restarted relay has a new PeerId');
      },
      relayMetric: async (name) => {
        const text = await (await fetch(relay.metrics_url)).text();
        const m = text.match(new RegExp(`^${name} (\\d+(?:\\.\\d+)?)$`, 'm'));
        return m ? Number(m[1]) : Number.NaN;
      },
      launchBrowser: async (who) => {
        const b = await chromium.launch({ executablePath: await lab.chromiumIn(h[who]!), args: labChromiumArgs(appFront.url) });
        browsers.push(b);
        return b;
      },
      teardown,
    };
  } catch (err) {
    await teardown();
    throw err;
  }
}

/** A user on `hearth serve` through its Client-Server API (fetch from the root namespace, over the bridge). */
export class ServeUser {
  private txn = 0;
  private constructor(
    readonly base: string,
    readonly userId: string,
    private readonly token: string,
  ) {}

  static async register(base: string, username: string): Promise<ServeUser> {
    const r = await fetch(`${base}/_matrix/client/v3/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password: 'netns lab password', auth: { type: 'm.login.dummy' } }),
    });
    const body = (await r.json()) as { user_id?: string; access_token?: string };
    if (!r.ok || !body.user_id || !body.access_token) throw new Error(`register ${username}: ${r.status} ${JSON.stringify(body)}`);
    return new ServeUser(base, body.user_id, body.access_token);
  }

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const r = await fetch(`${this.base}/_matrix/client/v3${path}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const json = (await r.json()) as T;
    if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(json)}`);
    return json;
  }

  /** The IDs of rooms this user is invited to (one /sync). */
  async invites(): Promise<string[]> {
    const s = await this.call<{ rooms?: { invite?: Record<string, unknown> } }>('GET', '/sync?timeout=0');
    return Object.keys(s.rooms?.invite ?? {});
  }

  join(roomId: string): Promise<unknown> {
    return this.call('POST', `/join/${encodeURIComponent(roomId)}`, {});
  }

  send(roomId: string, body: string): Promise<unknown> {
    this.txn += 1;
    return this.call('PUT', `/rooms/${encodeURIComponent(roomId)}/send/m.room.message/netns-${Date.now()}-${this.txn}`, { msgtype: 'm.text', body });
  }

  /** The bodies of the room's latest messages (newest first). */
  async bodies(roomId: string, limit = 50): Promise<string[]> {
    const r = await this.call<{ chunk: { type: string; content?: { body?: unknown } }[] }>(
      'GET',
      `/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=${limit}`,
    );
    return r.chunk.flatMap((e) => (typeof e.content?.body === 'string' ? [e.content.body] : []));
  }
}

/**
 * The Client-Server API in Node, over real HTTP (node:http on 127.0.0.1)
 * and two homeservers federating over libp2p TCP on loopback:
 * - incremental /sync round trip carrying one new event: alice sends (not
 *   timed), then one `GET /sync?since=…&timeout=0` is timed;
 * - send → delivery: bob long-polls /sync on server B; alice's
 *   `PUT /rooms/…/send/…` on server A starts the clock, which stops when
 *   bob's /sync answer holding the event arrives.
 * - to-device delivery: alice's `PUT /sendToDevice` on server A (to bob's
 *   device, so an m.direct_to_device EDU through A's outbox) starts the
 *   clock; bob's /sync answer on B carrying it in `to_device` stops it.
 * All as p50/p95 over SAMPLES messages (target p50 < 50 ms, docs/benchmarks.md).
 */
import { IDBFactory } from 'fake-indexeddb';
import { type ClientHttpServer, serveClientApi } from '../src/net/client-http.ts';
import type { Libp2pTransport } from '../src/net/libp2p-transport.ts';
import { type NodeTransportOptions, nodeTransportFactory } from '../src/net/node.ts';
import { ClientApi } from '../src/server/client-api/index.ts';
import { Homeserver } from '../src/server/homeserver.ts';
import { openNodeStore } from '../src/server/store/node.ts';

const SAMPLES = 40;

interface Server {
  hs: Homeserver;
  http: ClientHttpServer;
  transport: Libp2pTransport;
}

let seq = 0;

async function startServer(label: string, opts: NodeTransportOptions): Promise<Server> {
  const store = await openNodeStore(`hearth-bench-capi-${label}-${++seq}`, { indexedDB: new IDBFactory() });
  let transport: Libp2pTransport | undefined;
  const hs = await Homeserver.open({ store, transport: nodeTransportFactory(opts, (t) => (transport = t)) });
  const api = await ClientApi.open(hs, { pbkdf2Iterations: 1000 });
  return { hs, http: await serveClientApi(api, { port: 0 }), transport: transport! };
}

async function call(base: string, method: string, path: string, token?: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(base + path, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const json = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

async function register(base: string, username: string): Promise<string> {
  const r = await call(base, 'POST', '/_matrix/client/v3/register', undefined, { username, password: 'bench', auth: { type: 'm.login.dummy' } });
  return r.access_token as string;
}

/** Whether the sync answer's timeline for the room holds a message with this body. */
function holds(sync: Record<string, unknown>, roomId: string, body: string): boolean {
  const room = (sync.rooms as Record<string, Record<string, unknown>>).join?.[roomId] as
    | { timeline?: { events?: { content?: { body?: unknown } }[] } }
    | undefined;
  return room?.timeline?.events?.some((e) => e.content?.body === body) ?? false;
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

export interface ClientApiBench {
  syncP50: number;
  syncP95: number;
  deliveryP50: number;
  deliveryP95: number;
  toDeviceP50: number;
  toDeviceP95: number;
  samples: number;
}

export async function benchClientApi(): Promise<ClientApiBench> {
  const a = await startServer('a', {});
  const tcp = a.transport.multiaddrs().find((m) => m.includes('/tcp/') && !m.includes('/ws') && !m.includes('p2p-circuit'))!;
  const b = await startServer('b', { bootstrap: [tcp] });
  try {
    const A = a.http.url;
    const B = b.http.url;
    const alice = await register(A, 'alice');
    const bob = await register(B, 'bob');
    const bobDevice = (await call(B, 'GET', '/_matrix/client/v3/account/whoami', bob)).device_id as string;
    const { room_id: roomId } = (await call(A, 'POST', '/_matrix/client/v3/createRoom', alice, { preset: 'public_chat' })) as { room_id: string };
    const enc = encodeURIComponent(roomId);
    const start = performance.now();
    for (;;) {
      try {
        await call(B, 'POST', `/_matrix/client/v3/join/${enc}?server_name=${a.hs.serverName}`, bob, {});
        break;
      } catch (err) {
        if (performance.now() - start > 20_000) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    // Round trip of an incremental sync carrying one new event (alice's own server).
    let since = (await call(A, 'GET', '/_matrix/client/v3/sync?timeout=0', alice)).next_batch as string;
    const syncMs: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      await call(A, 'PUT', `/_matrix/client/v3/rooms/${enc}/send/m.room.message/s${i}`, alice, { msgtype: 'm.text', body: `s${i}` });
      const t0 = performance.now();
      const s = await call(A, 'GET', `/_matrix/client/v3/sync?since=${since}&timeout=0`, alice);
      syncMs.push(performance.now() - t0);
      if (!holds(s, roomId, `s${i}`)) throw new Error('the incremental sync did not carry the new event');
      since = s.next_batch as string;
    }
    // Send on A → bob's long-poll on B answers with it.
    let bobSince = (await call(B, 'GET', '/_matrix/client/v3/sync?timeout=0', bob)).next_batch as string;
    const deliveryMs: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      const body = `d${i}`;
      const waiting = (async () => {
        for (;;) {
          const s = await call(B, 'GET', `/_matrix/client/v3/sync?since=${bobSince}&timeout=10000`, bob);
          bobSince = s.next_batch as string;
          if (holds(s, roomId, body)) return performance.now();
        }
      })();
      // Let bob's long-poll reach the server before the clock starts.
      await new Promise((r) => setTimeout(r, 20));
      const t0 = performance.now();
      await call(A, 'PUT', `/_matrix/client/v3/rooms/${enc}/send/m.room.message/d${i}`, alice, { msgtype: 'm.text', body });
      const got = await Promise.race([waiting, new Promise<number>((r) => setTimeout(() => r(Number.NaN), 15_000))]);
      if (Number.isNaN(got)) throw new Error(`message ${i} did not reach bob's sync in 15 s`);
      deliveryMs.push(got - t0);
    }
    // To-device: sendToDevice on A → bob's long-poll on B answers with it in to_device.
    const toDeviceMs: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      const waiting = (async () => {
        for (;;) {
          const s = await call(B, 'GET', `/_matrix/client/v3/sync?since=${bobSince}&timeout=10000`, bob);
          bobSince = s.next_batch as string;
          const events = (s.to_device as { events?: { content?: { n?: unknown } }[] } | undefined)?.events ?? [];
          if (events.some((e) => e.content?.n === i)) return performance.now();
        }
      })();
      await new Promise((r) => setTimeout(r, 20));
      const t0 = performance.now();
      await call(A, 'PUT', `/_matrix/client/v3/sendToDevice/org.hearth.bench/t${i}`, alice, { messages: { [`@bob:${b.hs.serverName}`]: { [bobDevice]: { n: i } } } });
      const got = await Promise.race([waiting, new Promise<number>((r) => setTimeout(() => r(Number.NaN), 15_000))]);
      if (Number.isNaN(got)) throw new Error(`to-device message ${i} did not reach bob's sync in 15 s`);
      toDeviceMs.push(got - t0);
    }
    return {
      syncP50: percentile(syncMs, 50),
      syncP95: percentile(syncMs, 95),
      deliveryP50: percentile(deliveryMs, 50),
      deliveryP95: percentile(deliveryMs, 95),
      toDeviceP50: percentile(toDeviceMs, 50),
      toDeviceP95: percentile(toDeviceMs, 95),
      samples: SAMPLES,
    };
  } finally {
    for (const s of [a, b]) {
      await s.http.close().catch(() => undefined);
      await s.hs.stop().catch(() => undefined);
    }
  }
}

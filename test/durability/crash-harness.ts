/**
 * Crash consistency, proven by killing: a `hearth serve --data DIR` process
 * (the victim) under load — local sends through the Client-Server API and
 * ingest of a peer's messages over libp2p — SIGKILLed at seeded random
 * moments, restarted on the same DIR each time. After every kill:
 *
 * 1. no partial event: the dead victim's store, opened directly, passes
 *    `checkStoreConsistency` (state groups, DAG edges, extremities);
 * 2. no acknowledged event lost: every event ID the victim answered 200 for
 *    on PUT /send is in the store;
 * 3. after the restart the room converges with the peer: with the load
 *    paused, both servers' /messages (all pages) hold the same message event
 *    IDs and /state the same state.
 *
 * Used by test/durability/crash-kill.test.ts (10 kills) and
 * bench/crash-soak.ts (100). Processes: a relay, the peer (`hearth serve`,
 * in memory, always up) and the victim; all spawned from bin/hearth.mjs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkStoreConsistency } from '../../src/server/store/consistency.ts';
import { openSqliteStore } from '../../src/server/store/sqlite-store.ts';
import { mulberry32 } from '../../src/sim/prng.ts';
import { type HearthProcess, freePort, startHearth, stopHearth } from '../helpers/hearth-process.ts';

/** Start-up can take seconds on a loaded machine (tsx, the relay reservation): generous. */
const START_TIMEOUT_MS = 120_000;
const start = (args: string[]) => startHearth(args, START_TIMEOUT_MS);
const stop = async (p: HearthProcess | undefined) => {
  if (p) await stopHearth(p, 5000);
};

export interface CrashHarnessOptions {
  kills: number;
  seed: number;
  /** Milliseconds the victim runs under load before a kill: uniform in [min, max]. */
  upMs?: [number, number];
  /** Local sends in flight at once on the victim. */
  concurrency?: number;
  /** Milliseconds between the peer's sends. */
  peerIntervalMs?: number;
  /** Longest wait for convergence after a restart. */
  convergeTimeoutMs?: number;
  /** Progress lines (one per kill). */
  log?: (line: string) => void;
}

export interface KillRecord {
  /** How long the victim had been up (past its start-up line) when killed. */
  upMs: number;
  /** Local sends in flight when it was killed. */
  inFlight: number;
  /** Events the victim had acknowledged so far (all kills). */
  acknowledged: number;
  /** Spawn → start-up line of the restart. */
  restartMs: number;
  /** Restart → both servers agree. */
  convergeMs: number;
}

/** What every crash run reports, SIGKILLs here and browser crashes (browser-crash-harness.ts). */
export interface CrashFindings {
  seed: number;
  /** Events the victim answered 200 for on PUT /send. */
  acknowledged: number;
  /** Events the peer's user sent (ingested by the victim). */
  peerSent: number;
  /** Acknowledged event IDs missing from the store after a crash (must be empty). */
  lost: string[];
  /** Store inconsistencies found after a crash, as text: partial events (must be empty). */
  inconsistencies: string[];
  /** Restarts after which the servers did not converge in time, with what differed (must be empty). */
  divergences: string[];
  /**
   * Transaction IDs retried after a restart that did not answer as a client
   * may rely on: an acknowledged one answering another event ID, or one in
   * flight at the crash whose retry made a second event (must be empty).
   */
  txnProblems: string[];
  convergeMs: { p50: number; p95: number; max: number };
  wallMs: number;
}

export interface CrashHarnessResult extends CrashFindings {
  kills: number;
  /** Message events in the room at the end, on the victim. */
  roomMessages: number;
  perKill: KillRecord[];
  restartMs: { p50: number; p95: number; max: number };
}

// ---- the Client-Server API ---------------------------------------------------------

// biome-ignore lint/suspicious/noExplicitAny: responses are read ad hoc
type Json = any;

async function api(base: string, method: string, path: string, body?: unknown, token?: string, timeoutMs = 15_000): Promise<{ status: number; json: Json }> {
  const res = await fetch(`${base}/_matrix/client/v3${path}`, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let json: Json;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json };
}

async function ok(base: string, method: string, path: string, body?: unknown, token?: string): Promise<Json> {
  const r = await api(base, method, path, body, token);
  if (r.status !== 200) throw new Error(`${method} ${path} on ${base}: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json;
}

async function register(base: string, username: string): Promise<{ userId: string; token: string }> {
  const r = await ok(base, 'POST', '/register', { username, password: 'correct horse battery staple', auth: { type: 'm.login.dummy' } });
  return { userId: r.user_id, token: r.access_token };
}

/** A Client-Server API call (path under /_matrix/client/v3) by some door: Node's fetch, or a page's (browser-crash-harness.ts). */
export type ApiCall = (method: string, path: string, body?: unknown, token?: string) => Promise<{ status: number; json: Json }>;

async function okVia(call: ApiCall, method: string, path: string, body?: unknown, token?: string): Promise<Json> {
  const r = await call(method, path, body, token);
  if (r.status !== 200) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json;
}

export const viaFetch =
  (base: string, timeoutMs?: number): ApiCall =>
  (method, path, body, token) =>
    api(base, method, path, body, token, timeoutMs);

/** Every m.room.message event of the room (ID → body), paging /messages back to the start. */
export async function messageIdsVia(call: ApiCall, token: string, roomId: string): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  let from: string | undefined;
  for (let page = 0; page < 1000; page++) {
    const q = `dir=b&limit=1000${from ? `&from=${encodeURIComponent(from)}` : ''}`;
    const r = await okVia(call, 'GET', `/rooms/${encodeURIComponent(roomId)}/messages?${q}`, undefined, token);
    for (const e of r.chunk as { event_id: string; type: string; content?: { body?: unknown } }[]) {
      if (e.type === 'm.room.message') ids.set(e.event_id, String(e.content?.body));
    }
    if (!r.end || r.chunk.length === 0) break;
    from = r.end;
  }
  return ids;
}

/** The room's current state as "type|state_key=event_id" lines. */
export async function stateIdsVia(call: ApiCall, token: string, roomId: string): Promise<string[]> {
  const r = await okVia(call, 'GET', `/rooms/${encodeURIComponent(roomId)}/state`, undefined, token);
  return (r as { type: string; state_key: string; event_id: string }[]).map((e) => `${e.type}|${e.state_key}=${e.event_id}`).sort();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function percentiles(xs: number[]): { p50: number; p95: number; max: number } {
  if (xs.length === 0) return { p50: 0, p95: 0, max: 0 };
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { p50: Math.round(at(0.5)), p95: Math.round(at(0.95)), max: Math.round(s.at(-1)!) };
}

/**
 * The load both harnesses drive (this one and browser-crash-harness.ts): the
 * victim's user sends `concurrency` messages at a time through the victim's
 * Client-Server API, recording each answered one as acknowledged; the
 * peer's user sends one every `peerIntervalMs` (ingested by the victim).
 */
export class CrashLoad {
  /** Local sends in flight now. */
  inFlight = 0;
  /** Event IDs of the peer's answered sends. */
  readonly peerEvents = new Set<string>();
  private on = false;
  private txn = 0;
  private peerTxn = 0;

  constructor(
    private readonly o: {
      victim: { call: ApiCall; token: string };
      peer: { call: ApiCall; token: string };
      roomId: string;
      concurrency: number;
      peerIntervalMs: number;
      /** Event IDs the victim answered 200 for. */
      acked: Set<string>;
      /** Acknowledged transaction IDs → event ID. */
      ackedTxns: Map<string, string>;
      /** Transaction IDs sent since the last restart and not answered. */
      unanswered: Set<string>;
    },
  ) {}

  private send(side: { call: ApiCall; token: string }, txnId: string, body: string) {
    return side.call('PUT', `/rooms/${encodeURIComponent(this.o.roomId)}/send/m.room.message/${txnId}`, { msgtype: 'm.text', body }, side.token);
  }

  /**
   * PUT /send of the victim's message for `txnId`. As a client does, a 429 M_LIMIT_EXCEEDED (the
   * server's per-device send rate) is retried after its retry_after_ms with the same transaction ID:
   * on a quiet machine the load outruns the limit.
   */
  async sendLocal(txnId: string): Promise<{ status: number; json: Json }> {
    for (let attempt = 0; ; attempt++) {
      const r = await this.send(this.o.victim, txnId, `local ${txnId}`);
      const wait = r.status === 429 ? Number(r.json?.retry_after_ms ?? 100) : -1;
      if (wait < 0 || attempt >= 100) return r;
      await sleep(Math.min(Math.max(wait, 1), 2000));
    }
  }

  private async localSender(): Promise<void> {
    while (this.on) {
      const id = `t${++this.txn}`;
      this.inFlight++;
      this.o.unanswered.add(id);
      try {
        const r = await this.sendLocal(id);
        if (r.status === 200 && typeof r.json?.event_id === 'string') {
          this.o.acked.add(r.json.event_id);
          this.o.ackedTxns.set(id, r.json.event_id);
          this.o.unanswered.delete(id);
        }
      } catch {
        // refused, reset or the page went away: the victim is down (crashed mid-request); not acknowledged
        await sleep(20);
      } finally {
        this.inFlight--;
      }
    }
  }

  private async peerSender(): Promise<void> {
    while (this.on) {
      const id = `p${++this.peerTxn}`;
      try {
        const r = await this.send(this.o.peer, id, `peer ${id}`);
        if (r.status === 200 && typeof r.json?.event_id === 'string') this.peerEvents.add(r.json.event_id);
      } catch {
        // the peer stays up: a failure here is load noise, not a finding
      }
      await sleep(this.o.peerIntervalMs);
    }
  }

  /** Starts the load; the function returned stops it at once and resolves when every sender has returned. */
  start(): () => Promise<void> {
    this.on = true;
    const senders = [this.peerSender(), ...Array.from({ length: this.o.concurrency }, () => this.localSender())];
    return () => {
      this.on = false;
      return Promise.all(senders).then(() => {});
    };
  }
}

/** What a restarted victim's client does, and the check that the room converged (shared with browser-crash-harness.ts). */
export interface RetryAndConvergeOptions {
  /** "kill 3", "crash 2 (tab)": the prefix of problem lines. */
  what: string;
  rand: () => number;
  /** PUT /send of the load's message for this transaction ID (429s retried). */
  sendLocal: (txnId: string) => Promise<{ status: number; json: Json }>;
  /** Transaction IDs sent since the last restart with no answer (cleared here). */
  unanswered: Set<string>;
  acked: Set<string>;
  ackedTxns: Map<string, string>;
  txnProblems: string[];
  victim: { call: ApiCall; token: string };
  peer: { call: ApiCall; token: string };
  roomId: string;
  timeoutMs: number;
  pollMs: number;
}

/**
 * After a restart: the client retries every unanswered transaction ID (each
 * must answer an event; one in flight at the crash must not become a second
 * event) and two acknowledged ones (each must answer its event again); then,
 * with the load paused, polls until both servers' /messages (all pages) hold
 * the same message event IDs and /state the same state.
 */
export async function retryAndConverge(o: RetryAndConvergeOptions): Promise<{
  retried: Map<string, string>;
  converged: boolean;
  convergeMs: number;
  /** What differed at the last poll, when not converged. */
  last: string;
  roomMessages: number;
}> {
  const retried = new Map<string, string>();
  for (const id of o.unanswered) {
    const r = await o.sendLocal(id).catch((e: unknown) => ({ status: 0, json: String(e) }));
    if (r.status === 200 && typeof r.json?.event_id === 'string') {
      retried.set(id, r.json.event_id);
      o.acked.add(r.json.event_id);
      o.ackedTxns.set(id, r.json.event_id);
    } else o.txnProblems.push(`${o.what}: retrying ${id} answered ${r.status} ${JSON.stringify(r.json)}`);
  }
  o.unanswered.clear();
  const ackedList = [...o.ackedTxns];
  for (let i = 0; i < 2 && ackedList.length > 0; i++) {
    const [id, eventId] = ackedList[Math.floor(o.rand() * ackedList.length)]!;
    const r = await o.sendLocal(id).catch((e: unknown) => ({ status: 0, json: String(e) }));
    if (r.status !== 200 || r.json?.event_id !== eventId) {
      o.txnProblems.push(`${o.what}: acknowledged ${id} (${eventId}) retried answered ${r.status} ${JSON.stringify(r.json)}`);
    }
  }
  const c0 = performance.now();
  let last = '';
  while (performance.now() - c0 < o.timeoutMs) {
    try {
      const [mv, mp, sv, sp] = await Promise.all([
        messageIdsVia(o.victim.call, o.victim.token, o.roomId),
        messageIdsVia(o.peer.call, o.peer.token, o.roomId),
        stateIdsVia(o.victim.call, o.victim.token, o.roomId),
        stateIdsVia(o.peer.call, o.peer.token, o.roomId),
      ]);
      const onlyV = [...mv.keys()].filter((id) => !mp.has(id));
      const onlyP = [...mp.keys()].filter((id) => !mv.has(id));
      const sameState = sv.join('\n') === sp.join('\n');
      if (onlyV.length === 0 && onlyP.length === 0 && sameState) {
        // A retried transaction that made a second event: two messages with its body.
        const byBody = new Map<string, string[]>();
        for (const [id, body] of mv) byBody.set(body, [...(byBody.get(body) ?? []), id]);
        for (const txnId of retried.keys()) {
          const ids = byBody.get(`local ${txnId}`) ?? [];
          if (ids.length > 1) o.txnProblems.push(`${o.what}: ${txnId} was in flight at the crash; its retry made a second event (${ids.join(', ')})`);
        }
        return { retried, converged: true, convergeMs: performance.now() - c0, last: '', roomMessages: mv.size };
      }
      last = `${onlyV.length} messages only on the victim, ${onlyP.length} only on the peer${sameState ? '' : ', state differs'}`;
    } catch (e) {
      last = String(e);
    }
    await sleep(o.pollMs);
  }
  return { retried, converged: false, convergeMs: performance.now() - c0, last, roomMessages: 0 };
}

// ---- the run -----------------------------------------------------------------------

/**
 * Runs the kill loop. Throws only on harness failures (a process that does
 * not start, a room that cannot be set up); what the kills find is in the
 * result, for the caller to assert or report.
 */
export async function runCrashHarness(opts: CrashHarnessOptions): Promise<CrashHarnessResult> {
  const began = performance.now();
  const log = opts.log ?? (() => {});
  const rand = mulberry32(opts.seed);
  const [upMin, upMax] = opts.upMs ?? [150, 1500];
  const concurrency = opts.concurrency ?? 3;
  const peerIntervalMs = opts.peerIntervalMs ?? 40;
  const convergeTimeoutMs = opts.convergeTimeoutMs ?? 30_000;

  const root = mkdtempSync(join(tmpdir(), 'hearth-crash-'));
  const dataDir = join(root, 'victim');
  let relay: HearthProcess | undefined;
  let peer: HearthProcess | undefined;
  let victim: HearthProcess | undefined;

  const acked = new Set<string>();
  const lost: string[] = [];
  const inconsistencies: string[] = [];
  const divergences: string[] = [];
  const txnProblems: string[] = [];
  /** Acknowledged transaction IDs → event ID; those sent since the last restart and not answered. */
  const ackedTxns = new Map<string, string>();
  const unanswered = new Set<string>();
  const perKill: KillRecord[] = [];
  let roomMessages = 0;

  try {
    relay = await start(['relay', '--port', '0', '--tcp-port', '0', '--key-file', join(root, 'relay.key')]);
    const [victimPort, victimClientPort] = [await freePort(), await freePort()];
    // Fixed ports: the restarted victim comes back on the same libp2p address and client URL.
    const victimArgs = ['serve', '--data', dataDir, '--relay', relay.info.tcp_multiaddr, '--port', String(victimPort), '--client-port', String(victimClientPort)];
    [victim, peer] = await Promise.all([start(victimArgs), start(['serve', '--relay', relay.info.tcp_multiaddr, '--client-port', '0'])]);
    const victimUrl = victim.info.client_url;
    const peerUrl = peer.info.client_url;
    const victimServer = victim.info.server_name;

    // One user on each, a public room on the victim, the peer's user joined.
    const [alice, bob] = await Promise.all([register(victimUrl, 'alice'), register(peerUrl, 'bob')]);
    const { room_id: roomId } = await ok(victimUrl, 'POST', '/createRoom', { preset: 'public_chat', name: 'Crash test' }, alice.token);
    const joinDeadline = Date.now() + 30_000;
    for (;;) {
      const r = await api(peerUrl, 'POST', `/join/${encodeURIComponent(roomId)}?server_name=${encodeURIComponent(victimServer)}`, {}, bob.token).catch(
        (e: unknown) => ({ status: 0, json: String(e) }),
      );
      if (r.status === 200) break;
      if (Date.now() > joinDeadline) throw new Error(`the peer could not join ${roomId}: ${r.status} ${JSON.stringify(r.json)}`);
      await sleep(300);
    }
    log(`seed ${opts.seed}: room ${roomId} on ${victimServer}; peer ${peer.info.server_name}`);

    const load = new CrashLoad({
      victim: { call: viaFetch(victimUrl, 10_000), token: alice.token },
      peer: { call: viaFetch(peerUrl), token: bob.token },
      roomId,
      concurrency,
      peerIntervalMs,
      acked,
      ackedTxns,
      unanswered,
    });

    const restartMs: number[] = [];
    const convergeMs: number[] = [];
    for (let k = 1; k <= opts.kills; k++) {
      const upMs = Math.round(upMin + rand() * (upMax - upMin));
      const stopLoad = load.start();
      await sleep(upMs);
      const pending = load.inFlight;
      victim.child.kill('SIGKILL');
      await victim.exited;
      await stopLoad();

      // (1) and (2): the dead victim's store, read directly.
      const store = await openSqliteStore(dataDir);
      try {
        for (const i of await checkStoreConsistency(store)) inconsistencies.push(`kill ${k}: ${i.room_id} ${i.subject}: ${i.problem}`);
        for (const id of acked) {
          if ((await store.getEvent(id)) === undefined) {
            lost.push(id);
            acked.delete(id); // reported once
          }
        }
      } finally {
        await store.close();
      }

      // (3): restart, then wait (load paused) until both servers hold the same room.
      const t0 = performance.now();
      victim = await start(victimArgs);
      const restarted = performance.now() - t0;
      restartMs.push(restarted);

      // A client retries what got no answer, with the same transaction IDs; and an acknowledged
      // one retried must answer the same event.
      const { retried, converged, convergeMs: converging, last, roomMessages: seen } = await retryAndConverge({
        what: `kill ${k}`,
        rand,
        sendLocal: (id) => load.sendLocal(id),
        unanswered,
        acked,
        ackedTxns,
        txnProblems,
        victim: { call: viaFetch(victimUrl), token: alice.token },
        peer: { call: viaFetch(peerUrl), token: bob.token },
        roomId,
        timeoutMs: convergeTimeoutMs,
        pollMs: 200,
      });
      if (converged) {
        roomMessages = seen;
        convergeMs.push(converging);
      } else divergences.push(`kill ${k}: no convergence in ${convergeTimeoutMs} ms (${last})`);
      perKill.push({ upMs, inFlight: pending, acknowledged: acked.size + lost.length, restartMs: Math.round(restarted), convergeMs: Math.round(converging) });
      log(
        `kill ${k}/${opts.kills}: after ${upMs} ms up, ${pending} sends in flight; ${acked.size + lost.length} acknowledged so far, lost ${lost.length}, inconsistencies ${inconsistencies.length}, txn problems ${txnProblems.length}; retried ${retried.size}; restart ${Math.round(restarted)} ms; ${converged ? `converged in ${Math.round(converging)} ms` : `DIVERGED (${last})`}`,
      );
    }

    return {
      seed: opts.seed,
      kills: opts.kills,
      acknowledged: acked.size + lost.length,
      peerSent: load.peerEvents.size,
      lost,
      inconsistencies,
      divergences,
      txnProblems,
      roomMessages,
      perKill,
      restartMs: percentiles(restartMs),
      convergeMs: percentiles(convergeMs),
      wallMs: Math.round(performance.now() - began),
    };
  } catch (e) {
    const tail = (p: HearthProcess | undefined) => (p ? p.stderr().split('\n').slice(-10).join('\n') : '');
    throw new Error(`${(e as Error).stack ?? String(e)}\n--- victim stderr ---\n${tail(victim)}\n--- peer stderr ---\n${tail(peer)}`);
  } finally {
    await Promise.all([stop(victim), stop(peer)]);
    await stop(relay);
    rmSync(root, { recursive: true, force: true });
  }
}

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

export interface CrashHarnessResult {
  seed: number;
  kills: number;
  /** Events the victim answered 200 for on PUT /send. */
  acknowledged: number;
  /** Events the peer's user sent (ingested by the victim). */
  peerSent: number;
  /** Acknowledged event IDs missing from the store after a kill (must be empty). */
  lost: string[];
  /** Store inconsistencies found after a kill, as text (must be empty). */
  inconsistencies: string[];
  /** Restarts after which the servers did not converge in time, with what differed (must be empty). */
  divergences: string[];
  /**
   * Transaction IDs retried after a restart that did not answer as a client
   * may rely on: an acknowledged one answering another event ID, or one in
   * flight at the kill whose retry made a second event (must be empty).
   */
  txnProblems: string[];
  /** Message events in the room at the end, on the victim. */
  roomMessages: number;
  perKill: KillRecord[];
  restartMs: { p50: number; p95: number; max: number };
  convergeMs: { p50: number; p95: number; max: number };
  wallMs: number;
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

/** Every m.room.message event of the room (ID → body), paging /messages back to the start. */
async function messageIds(base: string, token: string, roomId: string): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  let from: string | undefined;
  for (let page = 0; page < 1000; page++) {
    const q = `dir=b&limit=1000${from ? `&from=${encodeURIComponent(from)}` : ''}`;
    const r = await ok(base, 'GET', `/rooms/${encodeURIComponent(roomId)}/messages?${q}`, undefined, token);
    for (const e of r.chunk as { event_id: string; type: string; content?: { body?: unknown } }[]) {
      if (e.type === 'm.room.message') ids.set(e.event_id, String(e.content?.body));
    }
    if (!r.end || r.chunk.length === 0) break;
    from = r.end;
  }
  return ids;
}

/** The room's current state as "type|state_key=event_id" lines. */
async function stateIds(base: string, token: string, roomId: string): Promise<string[]> {
  const r = await ok(base, 'GET', `/rooms/${encodeURIComponent(roomId)}/state`, undefined, token);
  return (r as { type: string; state_key: string; event_id: string }[]).map((e) => `${e.type}|${e.state_key}=${e.event_id}`).sort();
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function percentiles(xs: number[]): { p50: number; p95: number; max: number } {
  if (xs.length === 0) return { p50: 0, p95: 0, max: 0 };
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { p50: Math.round(at(0.5)), p95: Math.round(at(0.95)), max: Math.round(s.at(-1)!) };
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
  let peerSent = 0;
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

    // ---- load ----
    const sendOnce = (txnId: string) =>
      api(victimUrl, 'PUT', `/rooms/${encodeURIComponent(roomId)}/send/m.room.message/${txnId}`, { msgtype: 'm.text', body: `local ${txnId}` }, alice.token, 10_000);
    // As a client does: a 429 M_LIMIT_EXCEEDED (the server's per-device send rate) is retried after
    // its retry_after_ms with the same transaction ID. On a quiet machine the load outruns the limit.
    const sendLocal = async (txnId: string) => {
      for (let attempt = 0; ; attempt++) {
        const r = await sendOnce(txnId);
        const wait = r.status === 429 ? Number(r.json?.retry_after_ms ?? 100) : -1;
        if (wait < 0 || attempt >= 100) return r;
        await sleep(Math.min(Math.max(wait, 1), 2000));
      }
    };
    let loadOn = false;
    let txn = 0;
    let inFlight = 0;
    const localSender = async () => {
      while (loadOn) {
        const id = `t${++txn}`;
        inFlight++;
        unanswered.add(id);
        try {
          const r = await sendLocal(id);
          if (r.status === 200 && typeof r.json?.event_id === 'string') {
            acked.add(r.json.event_id);
            ackedTxns.set(id, r.json.event_id);
            unanswered.delete(id);
          }
        } catch {
          // refused or reset: the victim is down (killed mid-request); not acknowledged
          await sleep(20);
        } finally {
          inFlight--;
        }
      }
    };
    let peerTxn = 0;
    const peerSender = async () => {
      while (loadOn) {
        const id = `p${++peerTxn}`;
        try {
          const r = await api(peerUrl, 'PUT', `/rooms/${encodeURIComponent(roomId)}/send/m.room.message/${id}`, { msgtype: 'm.text', body: `peer ${id}` }, bob.token);
          if (r.status === 200) peerSent++;
        } catch {
          // the peer stays up: a failure here is load noise, not a finding
        }
        await sleep(peerIntervalMs);
      }
    };
    const startLoad = () => {
      loadOn = true;
      const workers = [peerSender(), ...Array.from({ length: concurrency }, localSender)];
      return () => {
        loadOn = false;
        return Promise.all(workers).then(() => {});
      };
    };

    const restartMs: number[] = [];
    const convergeMs: number[] = [];
    for (let k = 1; k <= opts.kills; k++) {
      const upMs = Math.round(upMin + rand() * (upMax - upMin));
      const stopLoad = startLoad();
      await sleep(upMs);
      const pending = inFlight;
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
      const retried = new Map<string, string>();
      for (const id of unanswered) {
        const r = await sendLocal(id).catch((e: unknown) => ({ status: 0, json: String(e) }));
        if (r.status === 200 && typeof r.json?.event_id === 'string') {
          retried.set(id, r.json.event_id);
          acked.add(r.json.event_id);
          ackedTxns.set(id, r.json.event_id);
        } else txnProblems.push(`kill ${k}: retrying ${id} answered ${r.status} ${JSON.stringify(r.json)}`);
      }
      unanswered.clear();
      const ackedList = [...ackedTxns];
      for (let i = 0; i < 2 && ackedList.length > 0; i++) {
        const [id, eventId] = ackedList[Math.floor(rand() * ackedList.length)]!;
        const r = await sendLocal(id).catch((e: unknown) => ({ status: 0, json: String(e) }));
        if (r.status !== 200 || r.json?.event_id !== eventId) {
          txnProblems.push(`kill ${k}: acknowledged ${id} (${eventId}) retried answered ${r.status} ${JSON.stringify(r.json)}`);
        }
      }
      const c0 = performance.now();
      let last = '';
      let converged = false;
      while (performance.now() - c0 < convergeTimeoutMs) {
        try {
          const [mv, mp, sv, sp] = await Promise.all([
            messageIds(victimUrl, alice.token, roomId),
            messageIds(peerUrl, bob.token, roomId),
            stateIds(victimUrl, alice.token, roomId),
            stateIds(peerUrl, bob.token, roomId),
          ]);
          const onlyV = [...mv.keys()].filter((id) => !mp.has(id));
          const onlyP = [...mp.keys()].filter((id) => !mv.has(id));
          const sameState = sv.join('\n') === sp.join('\n');
          if (onlyV.length === 0 && onlyP.length === 0 && sameState) {
            converged = true;
            roomMessages = mv.size;
            // A retried transaction that made a second event: two messages with its body.
            const byBody = new Map<string, string[]>();
            for (const [id, body] of mv) byBody.set(body, [...(byBody.get(body) ?? []), id]);
            for (const txnId of retried.keys()) {
              const ids = byBody.get(`local ${txnId}`) ?? [];
              if (ids.length > 1) txnProblems.push(`kill ${k}: ${txnId} was in flight at the kill; its retry made a second event (${ids.join(', ')})`);
            }
            break;
          }
          last = `${onlyV.length} messages only on the victim, ${onlyP.length} only on the peer${sameState ? '' : ', state differs'}`;
        } catch (e) {
          last = String(e);
        }
        await sleep(200);
      }
      const converging = performance.now() - c0;
      if (converged) convergeMs.push(converging);
      else divergences.push(`kill ${k}: no convergence in ${convergeTimeoutMs} ms (${last})`);
      perKill.push({ upMs, inFlight: pending, acknowledged: acked.size + lost.length, restartMs: Math.round(restarted), convergeMs: Math.round(converging) });
      log(
        `kill ${k}/${opts.kills}: after ${upMs} ms up, ${pending} sends in flight; ${acked.size + lost.length} acknowledged so far, lost ${lost.length}, inconsistencies ${inconsistencies.length}, txn problems ${txnProblems.length}; retried ${retried.size}; restart ${Math.round(restarted)} ms; ${converged ? `converged in ${Math.round(converging)} ms` : `DIVERGED (${last})`}`,
      );
    }

    return {
      seed: opts.seed,
      kills: opts.kills,
      acknowledged: acked.size + lost.length,
      peerSent,
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

/**
 * The lab's scenario runner: one homeserver worker per scenario server, each
 * with its own IndexedDB database, federating through the relay. Steps are
 * the `hearth simulate` format (docs/simulate.md), parsed by the simulator's
 * own pure `parseScenario`; the ones a browser cannot do are skipped with a
 * reason. Partitions are `block(peer)` on both sides of every cut pair: the
 * links stay relayed (no WebRTC bridge), so a block is all it takes.
 */
import { signal } from '@preact/signals';
import * as Comlink from 'comlink';
import type { HomeserverService } from '../app/service.ts';
import type { JsonObject, JsonValue } from '../core/json.ts';
import type { ExpectStep, Scenario, Step } from '../sim/scenario.ts';
import { type Api, type Update, errorText } from '../ui/api.ts';

export interface LabServer {
  label: string;
  api: Api;
  worker: Worker;
  dbName: string;
  serverName: string;
  userLabel?: string;
  userId?: string;
}

export type LogStatus = 'info' | 'running' | 'passed' | 'failed' | 'skipped';

export interface LogEntry {
  id: number;
  /** The step's index in `steps` (none for notes). */
  step?: number;
  status: LogStatus;
  text: string;
}

/** Steps a tab cannot reproduce, and why. */
const UNSUPPORTED: Partial<Record<Step['do'], string>> = {
  crash: 'a browser worker cannot be crashed mid-write here (the CLI simulator can)',
  restart: 'crash is not available in the lab',
  wipe: 'storage eviction is only simulated by the CLI',
  pause: 'freezing a worker is only simulated by the CLI',
  link: 'latency and loss need the simulated network (CLI)',
  flap: 'flapping links need the simulated network (CLI)',
  chaos: 'seeded chaos needs the simulated network (CLI)',
  load: 'workloads are run by the CLI simulator',
};

/** Why a step cannot run in the lab, or undefined. */
export function unsupportedReason(step: Step): string | undefined {
  if (step.do === 'partition' && !('groups' in step)) return 'one-way cuts need the simulated network (CLI)';
  return UNSUPPORTED[step.do];
}

/** Most servers the lab spawns (each is a worker with its own libp2p node). */
export const MAX_SERVERS = 8;

/** Why a scenario cannot run in the lab at all, or undefined. */
export function scenarioProblem(s: Scenario): string | undefined {
  if (s.servers.length > MAX_SERVERS) return `${s.servers.length} servers: the lab runs at most ${MAX_SERVERS} (use hearth simulate)`;
  const perServer = new Map<string, number>();
  for (const server of Object.values(s.users)) perServer.set(server, (perServer.get(server) ?? 0) + 1);
  for (const [server, n] of perServer) if (n > 1) return `server ${server} has ${n} users: a lab server acts for one person`;
  return undefined;
}

class StepFailure extends Error {}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const pairKey = (a: string, b: string): string => (a < b ? `${a}|${b}` : `${b}|${a}`);

/** Canonical JSON (sorted keys), to compare state contents between servers. */
function stable(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stable(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `want` is a subset of `actual`: objects recursively, arrays and other values exactly (as the CLI's expect). */
function isSubset(want: unknown, actual: unknown): boolean {
  if (isObject(want)) return isObject(actual) && Object.entries(want).every(([k, v]) => k in actual && isSubset(v, actual[k]));
  return stable(want) === stable(actual);
}

async function relayAddresses(): Promise<string[]> {
  try {
    const res = await fetch('hearth-config.json', { cache: 'no-store' });
    if (!res.ok) return [];
    const cfg = (await res.json()) as { relays?: unknown };
    return Array.isArray(cfg.relays) ? cfg.relays.filter((r): r is string => typeof r === 'string') : [];
  } catch {
    return [];
  }
}

export class LabRun {
  readonly servers = new Map<string, LabServer>();
  /** Room label -> room ID and creator. */
  readonly rooms = signal<Record<string, { roomId: string; creator: string }>>({});
  /** Cut links as "a|b" (labels, sorted). */
  readonly cuts = signal<ReadonlySet<string>>(new Set());
  readonly log = signal<LogEntry[]>([]);
  /** Index of the next step to run. */
  readonly next = signal(0);
  readonly busy = signal(false);
  readonly ready = signal(false);
  /** Bumped (throttled) whenever any server reports a change: views reload on it. */
  readonly version = signal(0);
  readonly summary = signal({ passed: 0, failed: 0, skipped: 0 });
  /** Called with (server label, room ID) on each room update, for the live event graph. */
  onRoomUpdate?: (label: string, roomId: string) => void;

  private readonly runId = Date.now().toString(36);
  private nextLogId = 1;
  private stopped = false;
  private bumpTimer: ReturnType<typeof setTimeout> | undefined;
  private stopRequested = false;

  constructor(readonly scenario: Scenario) {}

  note(text: string, status: LogStatus = 'info', step?: number): LogEntry {
    const e: LogEntry = { id: this.nextLogId++, status, text, ...(step !== undefined ? { step } : {}) };
    this.log.value = [...this.log.value, e];
    return e;
  }

  private update(entry: LogEntry, status: LogStatus, text: string): void {
    this.log.value = this.log.value.map((e) => (e.id === entry.id ? { ...e, status, text } : e));
  }

  private bump(): void {
    if (this.bumpTimer) return;
    this.bumpTimer = setTimeout(() => {
      this.bumpTimer = undefined;
      this.version.value++;
    }, 150);
  }

  /** Spawns one worker per server, registers each user on its server, waits for the relay. */
  async setup(): Promise<void> {
    if (this.ready.value || this.busy.value) return;
    this.busy.value = true;
    try {
      const relays = await relayAddresses();
      if (relays.length === 0) this.note('No relay configured (/hearth-config.json): the servers cannot reach each other. Start the page with `npm start`.', 'failed');
      const entry = this.note(`Starting ${this.scenario.servers.length} servers, each in its own worker…`, 'running');
      await Promise.all(this.scenario.servers.map((label) => this.spawn(label, relays)));
      this.update(entry, 'passed', `Started ${this.scenario.servers.length} servers: ${[...this.servers.values()].map((s) => `${s.label} (${s.userLabel ?? 'nobody'})`).join(', ')}`);
      await this.waitForNetwork();
      this.ready.value = true;
    } catch (err) {
      this.note(`Could not start the servers: ${errorText(err)}`, 'failed');
    } finally {
      this.busy.value = false;
    }
  }

  private async spawn(label: string, relays: string[]): Promise<void> {
    const worker = new Worker(new URL('../../workers/homeserver.worker.ts', import.meta.url), { type: 'module', name: `hearth-lab-${label}` });
    const api = Comlink.wrap<HomeserverService>(worker);
    const dbName = `hearth-lab-${this.runId}-${label}`;
    const started = await api.start({ dbName, relays });
    const server: LabServer = { label, api, worker, dbName: started.dbName, serverName: started.serverName };
    const userLabel = Object.entries(this.scenario.users).find(([, s]) => s === label)?.[0];
    if (userLabel) {
      server.userLabel = userLabel;
      server.userId = await api.register(userLabel, userLabel);
    }
    await api.subscribe(
      Comlink.proxy((u: Update) => {
        if ('roomId' in u) this.onRoomUpdate?.(label, u.roomId);
        this.bump();
      }),
    );
    this.servers.set(label, server);
  }

  /** Waits (up to 30 s) until every server's relay link is up. */
  private async waitForNetwork(): Promise<void> {
    const entry = this.note('Connecting every server to the relay…', 'running');
    const start = performance.now();
    while (performance.now() - start < 30_000 && !this.stopped) {
      const states = await Promise.all([...this.servers.values()].map((s) => s.api.networkStatus().then((n) => n.relay.state)));
      if (states.every((s) => s === 'connected')) {
        this.update(entry, 'passed', `Every server reached the relay in ${Math.round(performance.now() - start)} ms`);
        return;
      }
      await sleep(250);
    }
    this.update(entry, 'failed', 'Not every server reached the relay within 30 s; steps that federate may fail');
  }

  server(label: string): LabServer {
    const s = this.servers.get(label);
    if (!s) throw new StepFailure(`server ${label} is not running`);
    return s;
  }

  private userServer(user: string): LabServer {
    const label = this.scenario.users[user];
    if (!label) throw new StepFailure(`unknown user ${user}`);
    return this.server(label);
  }

  uid(user: string): string {
    const id = this.userServer(user).userId;
    if (!id) throw new StepFailure(`user ${user} is not registered`);
    return id;
  }

  roomId(label: string): string {
    const r = this.rooms.value[label];
    if (!r) throw new StepFailure(`room ${label} is not created yet`);
    return r.roomId;
  }

  /** Replaces "@label" strings and keys with user IDs (the scenario format's substitution). */
  private subst<T extends JsonValue>(v: T): T {
    const one = (s: string): string => (s.startsWith('@') && s.slice(1) in this.scenario.users ? this.uid(s.slice(1)) : s);
    if (typeof v === 'string') return one(v) as T;
    if (Array.isArray(v)) return v.map((x) => this.subst(x)) as T;
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [one(k), this.subst(x as JsonValue)])) as T;
    return v;
  }

  // ---- running ----------------------------------------------------------------------

  /** Runs the next step; returns false at the end. */
  async step(): Promise<boolean> {
    if (!this.ready.value) await this.setup();
    if (!this.ready.value || this.busy.value) return false;
    const i = this.next.value;
    const step = this.scenario.steps[i];
    if (!step) return false;
    this.busy.value = true;
    try {
      await this.runStep(step, i);
    } finally {
      this.next.value = i + 1;
      this.busy.value = false;
    }
    if (this.next.value >= this.scenario.steps.length) this.finish();
    return this.next.value < this.scenario.steps.length;
  }

  /** Runs every remaining step (until stop()). */
  async runAll(): Promise<void> {
    this.stopRequested = false;
    while (!this.stopRequested && !this.stopped && (await this.step())) {
      // keep going
    }
  }

  stop(): void {
    this.stopRequested = true;
  }

  private finish(): void {
    const { passed, failed, skipped } = this.summary.value;
    this.note(`Finished: ${passed} passed, ${failed} failed, ${skipped} skipped`, failed > 0 ? 'failed' : 'passed');
  }

  private count(status: 'passed' | 'failed' | 'skipped'): void {
    this.summary.value = { ...this.summary.value, [status]: this.summary.value[status] + 1 };
  }

  private async runStep(step: Step, i: number): Promise<void> {
    const what = describeStep(step);
    const skip = unsupportedReason(step);
    if (skip) {
      this.count('skipped');
      this.note(`#${i} ${what}: skipped — ${skip}`, 'skipped', i);
      return;
    }
    const entry = this.note(`#${i} ${what}…`, 'running', i);
    const start = performance.now();
    let result: string | undefined;
    let error: string | undefined;
    try {
      result = await this.exec(step, i);
    } catch (err) {
      error = errorText(err);
    }
    const ms = Math.round(performance.now() - start);
    if (step.expect_error) {
      if (error !== undefined) {
        this.count('passed');
        this.update(entry, 'passed', `#${i} ${what}: refused as expected (${error})`);
      } else {
        this.count('failed');
        this.update(entry, 'failed', `#${i} ${what}: failed — expected the step to be refused, but it succeeded`);
      }
      return;
    }
    if (error !== undefined) {
      this.count('failed');
      this.update(entry, 'failed', `#${i} ${what}: failed — ${error}`);
    } else {
      this.count('passed');
      this.update(entry, 'passed', `#${i} ${what}: ${result ?? `done in ${ms} ms`}`);
    }
    this.bump();
  }

  /** Retries a federating action while the network is still settling (not for steps meant to be refused). */
  private async retrying<T>(step: Step, fn: () => Promise<T>): Promise<T> {
    if (step.expect_error) return fn();
    const deadline = performance.now() + 30_000;
    for (;;) {
      try {
        return await fn();
      } catch (err) {
        const msg = errorText(err);
        if (performance.now() > deadline || /M_FORBIDDEN|not allowed|forbidden/i.test(msg)) throw err;
        await sleep(500);
      }
    }
  }

  private async exec(step: Step, i: number): Promise<string | undefined> {
    switch (step.do) {
      case 'createRoom': {
        const s = this.userServer(step.as);
        const roomId = await s.api.createRoom({
          roomVersion: this.scenario.room_version,
          ...(step.preset ? { preset: step.preset } : {}),
          ...(step.name !== undefined ? { name: step.name } : {}),
          ...(step.topic !== undefined ? { topic: step.topic } : {}),
        });
        this.rooms.value = { ...this.rooms.value, [step.room]: { roomId, creator: s.label } };
        return `room "${step.room}" created on ${s.label}`;
      }
      case 'invite': {
        const s = this.userServer(step.as);
        const roomId = this.roomId(step.room);
        await this.retrying(step, () => s.api.invite(roomId, this.uid(step.user)));
        return undefined;
      }
      case 'join':
      case 'knock': {
        const s = this.userServer(step.as);
        const roomId = this.roomId(step.room);
        const via = await this.via(step.room);
        if (step.do === 'join') await this.retrying(step, () => s.api.join(roomId, via));
        else await this.retrying(step, () => s.api.knock(roomId, via));
        return undefined;
      }
      case 'leave':
        await this.userServer(step.as).api.leave(this.roomId(step.room));
        return undefined;
      case 'kick':
      case 'ban':
      case 'unban': {
        const s = this.userServer(step.as);
        const roomId = this.roomId(step.room);
        const target = this.uid(step.user);
        if (step.do === 'kick') await s.api.kick(roomId, target);
        else if (step.do === 'ban') await s.api.ban(roomId, target);
        else await s.api.unban(roomId, target);
        return undefined;
      }
      case 'send': {
        const s = this.userServer(step.as);
        const roomId = this.roomId(step.room);
        if (step.count === undefined) await s.api.sendMessage(roomId, step.body);
        else for (let k = 1; k <= step.count; k++) await s.api.sendMessage(roomId, `${step.body} #${k}`);
        return undefined;
      }
      case 'state': {
        const s = this.userServer(step.as);
        await s.api.setState(this.roomId(step.room), step.type, this.subst(step.state_key), this.subst(step.content));
        return undefined;
      }
      case 'partition': {
        if (!('groups' in step)) throw new StepFailure('one-way cuts are not available in the lab');
        const groupOf = new Map<string, number>();
        step.groups.forEach((g, gi) => {
          for (const l of g) groupOf.set(l, gi);
        });
        const want = new Set<string>();
        const labels = this.scenario.servers;
        for (const a of labels) for (const b of labels) if (a < b && (groupOf.get(a) === undefined || groupOf.get(a) !== groupOf.get(b))) want.add(pairKey(a, b));
        await this.setCuts(want);
        return `${step.groups.map((g) => `{${g.join(', ')}}`).join(' | ')}: ${want.size} link${want.size === 1 ? '' : 's'} cut`;
      }
      case 'heal':
        await this.setCuts(new Set());
        return 'every link is back';
      case 'wait':
        await sleep(step.ms);
        return undefined;
      case 'converge':
        return this.converge(step.timeout_ms, i);
      case 'expect':
        return this.expect(step);
      default:
        throw new StepFailure(unsupportedReason(step) ?? `${step.do} is not available in the lab`);
    }
  }

  /** Servers to join through: the creator's, then every server with a joined user. */
  private async via(room: string): Promise<string[]> {
    const r = this.rooms.value[room];
    if (!r) throw new StepFailure(`room ${room} is not created yet`);
    const out = [this.server(r.creator).serverName];
    for (const s of this.servers.values()) {
      if (s.label !== r.creator && (await this.ownMembership(s, r.roomId)) === 'join') out.push(s.serverName);
    }
    return out;
  }

  // ---- links --------------------------------------------------------------------------

  /** Cuts or heals one link by hand: both sides block (or unblock) each other. */
  async toggleLink(a: string, b: string): Promise<void> {
    const next = new Set(this.cuts.value);
    const k = pairKey(a, b);
    const cut = !next.has(k);
    if (cut) next.add(k);
    else next.delete(k);
    await this.setCuts(next);
    this.note(`Link ${a}–${b} ${cut ? 'cut' : 'healed'} by hand`);
  }

  private async setCuts(want: ReadonlySet<string>): Promise<void> {
    const have = this.cuts.value;
    const ops: Promise<void>[] = [];
    for (const k of new Set([...have, ...want])) {
      const [a, b] = k.split('|') as [string, string];
      const sa = this.servers.get(a);
      const sb = this.servers.get(b);
      if (!sa || !sb) continue;
      if (want.has(k) && !have.has(k)) ops.push(sa.api.block(sb.serverName), sb.api.block(sa.serverName));
      if (!want.has(k) && have.has(k)) ops.push(sa.api.unblock(sb.serverName), sb.api.unblock(sa.serverName));
    }
    this.cuts.value = new Set(want);
    await Promise.all(ops);
  }

  // ---- checks -------------------------------------------------------------------------

  async ownMembership(s: LabServer, roomId: string): Promise<string> {
    if (!s.userId) return 'leave';
    const rooms = await s.api.rooms();
    return rooms.find((r) => r.roomId === roomId)?.membership ?? 'leave';
  }

  /** One server's view of a room for convergence: accepted event IDs and current state, or null if it does not hold it. */
  private async fingerprint(s: LabServer, roomId: string): Promise<{ events: string; state: string; count: number } | null> {
    try {
      const [dag, state] = await Promise.all([s.api.dag(roomId), s.api.state(roomId)]);
      const ids = dag
        .filter((n) => n.status === 'accepted' || n.status === 'soft_failed')
        .map((n) => n.eventId)
        .sort();
      return { events: ids.join(','), state: stable(state), count: ids.length };
    } catch {
      return null;
    }
  }

  /**
   * Polls every joined server of every room until they hold the same
   * accepted events and the same state. Real networks are slower than the
   * simulated one: the deadline is at least 30 s.
   */
  private async converge(timeoutMs: number, _i: number): Promise<string> {
    const deadline = Math.max(timeoutMs * 3, 30_000);
    const start = performance.now();
    let detail = '';
    while (!this.stopped) {
      let ok = true;
      const parts: string[] = [];
      for (const [label, r] of Object.entries(this.rooms.value)) {
        const joined: LabServer[] = [];
        for (const s of this.servers.values()) if ((await this.ownMembership(s, r.roomId)) === 'join') joined.push(s);
        const prints = await Promise.all(joined.map((s) => this.fingerprint(s, r.roomId)));
        const first = prints[0];
        const same = prints.every((p) => p && first && p.events === first.events && p.state === first.state);
        if (!same) {
          ok = false;
          parts.push(`${label}: ${joined.map((s, k) => `${s.label} ${prints[k]?.count ?? 0} events`).join(', ')}`);
        }
      }
      const ms = Math.round(performance.now() - start);
      if (ok) return `converged in ${ms} ms`;
      detail = parts.join('; ');
      if (ms > deadline) break;
      await sleep(200);
    }
    throw new StepFailure(`not converged after ${deadline} ms (${detail})`);
  }

  /**
   * Checks one server's view (or every server holding the room). Events
   * travel over a real network here, so a check that does not hold yet is
   * retried for up to 10 s before it fails.
   */
  private async expect(step: ExpectStep): Promise<string> {
    const start = performance.now();
    for (;;) {
      const failures = await this.checkOnce(step);
      const ms = Math.round(performance.now() - start);
      if (failures.length === 0) return ms > 300 ? `passed (held after ${ms} ms)` : 'passed';
      if (ms > 10_000 || this.stopped) throw new StepFailure(failures.join('; '));
      await sleep(250);
    }
  }

  private async checkOnce(step: ExpectStep): Promise<string[]> {
    const roomId = this.roomId(step.room);
    const held = async (s: LabServer) => {
      try {
        return await s.api.state(roomId);
      } catch {
        return null;
      }
    };
    let targets: LabServer[];
    if (step.server === 'all') {
      targets = [];
      for (const s of this.servers.values()) if (await held(s)) targets.push(s);
      if (targets.length === 0) return [`no server holds room ${step.room}`];
    } else targets = [this.server(step.server)];
    const out: string[] = [];
    for (const s of targets) {
      const state = await held(s);
      const fail = (m: string) => out.push(`${s.label}: ${m}`);
      if (step.state) {
        if (!state) fail(`does not hold room ${step.room}`);
        else {
          for (const [type, byKey] of Object.entries(step.state)) {
            for (const [rawKey, expected] of Object.entries(byKey)) {
              const sk = this.subst(rawKey);
              const actual = state[type]?.[sk];
              const want = this.subst(expected as JsonObject);
              if (!actual) fail(`no ${type} state with state_key ${JSON.stringify(sk)}`);
              else if (!isSubset(want, actual)) fail(`${type} ${JSON.stringify(sk)} is ${JSON.stringify(actual)}, expected ${JSON.stringify(want)}`);
            }
          }
        }
      }
      if (step.membership) {
        const members = state ? await s.api.members(roomId) : [];
        for (const [user, expected] of Object.entries(step.membership)) {
          const uid = this.uid(user);
          const actual = state ? (members.find((m) => m.userId === uid)?.membership ?? 'leave') : s.userLabel === user ? await this.ownMembership(s, roomId) : 'leave';
          if (actual !== expected) fail(`${user} is ${actual}, expected ${expected}`);
        }
      }
      if (step.messages) {
        if (!state) fail(`does not hold room ${step.room}`);
        else {
          const bodies = await this.messageBodies(s, roomId);
          const { count, contains } = step.messages;
          if (count !== undefined && bodies.length !== count) fail(`${bodies.length} messages, expected ${count}`);
          for (const body of contains ?? []) if (!bodies.includes(body)) fail(`no message ${JSON.stringify(body)}`);
        }
      }
    }
    return out;
  }

  /** The messages the server's person sees, in timeline order (as the CLI's `messages` check). */
  async messageBodies(s: LabServer, roomId: string): Promise<string[]> {
    const { items } = await s.api.timeline(roomId, 100_000);
    return items.filter((it) => it.kind === 'message' && !it.inThread).map((it) => it.body ?? '');
  }

  // ---- teardown -----------------------------------------------------------------------

  /** Stops every worker and deletes their databases. */
  dispose(): void {
    this.stopped = true;
    this.stopRequested = true;
    clearTimeout(this.bumpTimer);
    for (const s of this.servers.values()) {
      s.worker.terminate();
      // The lock and the connection go with the worker; the database is the run's own.
      setTimeout(() => indexedDB.deleteDatabase(s.dbName), 500);
    }
    this.servers.clear();
  }
}

/** One line saying what a step does, in plain words. */
export function describeStep(step: Step): string {
  switch (step.do) {
    case 'createRoom':
      return `${step.as} creates room "${step.room}"${step.topic ? ` (topic "${step.topic}")` : ''}`;
    case 'invite':
      return `${step.as} invites ${step.user} to "${step.room}"`;
    case 'join':
    case 'knock':
    case 'leave':
      return `${step.as} ${step.do}s "${step.room}"`;
    case 'kick':
    case 'ban':
    case 'unban':
      return `${step.as} ${step.do}s ${step.user} in "${step.room}"`;
    case 'send':
      return `${step.as} sends "${step.body}"${step.count ? ` ×${step.count}` : ''}`;
    case 'state':
      if (step.type === 'm.room.topic') return `${step.as} sets the topic to "${String(step.content.topic)}"`;
      return `${step.as} sets ${step.type}${step.state_key ? ` ${step.state_key}` : ''}`;
    case 'partition':
      return 'groups' in step ? `partition ${step.groups.map((g) => `{${g.join(', ')}}`).join(' | ')}` : `one-way cut ${step.from.join(',')} → ${step.to.join(',')}`;
    case 'heal':
      return 'heal every link';
    case 'wait':
      return `wait ${step.ms} ms`;
    case 'converge':
      return 'converge';
    case 'expect':
      return `expect on ${step.server === 'all' ? 'every server' : step.server}`;
    case 'crash':
    case 'restart':
    case 'wipe':
    case 'pause':
      return `${step.do} ${step.server}`;
    case 'link':
    case 'flap':
      return `${step.do} ${step.a}–${step.b}`;
    case 'load':
      return `load on "${step.room}"`;
    case 'chaos':
      return `chaos (seed ${step.seed})`;
  }
}

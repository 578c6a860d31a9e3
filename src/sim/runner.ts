/**
 * Runs a `hearth simulate` scenario on an in-process Cluster and reports
 * what held. Every step runs even after one fails (a failed `converge` or
 * `expect` usually makes the later checks more, not less, informative); the
 * report says which steps failed and why.
 */
import { isJsonObject, type JsonObject, type JsonValue } from '../core/json.ts';
import { splitStateKey } from '../core/pdu.ts';
import type { EngineStats } from '../server/engine.ts';
import type { Logger } from '../server/log.ts';
import type { Room } from '../server/room.ts';
import type { LinkStats } from '../server/transport/in-process.ts';
import { type ChaosFault, faultSpan, generateSchedule } from './chaos.ts';
import { type CheckResult, type EventNode, type RoomSnapshot, type ServerRoomSnapshot, check } from './checker.ts';
import { Cluster, type ClusterServer } from './cluster.ts';
import { Metrics, type MetricsReport, type ServerSample, type ServerTotals } from './metrics.ts';
import { creatorPowerExpectation, powerLevelsWithoutCreators } from './creators.ts';
import { Rng } from './prng.ts';
import type { ChaosStep, ExpectStep, LoadKind, LoadStep, PartitionStep, Scenario, Step } from './scenario.ts';
import { ScenarioError } from './scenario.ts';

export interface RunOptions {
  /** Anti-entropy period: short, so a healed partition converges without new traffic. */
  antiEntropyMs?: number;
  /** A step that takes longer than this fails (so a stuck step cannot hang the run). */
  stepTimeoutMs?: number;
  log?: Logger;
  /** Called after each step (the CLI's --progress). */
  onStep?: (step: StepReport) => void;
  /** Overrides the seed of every chaos step (and seeds load and link loss). */
  seed?: number;
  /** Replaces the generated schedule of chaos steps, by step index (the shrinker's replays). */
  schedules?: Record<number, ChaosFault[]>;
  /** The network under the servers (default: the in-process network, which supports every fault). */
  transport?: 'in-process' | 'libp2p';
  /** The servers' Store (Cluster's `store`: fake-indexeddb in memory, or SQLite on disk). */
  store?: 'idb' | 'sqlite';
  /** Skip the checker (the scale benchmark checks convergence itself). */
  noCheck?: boolean;
  /** Put each room's final DAG (one joined server's view) in the report, for --report. */
  captureDag?: boolean;
  /** Called with the cluster and the room IDs (by label) after the checker, before shutdown: for digging into a failure. */
  inspect?: (cluster: Cluster, rooms: ReadonlyMap<string, string>, report: SimReport) => void;
  /** Called once with the cluster before the first server starts: for watching a long run as it goes. */
  onCluster?: (cluster: Cluster) => void;
}

export interface StepReport {
  /** Index into the scenario's steps. */
  i: number;
  do: Step['do'];
  ok: boolean;
  ms: number;
  error?: string;
  /** load and chaos workloads: what the senders did. */
  load?: LoadCounts;
}

export interface LoadCounts {
  /** Events the engine accepted from the senders. */
  sent: number;
  /** Refused by the engine (e.g. a sender without the power to set state, or not joined). */
  refused: number;
  /** Not attempted: the sender's server was down or paused. */
  skipped: number;
}

/** A scheduled fault as it ran: the step it belongs to and the schedule entry. */
export type ScheduledFault = ChaosFault & { step: number };

export interface ServerReport {
  server_name: string;
  running: boolean;
  users: string[];
  stats: EngineStats;
  /** Queued outbound entries per destination. */
  outbox: Record<string, number>;
  /** Traffic this server sent over the in-process network (all its incarnations). */
  network: LinkStats & { lost?: number };
  /** Every server name this label had (a wipe gives a new one), oldest first. */
  names?: string[];
}

export interface RoomReport {
  room_id: string;
  /** Accepted (incl. soft-failed) events, as seen by `seen_by`. */
  events: number;
  seen_by?: string;
  name?: string;
  topic?: string;
  join_rule?: string;
  /** user label (or user ID, for users outside the scenario) -> membership */
  members: Record<string, string>;
  /** Per running server holding the room: its own counts, to spot a server that did not converge. */
  servers: Record<string, { events: number; messages?: number; state_events: number }>;
}

export interface SimReport {
  ok: boolean;
  name: string;
  steps: StepReport[];
  /** One entry per converge step, in order: ms until converged, or null if it timed out. */
  convergence_ms: (number | null)[];
  servers: Record<string, ServerReport>;
  rooms: Record<string, RoomReport>;
  /** The seed used for chaos, load and link loss (when any ran). */
  seed?: number;
  /** The faults the chaos steps ran, in order. */
  schedule?: ScheduledFault[];
  /** The checker's verdict (absent with noCheck). */
  check?: CheckResult;
  metrics: MetricsReport;
  /** With captureDag: room label -> the final DAG as `server` sees it. */
  dags?: Record<string, { server: string; nodes: EventNode[] }>;
}

interface RoomInfo {
  roomId: string;
  /** Label of the server the room was created on: the first server to join through. */
  creatorServer: string;
}

class StepFailure extends Error {}

/** Steps that need the in-process network's fault injection (libp2p gives us only block/unblock). */
const IN_PROCESS_ONLY = new Set(['link', 'flap', 'pause', 'wipe', 'chaos']);

/** Throws ScenarioError when the scenario uses a step the chosen transport cannot carry out. */
export function checkTransport(scenario: Scenario, transport: RunOptions['transport']): void {
  if (transport !== 'libp2p') return;
  scenario.steps.forEach((s, i) => {
    const oneWay = s.do === 'partition' && !('groups' in s);
    if (IN_PROCESS_ONLY.has(s.do) || oneWay) {
      throw new ScenarioError(`step ${i}: "${s.do}"${oneWay ? ' (one-way)' : ''} needs the in-process network; over libp2p only partition {groups}, heal, crash and restart are available`);
    }
  });
}

export async function runScenario(scenario: Scenario, opts: RunOptions = {}): Promise<SimReport> {
  checkTransport(scenario, opts.transport);
  const run = new Run(scenario, opts);
  try {
    return await run.execute();
  } finally {
    await run.shutdown();
  }
}

/** The seed a run uses: the override, else the first chaos step's, else 0. */
export function scenarioSeed(scenario: Scenario, override?: number): number {
  if (override !== undefined) return override;
  const chaos = scenario.steps.find((s): s is ChaosStep => s.do === 'chaos');
  return chaos?.seed ?? 0;
}

/** Per label: counters of the incarnations that are gone (restart and wipe reset the engine's). */
interface Carried {
  stats: EngineStats;
  resolutions: number;
  resolutionMs: number;
}

class Run {
  readonly cluster: Cluster;
  private readonly rooms = new Map<string, RoomInfo>();
  private readonly userIds = new Map<string, string>();
  private readonly convergence: (number | null)[] = [];
  private readonly seed: number;
  private readonly loadRng: Rng;
  private readonly metrics: Metrics;
  /** room ID -> event ID -> names of the servers that accepted it during the run. */
  private readonly acceptedBy = new Map<string, Map<string, Set<string>>>();
  private readonly carried = new Map<string, Carried>();
  private readonly maxOutbox = new Map<string, number>();
  /** Background work (flaps, pause timers, wipe recoveries), awaited or cancelled at the end. */
  private readonly background = new Set<Promise<void>>();
  private readonly recoveries = new Set<Promise<void>>();
  /** Active flaps: cancelled by heal. */
  private readonly flaps = new Set<{ cancelled: boolean }>();
  private readonly schedule: ScheduledFault[] = [];
  private usedSeed = false;
  private finished = false;
  /** The open metrics fault of each replaceable partition, so a new `partition` step ends the old one. */
  private groupPartitionFault: number | undefined;
  private readonly linkFaults = new Map<string, number>();

  constructor(
    private readonly scenario: Scenario,
    private readonly opts: RunOptions,
  ) {
    const tuning = scenario.tuning ?? {};
    this.seed = scenarioSeed(scenario, opts.seed);
    const rng = new Rng(this.seed);
    const netRng = rng.fork(1);
    this.loadRng = rng.fork(2);
    this.cluster = new Cluster({
      antiEntropyMs: opts.antiEntropyMs ?? tuning.anti_entropy_ms ?? 500,
      outbox: { baseBackoffMs: 50, maxBackoffMs: tuning.outbox_max_backoff_ms ?? 1000 },
      random: netRng.next,
      onStart: (server) => this.watch(server),
      ...(opts.transport ? { transport: opts.transport } : {}),
      ...(opts.store ? { store: opts.store } : {}),
      // 250 ms per server: each announcement costs every other server a verification (see Cluster).
      libp2pAnnounceMs: Math.max(500, scenario.servers.length * 250),
      ...(opts.log ? { log: opts.log } : {}),
    });
    this.metrics = new Metrics(
      { labels: () => [...this.cluster.servers.keys()], sample: (l) => this.sampleServer(l), converged: () => this.quickConverged() },
      tuning.sample_ms ?? 100,
    );
  }

  async shutdown(): Promise<void> {
    this.finished = true;
    for (const f of this.flaps) f.cancelled = true;
    for (const l of this.cluster.running()) if (this.cluster.isPaused(l)) this.cluster.resume(l);
    await this.cluster.stopAll();
    await Promise.allSettled([...this.background, ...this.recoveries]);
  }

  async execute(): Promise<SimReport> {
    this.opts.onCluster?.(this.cluster);
    for (const label of this.scenario.servers) await this.cluster.add(label);
    for (const [user, server] of Object.entries(this.scenario.users)) {
      this.userIds.set(user, await this.cluster.get(server).hs.register(user));
    }
    this.metrics.startSampling();
    const steps: StepReport[] = [];
    for (const [i, step] of this.scenario.steps.entries()) {
      const start = performance.now();
      let error: string | undefined;
      let load: LoadCounts | undefined;
      try {
        load = await this.withTimeout(this.step(step, i), step);
      } catch (err) {
        error = err instanceof Error ? err.message : String(err);
      }
      const report: StepReport = { i, do: step.do, ok: step.expect_error ? error !== undefined : error === undefined, ms: Math.round(performance.now() - start) };
      if (!report.ok) report.error = step.expect_error ? 'expected the step to be refused, but it succeeded' : error;
      if (load) report.load = load;
      steps.push(report);
      this.opts.onStep?.(report);
    }
    // Background faults still running (a pause longer than the rest of the run) end with the run.
    for (const f of this.flaps) f.cancelled = true;
    const checked = this.opts.noCheck ? undefined : this.check();
    const servers = this.serverReports();
    const metrics = this.metrics.finish(this.totals(servers));
    const report: SimReport = {
      ok: steps.every((s) => s.ok) && (checked?.ok ?? true),
      name: this.scenario.name,
      steps,
      convergence_ms: this.convergence,
      servers,
      rooms: this.roomReports(),
      ...(this.usedSeed ? { seed: this.seed } : {}),
      ...(this.schedule.length > 0 || this.scenario.steps.some((s) => s.do === 'chaos') ? { schedule: this.schedule } : {}),
      ...(checked ? { check: checked } : {}),
      metrics,
      ...(this.opts.captureDag ? { dags: this.dags() } : {}),
    };
    this.opts.inspect?.(this.cluster, new Map([...this.rooms].map(([l, r]) => [l, r.roomId])), report);
    return report;
  }

  private async withTimeout<T>(p: Promise<T>, step: Step): Promise<T> {
    // converge has its own deadline; give it room to report its own message.
    const own =
      step.do === 'converge'
        ? step.timeout_ms
        : step.do === 'wait'
          ? step.ms
          : step.do === 'load'
            ? // Sends are not serialised, but an overloaded cluster falls behind the rate: the scale
              // scenario's 50 s of load took 569 s, twenty libp2p servers' 10 s took 120 s. Slow is
              // not failing (converge measures that); only a load that hangs should fail.
              step.duration_ms * 20
            : step.do === 'chaos'
              ? step.duration_ms + (step.converge_timeout_ms ?? 15_000)
              : 0;
    const ms = (this.opts.stepTimeoutMs ?? 30_000) + own;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StepFailure(`the step did not finish within ${ms} ms`)), ms);
    });
    try {
      return await Promise.race([p, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  // ---- lookups -------------------------------------------------------------

  private uid(user: string): string {
    return this.userIds.get(user)!;
  }

  private roomId(label: string): string {
    const r = this.rooms.get(label);
    if (!r) throw new StepFailure(`room ${JSON.stringify(label)} was not created (its createRoom step failed)`);
    return r.roomId;
  }

  /** The running server of a user, or a failure saying it is down. */
  private serverOf(user: string): ClusterServer {
    const label = this.scenario.users[user]!;
    if (!this.cluster.isRunning(label)) throw new StepFailure(`server ${label} (of ${user}) is not running`);
    // A paused server is a frozen tab: its users cannot act either.
    if (this.cluster.isPaused(label)) throw new StepFailure(`server ${label} (of ${user}) is paused`);
    return this.cluster.get(label);
  }

  private running(label: string): ClusterServer {
    if (!this.cluster.isRunning(label)) throw new StepFailure(`server ${label} is not running`);
    return this.cluster.get(label);
  }

  /** Scenario users by server label (built once: converge asks for every server on every poll). */
  private usersByServer: Map<string, string[]> | undefined;

  private localUsers(server: string): string[] {
    if (!this.usersByServer) {
      this.usersByServer = new Map();
      for (const [u, s] of Object.entries(this.scenario.users)) this.usersByServer.set(s, [...(this.usersByServer.get(s) ?? []), u]);
    }
    return this.usersByServer.get(server) ?? [];
  }

  private holdsRoom(label: string, roomId: string): boolean {
    const room = this.cluster.get(label).hs.rooms.get(roomId);
    return room !== undefined && room.currentGroup >= 0;
  }

  /** Running servers where one of the scenario's users is joined (as that server sees it). */
  private joinedServers(roomId: string): string[] {
    return this.cluster.running().filter((label) => {
      const c = this.cluster.get(label).client;
      return this.holdsRoom(label, roomId) && this.localUsers(label).some((u) => c.membership(this.uid(u), roomId) === 'join');
    });
  }

  /** Servers to join or knock through: the creator's first, then every other server with a joined member. */
  private via(roomLabel: string, self: string): string[] {
    const info = this.rooms.get(roomLabel)!;
    const labels = [info.creatorServer, ...this.joinedServers(info.roomId)];
    return [...new Set(labels)].filter((l) => l !== self).map((l) => this.cluster.name(l));
  }

  /** `@label` (a whole string or object key) -> that user's full ID, recursively. */
  private subst<T extends JsonValue>(v: T): T {
    if (typeof v === 'string') return (this.userFromRef(v) ?? v) as T;
    if (Array.isArray(v)) return v.map((x) => this.subst(x)) as T;
    if (isJsonObject(v)) {
      const out: JsonObject = {};
      for (const [k, x] of Object.entries(v)) out[this.userFromRef(k) ?? k] = this.subst(x);
      return out as T;
    }
    return v;
  }

  private userFromRef(s: string): string | undefined {
    return s.startsWith('@') ? this.userIds.get(s.slice(1)) : undefined;
  }

  // ---- steps -----------------------------------------------------------------

  private async step(step: Step, index: number): Promise<LoadCounts | undefined> {
    switch (step.do) {
      case 'createRoom': {
        const server = this.serverOf(step.as);
        const roomId = await server.client.createRoom(this.uid(step.as), {
          roomVersion: this.scenario.room_version,
          ...(step.preset ? { preset: step.preset } : {}),
          ...(step.name !== undefined ? { name: step.name } : {}),
          ...(step.topic !== undefined ? { topic: step.topic } : {}),
        });
        this.rooms.set(step.room, { roomId, creatorServer: server.label });
        return;
      }
      case 'invite':
        await this.serverOf(step.as).client.invite(this.uid(step.as), this.roomId(step.room), this.uid(step.user));
        return;
      case 'join': {
        const roomId = this.roomId(step.room);
        const server = this.serverOf(step.as);
        await server.client.join(this.uid(step.as), roomId, this.via(step.room, server.label));
        return;
      }
      case 'knock': {
        const roomId = this.roomId(step.room);
        const server = this.serverOf(step.as);
        await server.client.knock(this.uid(step.as), roomId, this.via(step.room, server.label));
        return;
      }
      case 'leave':
        await this.serverOf(step.as).client.leave(this.uid(step.as), this.roomId(step.room));
        return;
      case 'kick':
      case 'ban':
      case 'unban': {
        const c = this.serverOf(step.as).client;
        await c[step.do](this.uid(step.as), this.roomId(step.room), this.uid(step.user));
        return;
      }
      case 'send': {
        const c = this.serverOf(step.as).client;
        const roomId = this.roomId(step.room);
        if (step.count === undefined) await c.sendMessage(this.uid(step.as), roomId, step.body);
        else for (let n = 1; n <= step.count; n++) await c.sendMessage(this.uid(step.as), roomId, `${step.body} #${n}`);
        return;
      }
      case 'state': {
        const c = this.serverOf(step.as).client;
        const roomId = this.roomId(step.room);
        let content = this.subst(step.content);
        // Room version 12: creators are implied at infinite power and may not be listed (src/sim/creators.ts).
        if (step.type === 'm.room.power_levels' && c.hs.rooms.has(roomId)) content = powerLevelsWithoutCreators(content, c.creators(roomId));
        await c.setState(this.uid(step.as), roomId, step.type, this.subst(step.state_key), content);
        return;
      }
      case 'partition':
        this.partition(step);
        return;
      case 'heal':
        this.healAll();
        return;
      case 'crash':
        this.running(step.server);
        await this.crash(step.server);
        this.metrics.faultStart('crash', step.server);
        return;
      case 'restart':
        if (this.cluster.isRunning(step.server)) throw new StepFailure(`server ${step.server} is running (crash it first)`);
        await this.cluster.restart(step.server);
        this.endFault('crash', step.server);
        return;
      case 'wait':
        await new Promise((r) => setTimeout(r, step.ms));
        return;
      case 'converge':
        return void (await this.converge(step.timeout_ms));
      case 'expect':
        await this.expect(step);
        return;
      case 'link': {
        const props = { latencyMs: step.latency_ms, jitterMs: step.jitter_ms, loss: step.loss, bandwidthKbps: step.bandwidth_kbps };
        this.setLink(step.a, step.b, props, step.one_way === true);
        return;
      }
      case 'flap':
        this.track(this.flap(step.a, step.b, step.period_ms, step.count));
        return;
      case 'pause': {
        this.running(step.server);
        if (this.cluster.isPaused(step.server)) throw new StepFailure(`server ${step.server} is already paused`);
        this.track(this.pauseFor(step.server, step.ms));
        return;
      }
      case 'wipe':
        await this.wipe(step.server);
        return;
      case 'load':
        return this.load(step);
      case 'chaos':
        return this.chaos(step, index);
    }
  }

  // ---- faults ----------------------------------------------------------------

  private endFault(kind: string, label: string): void {
    this.metrics.endOpen(kind, label);
  }

  private partition(step: PartitionStep): void {
    if ('groups' in step) {
      this.cluster.partition(step.groups);
      if (this.groupPartitionFault !== undefined) this.metrics.faultEnd(this.groupPartitionFault);
      this.groupPartitionFault = this.metrics.faultStart('partition', step.groups.map((g) => g.join(',')).join(' | '));
    } else {
      this.cluster.cutOneWay(step.from, step.to);
      this.metrics.faultStart('partition', `${step.from.join(',')} -> ${step.to.join(',')}`);
    }
  }

  /** Removes every cut and stops flapping links (link properties stay). */
  private healAll(): void {
    for (const f of this.flaps) f.cancelled = true;
    this.flaps.clear();
    this.cluster.healAll();
    this.groupPartitionFault = undefined;
    this.metrics.endAll(['partition', 'flap']);
  }

  private setLink(a: string, b: string, p: { latencyMs?: number | undefined; jitterMs?: number | undefined; loss?: number | undefined; bandwidthKbps?: number | undefined }, oneWay: boolean): void {
    const props = Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined && v !== 0));
    const an = this.cluster.name(a);
    const bn = this.cluster.name(b);
    this.cluster.net.setLink(an, bn, props);
    if (!oneWay) this.cluster.net.setLink(bn, an, props);
    const key = `${a}${oneWay ? '->' : '<->'}${b}`;
    const open = this.linkFaults.get(key);
    if (open !== undefined) this.metrics.faultEnd(open);
    this.linkFaults.delete(key);
    if (Object.keys(props).length > 0) {
      const desc = Object.entries(props)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
      this.linkFaults.set(key, this.metrics.faultStart('link', `${key} ${desc}`));
    }
  }

  private track(p: Promise<void>): void {
    const tracked = p
      .catch((err) => this.opts.log?.('warn', 'background fault failed', { error: String(err) }))
      .finally(() => this.background.delete(tracked));
    this.background.add(tracked);
  }

  /** `count` cycles of: link a<->b down for period/2, up for period/2. Ends with the link up. */
  private async flap(a: string, b: string, periodMs: number, count: number): Promise<void> {
    const f = { cancelled: false };
    this.flaps.add(f);
    const fault = this.metrics.faultStart('flap', `${a}<->${b}`);
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    try {
      for (let k = 0; k < count && !f.cancelled && !this.finished; k++) {
        this.cluster.net.cut(this.cluster.name(a), this.cluster.name(b));
        await sleep(periodMs / 2);
        if (f.cancelled || this.finished) break;
        this.cluster.net.heal(this.cluster.name(a), this.cluster.name(b));
        await sleep(periodMs / 2);
      }
    } finally {
      if (!f.cancelled) this.cluster.net.heal(this.cluster.name(a), this.cluster.name(b));
      this.flaps.delete(f);
      this.metrics.faultEnd(fault);
    }
  }

  private async pauseFor(label: string, ms: number): Promise<void> {
    this.cluster.pause(label);
    const fault = this.metrics.faultStart('pause', label);
    await new Promise((r) => setTimeout(r, ms));
    // It may have crashed or been wiped meanwhile (that ended the freeze).
    if (this.cluster.isRunning(label) && this.cluster.isPaused(label)) this.cluster.resume(label);
    this.metrics.faultEnd(fault);
  }

  /** Stops a server, keeping its counters (the engine's restart from 0). */
  private async crash(label: string): Promise<void> {
    this.carry(label);
    await this.cluster.crash(label);
  }

  private carry(label: string): void {
    const s = this.cluster.servers.get(label);
    if (!s || !this.cluster.isRunning(label)) return;
    const c = this.carried.get(label) ?? { stats: zeroStats(), resolutions: 0, resolutionMs: 0 };
    for (const k of Object.keys(c.stats) as (keyof EngineStats)[]) c.stats[k] += s.hs.stats[k];
    for (const room of s.hs.rooms.values()) {
      c.resolutions += room.stats.resolutions;
      c.resolutionMs += room.stats.resolutionMs;
    }
    this.carried.set(label, c);
  }

  /**
   * Storage evicted. The server comes back empty under a new identity; its
   * users are registered again (same localparts, new server name, so new
   * user IDs) and re-join, through their peers, every room they were joined
   * to — which brings back the room's state and, by backfill, its history.
   */
  private async wipe(label: string): Promise<void> {
    const old = this.cluster.get(label);
    const users = this.localUsers(label);
    const rejoin: { user: string; room: string }[] = [];
    // A crashed server's rooms are still in memory: what it last knew is what its users had.
    for (const [roomLabel, info] of this.rooms) {
      for (const u of users) if (old.client.membership(this.uid(u), info.roomId) === 'join') rejoin.push({ user: u, room: roomLabel });
    }
    this.carry(label);
    const fresh = await this.cluster.wipe(label);
    this.metrics.instant('wipe', label);
    for (const u of users) this.userIds.set(u, await fresh.hs.register(u));
    if (rejoin.length === 0) return;
    const recovery = this.recover(label, rejoin).finally(() => this.recoveries.delete(recovery));
    this.recoveries.add(recovery);
  }

  /** Re-joins until every room is back or the run ends (peers may be cut off or down for a while). */
  private async recover(label: string, rejoin: { user: string; room: string }[]): Promise<void> {
    let left = rejoin;
    while (left.length > 0 && !this.finished) {
      const next: typeof left = [];
      for (const r of left) {
        try {
          if (!this.cluster.isRunning(label) || this.cluster.isPaused(label)) throw new Error('down');
          const server = this.cluster.get(label);
          await server.client.join(this.uid(r.user), this.roomId(r.room), this.via(r.room, label));
        } catch {
          next.push(r);
        }
      }
      left = next;
      if (left.length > 0) await new Promise((r) => setTimeout(r, 100));
    }
  }

  // ---- workload ----------------------------------------------------------------

  private load(step: LoadStep): Promise<LoadCounts> {
    this.usedSeed = true;
    return this.runLoad(step.as, step.room, step.rate_per_s, step.duration_ms, step.kind, true);
  }

  /**
   * Sends `rate` events per second for `durationMs`, each from a sender
   * drawn from `users`, without waiting for one to finish before the next
   * (many users at once). Returns what happened; with `strict`, a load where
   * nothing got through fails.
   */
  private async runLoad(users: string[], roomLabel: string, rate: number, durationMs: number, kind: LoadKind, strict: boolean): Promise<LoadCounts> {
    const counts: LoadCounts = { sent: 0, refused: 0, skipped: 0 };
    const roomId = this.roomId(roomLabel);
    const total = Math.floor((rate * durationMs) / 1000);
    if (total === 0) return counts;
    const start = performance.now();
    const inFlight: Promise<void>[] = [];
    for (let n = 0; n < total && !this.finished; n++) {
      const due = start + (n * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const user = this.loadRng.pick(users);
      const isState = kind === 'state' || (kind === 'mixed' && this.loadRng.chance(0.2));
      const label = this.scenario.users[user]!;
      if (!this.cluster.isRunning(label) || this.cluster.isPaused(label)) {
        counts.skipped++;
        continue;
      }
      const c = this.cluster.get(label).client;
      const uid = this.uid(user);
      const send = isState
        ? c.setState(uid, roomId, 'm.room.topic', '', { topic: `topic ${n} by ${user}` })
        : c.sendMessage(uid, roomId, `load ${n} from ${user}`);
      inFlight.push(
        send.then(
          () => void counts.sent++,
          () => void counts.refused++,
        ),
      );
    }
    await Promise.all(inFlight);
    if (strict && counts.sent === 0) throw new StepFailure(`no event got through (${counts.refused} refused, ${counts.skipped} skipped)`);
    return counts;
  }

  // ---- chaos ---------------------------------------------------------------------

  /**
   * Runs a seeded fault schedule against a workload for `duration_ms`, then
   * heals everything (cuts, links, pauses, crashed servers) and converges.
   */
  private async chaos(step: ChaosStep, index: number): Promise<LoadCounts> {
    this.usedSeed = true;
    const seed = this.opts.seed ?? step.seed;
    const servers = step.servers ?? this.scenario.servers;
    const faults = this.opts.schedules?.[index] ?? generateSchedule({ seed, duration_ms: step.duration_ms, faults: step.faults, servers });
    for (const f of faults) this.schedule.push({ ...f, step: index });
    const users = step.workload.as ?? Object.keys(this.scenario.users);
    const start = performance.now();
    const cuts = new Map<string, number>();
    const addCuts = (pairs: [string, string][]) => {
      for (const [a, b] of pairs) {
        const k = `${a}\u0000${b}`;
        const n = cuts.get(k) ?? 0;
        cuts.set(k, n + 1);
        if (n === 0) this.cluster.net.cut(this.cluster.name(a), this.cluster.name(b), true);
      }
    };
    const removeCuts = (pairs: [string, string][]) => {
      for (const [a, b] of pairs) {
        const k = `${a}\u0000${b}`;
        const n = (cuts.get(k) ?? 0) - 1;
        if (n <= 0) {
          cuts.delete(k);
          this.cluster.net.heal(this.cluster.name(a), this.cluster.name(b), true);
        } else cuts.set(k, n);
      }
    };
    const sleepUntil = async (t: number) => {
      const wait = start + t - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    };
    const workload = this.runLoad(users, step.workload.room, step.workload.rate_per_s, step.duration_ms, step.workload.kind, false);
    const runs = faults.map(async (f) => {
      await sleepUntil(f.at_ms);
      if (this.finished) return;
      await this.runFault(f, { addCuts, removeCuts, sleepUntil });
    });
    await Promise.all(runs);
    const counts = await workload;
    await sleepUntil(step.duration_ms);
    // The implied final repair: every cut and link fault gone, every server up and thawed.
    this.healAll();
    this.cluster.net.resetLinks();
    this.linkFaults.clear();
    for (const l of this.cluster.running()) if (this.cluster.isPaused(l)) this.cluster.resume(l);
    for (const l of this.scenario.servers) {
      if (!this.cluster.isRunning(l)) {
        await this.cluster.restart(l);
      }
    }
    this.metrics.endAll();
    await this.converge(step.converge_timeout_ms ?? 15_000);
    return counts;
  }

  private async runFault(
    f: ChaosFault,
    h: { addCuts: (p: [string, string][]) => void; removeCuts: (p: [string, string][]) => void; sleepUntil: (t: number) => Promise<void> },
  ): Promise<void> {
    const end = f.at_ms + faultSpan(f);
    switch (f.kind) {
      case 'partition': {
        const pairs: [string, string][] = [];
        if ('groups' in f) {
          for (const [i, g] of f.groups.entries()) for (const a of g) for (const [j, o] of f.groups.entries()) if (i !== j) for (const b of o) pairs.push([a, b]);
        } else for (const a of f.from) for (const b of f.to) pairs.push([a, b]);
        const fault = this.metrics.faultStart('partition', 'groups' in f ? f.groups.map((g) => g.join(',')).join(' | ') : `${f.from.join(',')} -> ${f.to.join(',')}`);
        h.addCuts(pairs);
        await h.sleepUntil(end);
        h.removeCuts(pairs);
        this.metrics.faultEnd(fault);
        return;
      }
      case 'flap': {
        const pairs: [string, string][] = [
          [f.a, f.b],
          [f.b, f.a],
        ];
        const fault = this.metrics.faultStart('flap', `${f.a}<->${f.b}`);
        for (let k = 0; k < f.count && !this.finished; k++) {
          h.addCuts(pairs);
          await h.sleepUntil(f.at_ms + k * f.period_ms + f.period_ms / 2);
          h.removeCuts(pairs);
          await h.sleepUntil(f.at_ms + (k + 1) * f.period_ms);
        }
        this.metrics.faultEnd(fault);
        return;
      }
      case 'link': {
        const props = { latencyMs: f.latency_ms, jitterMs: f.jitter_ms, loss: f.loss, bandwidthKbps: f.bandwidth_kbps };
        this.setLink(f.a, f.b, props, f.one_way);
        await h.sleepUntil(end);
        this.setLink(f.a, f.b, {}, f.one_way);
        return;
      }
      case 'crash': {
        if (!this.cluster.isRunning(f.server)) return;
        await this.crash(f.server);
        const fault = this.metrics.faultStart('crash', f.server);
        await h.sleepUntil(end);
        if (!this.cluster.isRunning(f.server) && !this.finished) await this.cluster.restart(f.server);
        this.metrics.faultEnd(fault);
        return;
      }
      case 'pause': {
        if (!this.cluster.isRunning(f.server) || this.cluster.isPaused(f.server)) return;
        this.cluster.pause(f.server);
        const fault = this.metrics.faultStart('pause', f.server);
        await h.sleepUntil(end);
        if (this.cluster.isRunning(f.server) && this.cluster.isPaused(f.server)) this.cluster.resume(f.server);
        this.metrics.faultEnd(fault);
        return;
      }
      case 'wipe':
        if (!this.cluster.isRunning(f.server)) return;
        await this.wipe(f.server);
        return;
    }
  }

  /** Polls until every room's joined servers agree, or the deadline passes; returns the ms it took. */
  private async converge(timeoutMs: number): Promise<number> {
    const start = performance.now();
    // A wiped server is not joined until it has recovered: wait for that first, or converge
    // would compare only the others and pass before the wiped server is back.
    if (this.recoveries.size > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([Promise.allSettled([...this.recoveries]), new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
      clearTimeout(timer);
    }
    const pending = () => [...this.rooms.entries()].filter(([, r]) => !this.cluster.converged(r.roomId, this.joinedServers(r.roomId)));
    let checked = performance.now();
    let left = pending();
    let cost = performance.now() - checked;
    while (left.length > 0 && performance.now() - start < timeoutMs) {
      // Every 10 ms, or less often when the check itself is slow (many servers, large rooms):
      // polling must not take the CPU the servers need to converge.
      await new Promise((r) => setTimeout(r, Math.max(10, 4 * cost)));
      checked = performance.now();
      left = pending();
      cost = performance.now() - checked;
    }
    if (left.length === 0) {
      const ms = Math.round(performance.now() - start);
      this.convergence.push(ms);
      return ms;
    }
    this.convergence.push(null);
    const detail = left.map(([label, r]) => `${label} (${this.divergence(r.roomId)})`);
    throw new StepFailure(`not converged after ${timeoutMs} ms: ${detail.join('; ')}`);
  }

  /** What differs between the joined servers of a room, briefly. */
  private divergence(roomId: string): string {
    return this.joinedServers(roomId)
      .map((l) => {
        const c = this.cluster.get(l).client;
        const state = Object.values(c.stateIds(roomId)).reduce((n, byKey) => n + Object.keys(byKey).length, 0);
        return `${l}: ${c.acceptedEventIds(roomId).length} events, ${state} state entries`;
      })
      .join(', ');
  }

  private async expect(step: ExpectStep): Promise<void> {
    const roomId = this.roomId(step.room);
    let servers: string[];
    if (step.server === 'all') {
      servers = this.cluster.running().filter((l) => this.holdsRoom(l, roomId));
      if (servers.length === 0) throw new StepFailure(`no running server holds room ${step.room}`);
    } else {
      this.running(step.server);
      servers = [step.server];
    }
    const failures: string[] = [];
    for (const label of servers) failures.push(...(await this.checkServer(label, roomId, step)).map((f) => `${label}: ${f}`));
    if (failures.length > 0) throw new StepFailure(failures.join('; '));
  }

  private async checkServer(label: string, roomId: string, step: ExpectStep): Promise<string[]> {
    const { client } = this.cluster.get(label);
    const holds = this.holdsRoom(label, roomId);
    const out: string[] = [];
    if (step.state) {
      if (!holds) return [...out, `does not hold room ${step.room}, so has no state for it`];
      const state = client.state(roomId);
      for (const [type, byKey] of Object.entries(step.state)) {
        for (const [rawKey, expected] of Object.entries(byKey)) {
          const sk = this.subst(rawKey);
          const actual = state[type]?.[sk];
          let want: JsonValue = this.subst(expected);
          if (actual && type === 'm.room.power_levels') {
            const v12 = creatorPowerExpectation(want, actual, client.creators(roomId));
            out.push(...v12.failures);
            want = v12.rest;
          }
          if (!actual) out.push(`no ${type} state with state_key ${JSON.stringify(sk)}`);
          else if (!isSubset(want, actual)) out.push(`${type} ${JSON.stringify(sk)} is ${JSON.stringify(actual)}, expected ${JSON.stringify(want)}`);
        }
      }
    }
    if (step.membership) {
      for (const [user, expected] of Object.entries(step.membership)) {
        const actual = step.as !== undefined && holds ? client.membership(this.uid(user), roomId, this.uid(step.as)) : await this.membershipAt(label, roomId, user);
        if (actual !== expected) out.push(`${user} is ${actual}, expected ${expected}`);
      }
    }
    if (step.messages) {
      if (!holds) return [...out, `does not hold room ${step.room}, so has no timeline for it`];
      const viewer = step.as ?? this.viewer(label, roomId);
      if (!viewer) return [...out, 'has no user to see the timeline as'];
      const bodies = client.messageBodies(this.uid(viewer), roomId);
      const { count, contains } = step.messages;
      if (count !== undefined && bodies.length !== count) out.push(`${bodies.length} messages (as ${viewer} sees them), expected ${count}`);
      for (const body of contains ?? []) if (!bodies.includes(body)) out.push(`no message ${JSON.stringify(body)} (as ${viewer} sees them)`);
    }
    return out;
  }

  /**
   * A user's membership as one server sees it. A server that does not hold
   * the room still knows its own users' pending invites and knocks.
   */
  private async membershipAt(label: string, roomId: string, user: string): Promise<string> {
    const { client } = this.cluster.get(label);
    const uid = this.uid(user);
    if (this.holdsRoom(label, roomId) || this.scenario.users[user] !== label) return client.membership(uid, roomId);
    const summary = (await client.rooms(uid)).find((r) => r.roomId === roomId);
    return summary?.membership ?? 'leave';
  }

  /** The local user whose timeline `messages` checks: a joined one if any. */
  private viewer(label: string, roomId: string): string | undefined {
    const users = this.localUsers(label);
    const c = this.cluster.get(label).client;
    return users.find((u) => c.membership(this.uid(u), roomId) === 'join') ?? users[0];
  }

  // ---- recording, sampling, checking ------------------------------------------------

  /** Records every event a server accepts, as it accepts it (the checker's "never lost" set). */
  private watch(server: ClusterServer): void {
    const name = server.hs.serverName;
    server.hs.subscribe((u) => {
      if (u.kind !== 'event' || (u.status !== 'accepted' && u.status !== 'soft_failed')) return;
      let byEvent = this.acceptedBy.get(u.roomId);
      if (!byEvent) {
        byEvent = new Map();
        this.acceptedBy.set(u.roomId, byEvent);
      }
      let by = byEvent.get(u.eventId);
      if (!by) {
        by = new Set();
        byEvent.set(u.eventId, by);
      }
      by.add(name);
    });
  }

  private bytesSent(label: string): { fed: number; fedBytes: number; gossip: number; gossipBytes: number; lost: number } {
    const out = { fed: 0, fedBytes: 0, gossip: 0, gossipBytes: 0, lost: 0 };
    for (const name of this.cluster.names.get(label) ?? []) {
      // Over libp2p the in-process network carries nothing: the transports count what they send.
      const s = this.cluster.net.stats.get(name) ?? this.cluster.libp2pSent(name);
      if (!s) continue;
      out.fed += s.requests;
      out.fedBytes += s.requestBytes;
      out.gossip += s.broadcasts;
      out.gossipBytes += s.broadcastBytes;
      out.lost += (s.requestsLost ?? 0) + (s.broadcastsLost ?? 0);
    }
    return out;
  }

  private sampleServer(label: string): ServerSample {
    const up = this.cluster.isRunning(label);
    const s = this.cluster.servers.get(label);
    const sent = this.bytesSent(label);
    if (!up || !s) return { up: false, outbox: 0, width: null, events: null, bytes: sent.fedBytes + sent.gossipBytes };
    const outbox = s.hs.outbox.totalPending();
    this.maxOutbox.set(label, Math.max(this.maxOutbox.get(label) ?? 0, outbox));
    let width: number | null = null;
    let events: number | null = null;
    for (const info of this.rooms.values()) {
      const room = s.hs.rooms.get(info.roomId);
      if (!room || room.currentGroup < 0) continue;
      width = (width ?? 0) + room.extremities.size;
      events = (events ?? 0) + countAccepted(room);
    }
    return { up, outbox, width, events, bytes: sent.fedBytes + sent.gossipBytes };
  }

  /** Cheap agreement probe for the convergence curve: accepted count and forward extremities per joined server. */
  private quickConverged(): boolean {
    for (const info of this.rooms.values()) {
      let first: string | undefined;
      for (const l of this.joinedServers(info.roomId)) {
        const room = this.cluster.get(l).hs.rooms.get(info.roomId)!;
        const sig = `${countAccepted(room)}|${[...room.extremities].sort().join(',')}|${room.currentState().size}`;
        if (first === undefined) first = sig;
        else if (sig !== first) return false;
      }
    }
    return true;
  }

  private totals(servers: Record<string, ServerReport>): Record<string, ServerTotals> {
    const out: Record<string, ServerTotals> = {};
    for (const label of this.scenario.servers) {
      const sent = this.bytesSent(label);
      const c = this.carried.get(label);
      const s = this.cluster.servers.get(label);
      let resolutions = c?.resolutions ?? 0;
      let resolutionMs = c?.resolutionMs ?? 0;
      if (s && this.cluster.isRunning(label)) {
        for (const room of s.hs.rooms.values()) {
          resolutions += room.stats.resolutions;
          resolutionMs += room.stats.resolutionMs;
        }
      }
      const stats = servers[label]?.stats;
      out[label] = {
        federation: { messages: sent.fed, bytes: sent.fedBytes },
        gossip: { messages: sent.gossip, bytes: sent.gossipBytes },
        lost: sent.lost,
        duplicates: stats?.duplicates ?? 0,
        pdus_received: stats?.pdusReceived ?? 0,
        resolutions,
        resolution_ms: Math.round(resolutionMs * 10) / 10,
        max_outbox: this.maxOutbox.get(label) ?? 0,
      };
    }
    return out;
  }

  private dags(): Record<string, { server: string; nodes: EventNode[] }> {
    const out: Record<string, { server: string; nodes: EventNode[] }> = {};
    for (const [label, info] of this.rooms) {
      const server = this.joinedServers(info.roomId)[0] ?? this.cluster.running().find((l) => this.holdsRoom(l, info.roomId));
      if (!server) continue;
      out[label] = { server, nodes: snapshotRoom(server, this.cluster.get(server).hs.rooms.get(info.roomId)!, true).dag };
    }
    return out;
  }

  /** Snapshots every room on every server and runs the checker over them. */
  private check(): CheckResult {
    const rooms: RoomSnapshot[] = [];
    const liveNames = new Set(this.cluster.running().map((l) => this.cluster.name(l)));
    for (const [label, info] of this.rooms) {
      const joined = new Set(this.joinedServers(info.roomId));
      const servers: ServerRoomSnapshot[] = [];
      for (const l of this.cluster.running()) {
        const room = this.cluster.get(l).hs.rooms.get(info.roomId);
        if (!room || room.currentGroup < 0) continue;
        servers.push(snapshotRoom(l, room, joined.has(l)));
      }
      // Only what a live server accepted must survive: a wiped server's own unsent events are
      // lost with its storage, and a server still down at the end has not had the chance to send.
      const mustSurvive = [...(this.acceptedBy.get(info.roomId) ?? new Map<string, Set<string>>())]
        .filter(([, by]) => [...by].some((n) => liveNames.has(n)))
        .map(([id]) => id)
        .sort();
      rooms.push({ room: label, servers, mustSurvive });
    }
    return check(rooms);
  }

  // ---- report ------------------------------------------------------------------

  private serverReports(): Record<string, ServerReport> {
    const out: Record<string, ServerReport> = {};
    for (const label of this.scenario.servers) {
      const s = this.cluster.servers.get(label);
      if (!s) continue;
      const name = s.hs.serverName;
      out[label] = {
        server_name: name,
        running: this.cluster.isRunning(label),
        users: this.localUsers(label).map((u) => this.uid(u)),
        stats: this.engineStats(label),
        outbox: this.cluster.isRunning(label) ? s.hs.outbox.depth() : {},
        network: this.network(label),
        ...((this.cluster.names.get(label)?.length ?? 0) > 1 ? { names: this.cluster.names.get(label)! } : {}),
      };
    }
    return out;
  }

  /** Engine counters over every incarnation of the server. */
  private engineStats(label: string): EngineStats {
    const out = { ...(this.carried.get(label)?.stats ?? zeroStats()) };
    const s = this.cluster.servers.get(label);
    if (s && this.cluster.isRunning(label)) for (const k of Object.keys(out) as (keyof EngineStats)[]) out[k] += s.hs.stats[k];
    return out;
  }

  private network(label: string): LinkStats & { lost?: number } {
    const sent = this.bytesSent(label);
    return {
      requests: sent.fed,
      requestBytes: sent.fedBytes,
      broadcasts: sent.gossip,
      broadcastBytes: sent.gossipBytes,
      ...(sent.lost > 0 ? { lost: sent.lost } : {}),
    };
  }

  private roomReports(): Record<string, RoomReport> {
    const out: Record<string, RoomReport> = {};
    const labelOf = new Map([...this.userIds].map(([label, id]) => [id, label]));
    for (const [label, info] of this.rooms) {
      const holders = this.cluster.running().filter((l) => this.holdsRoom(l, info.roomId));
      // The summary is one server's view: a joined one if any (a server whose user left may be stale).
      const seenBy = this.joinedServers(info.roomId)[0] ?? holders[0];
      let summary: Omit<RoomReport, 'room_id' | 'members' | 'servers'> = { events: 0 };
      const members: Record<string, string> = {};
      if (seenBy) {
        const c = this.cluster.get(seenBy).client;
        const state = c.state(info.roomId);
        const field = (type: string, key: string): Record<string, string> => {
          const v = state[type]?.['']?.[key];
          return typeof v === 'string' ? { [key]: v } : {};
        };
        summary = {
          events: c.acceptedEventIds(info.roomId).length,
          seen_by: seenBy,
          ...field('m.room.name', 'name'),
          ...field('m.room.topic', 'topic'),
          ...field('m.room.join_rules', 'join_rule'),
        };
        for (const m of c.members(info.roomId)) members[labelOf.get(m.userId) ?? m.userId] = m.membership;
      }
      const report: RoomReport = { room_id: info.roomId, ...summary, members, servers: {} };
      for (const l of holders) {
        const c = this.cluster.get(l).client;
        const viewer = this.viewer(l, info.roomId);
        const stateEvents = Object.values(c.stateIds(info.roomId)).reduce((n, byKey) => n + Object.keys(byKey).length, 0);
        report.servers[l] = {
          events: c.acceptedEventIds(info.roomId).length,
          ...(viewer ? { messages: c.messageBodies(this.uid(viewer), info.roomId).length } : {}),
          state_events: stateEvents,
        };
      }
      out[label] = report;
    }
    return out;
  }

}

function zeroStats(): EngineStats {
  return { pdusReceived: 0, duplicates: 0, rejected: 0, softFailed: 0, dropped: 0, missingFetches: 0, backfills: 0 };
}

function countAccepted(room: Room): number {
  let n = 0;
  for (const e of room.events.values()) if (e.status === 'accepted' || e.status === 'soft_failed') n++;
  return n;
}

/** One server's view of one room, as the checker takes it. */
export function snapshotRoom(server: string, room: Room, joined: boolean): ServerRoomSnapshot {
  const dag: EventNode[] = [];
  const accepted: string[] = [];
  const banned = new Set<string>();
  for (const s of room.events.values()) {
    if (s.status === 'accepted' || s.status === 'soft_failed') accepted.push(s.event_id);
    if (s.pdu.type === 'm.room.member' && (s.pdu.content as { membership?: unknown }).membership === 'ban' && typeof s.pdu.state_key === 'string') {
      banned.add(s.pdu.state_key);
    }
    if (s.state_group === undefined) continue;
    dag.push({
      eventId: s.event_id,
      prevEvents: s.pdu.prev_events,
      depth: s.pdu.depth,
      status: s.status,
      sender: s.pdu.sender,
      type: s.pdu.type,
      ...(typeof s.pdu.state_key === 'string' ? { stateKey: s.pdu.state_key } : {}),
    });
  }
  // Membership history, only for senders ever banned (a state lookup per event is not free, and
  // nobody else can be banned in any state).
  const senderMembershipBefore: Record<string, string> = {};
  if (banned.size > 0) {
    for (const n of dag) {
      if (!banned.has(n.sender) || (n.status !== 'accepted' && n.status !== 'soft_failed')) continue;
      const m = membershipBefore(room, n);
      if (m !== undefined) senderMembershipBefore[n.eventId] = m;
    }
  }
  const state: Record<string, string> = {};
  for (const [k, id] of room.currentState()) {
    const [type, sk] = splitStateKey(k);
    state[`${type}\u0000${sk}`] = id;
  }
  return {
    server,
    live: true,
    joined,
    accepted: accepted.sort(),
    dag,
    state,
    timeline: room.topological((s) => s.status === 'accepted').map((s) => s.event_id),
    senderMembershipBefore,
  };
}

/**
 * The sender's membership in the state before an event. For any event other
 * than the sender's own membership change, the state after it has the same
 * membership for the sender. For the sender's own member event, the states
 * after its prev_events are used when they agree (else: unknown — the engine
 * would have had to resolve them).
 */
function membershipBefore(room: Room, n: EventNode): string | undefined {
  if (!(n.type === 'm.room.member' && n.stateKey === n.sender)) return room.membership(n.sender, room.stateAfter(n.eventId));
  const seen = new Set<string>();
  for (const p of n.prevEvents) if (room.isDagNode(p)) seen.add(room.membership(n.sender, room.stateAfter(p)));
  return seen.size === 1 ? [...seen][0] : undefined;
}

/** Whether `want` is a subset of `actual`: every key deep-equal, objects compared recursively as subsets. */
export function isSubset(want: JsonValue, actual: JsonValue | undefined): boolean {
  if (isJsonObject(want)) {
    if (!isJsonObject(actual)) return false;
    return Object.entries(want).every(([k, v]) => k in actual && isSubset(v, actual[k]));
  }
  if (Array.isArray(want)) {
    return Array.isArray(actual) && actual.length === want.length && want.every((v, i) => deepEqual(v, actual[i]));
  }
  return want === actual;
}

function deepEqual(a: JsonValue, b: JsonValue | undefined): boolean {
  if (isJsonObject(a)) {
    if (!isJsonObject(b) || Object.keys(a).length !== Object.keys(b).length) return false;
    return Object.entries(a).every(([k, v]) => k in b && deepEqual(v, b[k]));
  }
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  return a === b;
}

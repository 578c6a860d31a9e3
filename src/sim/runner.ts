/**
 * Runs a `hearth simulate` scenario on an in-process Cluster and reports
 * what held. Every step runs even after one fails (a failed `converge` or
 * `expect` usually makes the later checks more, not less, informative); the
 * report says which steps failed and why.
 */
import { isJsonObject, type JsonObject, type JsonValue } from '../core/json.ts';
import type { EngineStats } from '../server/engine.ts';
import type { Logger } from '../server/log.ts';
import type { LinkStats } from '../server/transport/in-process.ts';
import { Cluster, type ClusterServer } from './cluster.ts';
import type { ExpectStep, Scenario, Step } from './scenario.ts';

export interface RunOptions {
  /** Anti-entropy period: short, so a healed partition converges without new traffic. */
  antiEntropyMs?: number;
  /** A step that takes longer than this fails (so a stuck step cannot hang the run). */
  stepTimeoutMs?: number;
  log?: Logger;
  /** Called after each step (the CLI's --progress). */
  onStep?: (step: StepReport) => void;
}

export interface StepReport {
  /** Index into the scenario's steps. */
  i: number;
  do: Step['do'];
  ok: boolean;
  ms: number;
  error?: string;
}

export interface ServerReport {
  server_name: string;
  running: boolean;
  users: string[];
  stats: EngineStats;
  /** Queued outbound entries per destination. */
  outbox: Record<string, number>;
  /** Traffic this server sent over the in-process network. */
  network: LinkStats;
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
}

interface RoomInfo {
  roomId: string;
  /** Label of the server the room was created on: the first server to join through. */
  creatorServer: string;
}

class StepFailure extends Error {}

export async function runScenario(scenario: Scenario, opts: RunOptions = {}): Promise<SimReport> {
  const run = new Run(scenario, opts);
  try {
    return await run.execute();
  } finally {
    await run.cluster.stopAll();
  }
}

class Run {
  readonly cluster: Cluster;
  private readonly rooms = new Map<string, RoomInfo>();
  private readonly userIds = new Map<string, string>();
  private readonly convergence: (number | null)[] = [];

  constructor(
    private readonly scenario: Scenario,
    private readonly opts: RunOptions,
  ) {
    this.cluster = new Cluster({
      antiEntropyMs: opts.antiEntropyMs ?? 500,
      ...(opts.log ? { log: opts.log } : {}),
    });
  }

  async execute(): Promise<SimReport> {
    for (const label of this.scenario.servers) await this.cluster.add(label);
    for (const [user, server] of Object.entries(this.scenario.users)) {
      this.userIds.set(user, await this.cluster.get(server).hs.register(user));
    }
    const steps: StepReport[] = [];
    for (const [i, step] of this.scenario.steps.entries()) {
      const start = performance.now();
      let error: string | undefined;
      try {
        await this.withTimeout(this.step(step), step);
      } catch (err) {
        error = err instanceof Error ? err.message : String(err);
      }
      const report: StepReport = { i, do: step.do, ok: step.expect_error ? error !== undefined : error === undefined, ms: Math.round(performance.now() - start) };
      if (!report.ok) report.error = step.expect_error ? 'expected the step to be refused, but it succeeded' : error;
      steps.push(report);
      this.opts.onStep?.(report);
    }
    return {
      ok: steps.every((s) => s.ok),
      name: this.scenario.name,
      steps,
      convergence_ms: this.convergence,
      servers: this.serverReports(),
      rooms: this.roomReports(),
    };
  }

  private async withTimeout(p: Promise<void>, step: Step): Promise<void> {
    // converge has its own deadline; give it room to report its own message.
    const ms = (this.opts.stepTimeoutMs ?? 30_000) + (step.do === 'converge' ? step.timeout_ms : 0) + (step.do === 'wait' ? step.ms : 0);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StepFailure(`the step did not finish within ${ms} ms`)), ms);
    });
    try {
      await Promise.race([p, timeout]);
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
    return this.cluster.get(label);
  }

  private running(label: string): ClusterServer {
    if (!this.cluster.isRunning(label)) throw new StepFailure(`server ${label} is not running`);
    return this.cluster.get(label);
  }

  private localUsers(server: string): string[] {
    return Object.entries(this.scenario.users)
      .filter(([, s]) => s === server)
      .map(([u]) => u);
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

  private async step(step: Step): Promise<void> {
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
        await c.setState(this.uid(step.as), this.roomId(step.room), step.type, this.subst(step.state_key), this.subst(step.content));
        return;
      }
      case 'partition':
        this.cluster.partition(step.groups);
        return;
      case 'heal':
        this.cluster.net.healAll();
        return;
      case 'crash':
        this.running(step.server);
        await this.cluster.crash(step.server);
        return;
      case 'restart':
        if (this.cluster.isRunning(step.server)) throw new StepFailure(`server ${step.server} is running (crash it first)`);
        await this.cluster.restart(step.server);
        return;
      case 'wait':
        await new Promise((r) => setTimeout(r, step.ms));
        return;
      case 'converge':
        return this.converge(step.timeout_ms);
      case 'expect':
        return this.expect(step);
    }
  }

  /** Polls until every room's joined servers agree, or the deadline passes. */
  private async converge(timeoutMs: number): Promise<void> {
    const start = performance.now();
    const pending = () => [...this.rooms.entries()].filter(([, r]) => !this.cluster.converged(r.roomId, this.joinedServers(r.roomId)));
    let left = pending();
    while (left.length > 0 && performance.now() - start < timeoutMs) {
      await new Promise((r) => setTimeout(r, 10));
      left = pending();
    }
    if (left.length === 0) {
      this.convergence.push(Math.round(performance.now() - start));
      return;
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
          const want = this.subst(expected);
          if (!actual) out.push(`no ${type} state with state_key ${JSON.stringify(sk)}`);
          else if (!isSubset(want, actual)) out.push(`${type} ${JSON.stringify(sk)} is ${JSON.stringify(actual)}, expected ${JSON.stringify(want)}`);
        }
      }
    }
    if (step.membership) {
      for (const [user, expected] of Object.entries(step.membership)) {
        const actual = await this.membershipAt(label, roomId, user);
        if (actual !== expected) out.push(`${user} is ${actual}, expected ${expected}`);
      }
    }
    if (step.messages) {
      if (!holds) return [...out, `does not hold room ${step.room}, so has no timeline for it`];
      const viewer = this.viewer(label, roomId);
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
        stats: { ...s.hs.stats },
        outbox: s.hs.outbox.depth(),
        network: { ...(this.cluster.net.stats.get(name) ?? { requests: 0, requestBytes: 0, broadcasts: 0, broadcastBytes: 0 }) },
      };
    }
    return out;
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

/**
 * `hearth simulate` scenario files: the types and a validating parser.
 *
 * The whole file is checked before anything runs, so a typo in step 40 is
 * reported at once instead of after a minute of simulation. Every message
 * names where the problem is (`step 3 (send): ...`, `users.alice ...`) —
 * steps are numbered from 0, as indexes into `steps`, the same `i` the
 * report uses.
 */
import { localpartError } from '../core/ids.ts';
import { type JsonObject, type JsonValue, isJsonObject } from '../core/json.ts';
import { DEFAULT_ROOM_VERSION, SUPPORTED_ROOM_VERSIONS, isSupportedRoomVersion } from '../core/room-versions/registry.ts';
import { FAULT_KINDS, type FaultKind } from './chaos.ts';

export class ScenarioError extends Error {
  override readonly name = 'ScenarioError';
}

export type Preset = 'private_chat' | 'public_chat' | 'trusted_private_chat';
export type Membership = 'join' | 'leave' | 'ban' | 'invite' | 'knock';

export const PRESETS: readonly Preset[] = ['private_chat', 'public_chat', 'trusted_private_chat'];
export const MEMBERSHIPS: readonly Membership[] = ['join', 'leave', 'ban', 'invite', 'knock'];

/** Fields every step may carry. */
interface StepCommon {
  /** The step must be refused (e.g. a banned user sending). */
  expect_error: boolean;
}

export interface CreateRoomStep extends StepCommon {
  do: 'createRoom';
  as: string;
  room: string;
  preset?: Preset;
  name?: string;
  topic?: string;
}
export interface InviteStep extends StepCommon {
  do: 'invite';
  as: string;
  room: string;
  user: string;
}
export interface JoinStep extends StepCommon {
  do: 'join';
  as: string;
  room: string;
}
export interface KnockStep extends StepCommon {
  do: 'knock';
  as: string;
  room: string;
}
export interface LeaveStep extends StepCommon {
  do: 'leave';
  as: string;
  room: string;
}
export interface ModerateStep extends StepCommon {
  do: 'kick' | 'ban' | 'unban';
  as: string;
  room: string;
  user: string;
}
export interface SendStep extends StepCommon {
  do: 'send';
  as: string;
  room: string;
  body: string;
  /** Sends "body #1".."body #N" instead of one "body". */
  count?: number;
}
export interface StateStep extends StepCommon {
  do: 'state';
  as: string;
  room: string;
  type: string;
  state_key: string;
  content: JsonObject;
}
/** Either `groups` (symmetric) or `from`/`to` (one-way cuts: from cannot reach to). */
export type PartitionStep = StepCommon & { do: 'partition' } & (
    | {
        /** Server labels; servers in different groups cannot reach each other, unlisted ones are isolated. */
        groups: string[][];
      }
    | { from: string[]; to: string[] }
  );
export interface LinkStep extends StepCommon {
  do: 'link';
  a: string;
  b: string;
  latency_ms?: number;
  jitter_ms?: number;
  loss?: number;
  bandwidth_kbps?: number;
  /** Only a→b (default: both directions). */
  one_way?: boolean;
}
export interface FlapStep extends StepCommon {
  do: 'flap';
  a: string;
  b: string;
  period_ms: number;
  count: number;
}
export interface PauseStep extends StepCommon {
  do: 'pause';
  server: string;
  ms: number;
}
export interface WipeStep extends StepCommon {
  do: 'wipe';
  server: string;
}
export type LoadKind = 'message' | 'state' | 'mixed';
export const LOAD_KINDS: readonly LoadKind[] = ['message', 'state', 'mixed'];
export interface LoadStep extends StepCommon {
  do: 'load';
  /** One user label or several (the senders take turns at random). */
  as: string[];
  room: string;
  rate_per_s: number;
  duration_ms: number;
  kind: LoadKind;
}
export interface Workload {
  room: string;
  rate_per_s: number;
  kind: LoadKind;
  /** Senders (default: every user). */
  as?: string[];
}
export interface ChaosStep extends StepCommon {
  do: 'chaos';
  seed: number;
  duration_ms: number;
  faults: FaultKind[];
  workload: Workload;
  /** Servers the faults may touch (default: all). */
  servers?: string[];
  /** The implied final converge's deadline (default 15000). */
  converge_timeout_ms?: number;
}
export interface HealStep extends StepCommon {
  do: 'heal';
}
export interface CrashStep extends StepCommon {
  do: 'crash';
  server: string;
}
export interface RestartStep extends StepCommon {
  do: 'restart';
  server: string;
}
export interface WaitStep extends StepCommon {
  do: 'wait';
  ms: number;
}
export interface ConvergeStep extends StepCommon {
  do: 'converge';
  timeout_ms: number;
}
export interface ExpectStep extends StepCommon {
  do: 'expect';
  /** A server label or "all" (every running server that holds the room). */
  server: string;
  room: string;
  /** type -> state_key -> a subset of the expected content. */
  state?: Record<string, Record<string, JsonObject>>;
  /** user label -> membership. */
  membership?: Record<string, Membership>;
  messages?: { count?: number; contains?: string[] };
  /**
   * A user label: `messages` and `membership` as that user sees them (history
   * visibility applied; a user who left or was banned sees memberships as of
   * that event). The user's own server must be `server`. Default: the
   * server's view (memberships from its current state, the timeline as a
   * joined local user sees it).
   */
  as?: string;
}

export type Step =
  | CreateRoomStep
  | InviteStep
  | JoinStep
  | KnockStep
  | LeaveStep
  | ModerateStep
  | SendStep
  | StateStep
  | PartitionStep
  | HealStep
  | CrashStep
  | RestartStep
  | WaitStep
  | ConvergeStep
  | ExpectStep
  | LinkStep
  | FlapStep
  | PauseStep
  | WipeStep
  | LoadStep
  | ChaosStep;

export type Action = Step['do'];

/** Engine timing for the run (short values make chaos runs converge fast). */
export interface Tuning {
  /** Anti-entropy period (default 500). */
  anti_entropy_ms?: number;
  /** Outbox retry backoff cap (default 1000). */
  outbox_max_backoff_ms?: number;
  /** Metrics sampling period (default 100; 0 = no sampling). */
  sample_ms?: number;
}

export interface Scenario {
  name: string;
  description?: string;
  room_version: string;
  tuning?: Tuning;
  servers: string[];
  /** user label (the localpart) -> server label */
  users: Record<string, string>;
  steps: Step[];
}

/** Each action's fields: required and optional (besides `do`, `expect_error` and `comment`). */
const FIELDS: Record<Action, { required: string[]; optional: string[] }> = {
  createRoom: { required: ['as', 'room'], optional: ['preset', 'name', 'topic'] },
  invite: { required: ['as', 'room', 'user'], optional: [] },
  join: { required: ['as', 'room'], optional: [] },
  knock: { required: ['as', 'room'], optional: [] },
  leave: { required: ['as', 'room'], optional: [] },
  kick: { required: ['as', 'room', 'user'], optional: [] },
  ban: { required: ['as', 'room', 'user'], optional: [] },
  unban: { required: ['as', 'room', 'user'], optional: [] },
  send: { required: ['as', 'room', 'body'], optional: ['count'] },
  state: { required: ['as', 'room', 'type', 'state_key', 'content'], optional: [] },
  partition: { required: [], optional: ['groups', 'from', 'to'] },
  link: { required: ['a', 'b'], optional: ['latency_ms', 'jitter_ms', 'loss', 'bandwidth_kbps', 'one_way'] },
  flap: { required: ['a', 'b', 'period_ms', 'count'], optional: [] },
  pause: { required: ['server', 'ms'], optional: [] },
  wipe: { required: ['server'], optional: [] },
  load: { required: ['as', 'room', 'rate_per_s', 'duration_ms', 'kind'], optional: [] },
  chaos: { required: ['seed', 'duration_ms', 'faults', 'workload'], optional: ['servers', 'converge_timeout_ms'] },
  heal: { required: [], optional: [] },
  crash: { required: ['server'], optional: [] },
  restart: { required: ['server'], optional: [] },
  wait: { required: ['ms'], optional: [] },
  converge: { required: ['timeout_ms'], optional: [] },
  expect: { required: ['server', 'room'], optional: ['state', 'membership', 'messages', 'as'] },
};

export const ACTIONS = Object.keys(FIELDS) as Action[];

const TOP_LEVEL = ['name', 'description', 'room_version', 'tuning', 'servers', 'users', 'steps'];
const TUNING = ['anti_entropy_ms', 'outbox_max_backoff_ms', 'sample_ms'];

const q = (v: unknown): string => JSON.stringify(v);

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** Parses and validates a scenario (a parsed JSON value, or JSON text). */
export function parseScenario(input: unknown): Scenario {
  let json = input;
  if (typeof input === 'string') {
    try {
      json = JSON.parse(input);
    } catch (err) {
      throw new ScenarioError(`not JSON: ${(err as Error).message}`);
    }
  }
  if (!isJsonObject(json as JsonValue)) throw new ScenarioError(`a scenario must be a JSON object, got ${typeName(json)}`);
  const obj = json as JsonObject;
  for (const k of Object.keys(obj)) {
    if (!TOP_LEVEL.includes(k)) throw new ScenarioError(`unknown top-level field ${q(k)} (expected ${TOP_LEVEL.join(', ')})`);
  }

  if (obj.name === undefined) throw new ScenarioError('missing field "name"');
  if (typeof obj.name !== 'string' || obj.name === '') throw new ScenarioError(`"name" must be a non-empty string, got ${typeName(obj.name)}`);
  if ('description' in obj && typeof obj.description !== 'string') {
    throw new ScenarioError(`"description" must be a string, got ${typeName(obj.description)}`);
  }
  const roomVersion = obj.room_version ?? DEFAULT_ROOM_VERSION;
  if (typeof roomVersion !== 'string') throw new ScenarioError(`"room_version" must be a string, got ${typeName(roomVersion)}`);
  if (!isSupportedRoomVersion(roomVersion)) {
    throw new ScenarioError(`"room_version" ${q(roomVersion)} is not supported (${SUPPORTED_ROOM_VERSIONS.join(', ')})`);
  }

  let tuning: Tuning | undefined;
  if ('tuning' in obj) {
    const t = obj.tuning;
    if (!isJsonObject(t as JsonValue)) throw new ScenarioError(`"tuning" must be an object, got ${typeName(t)}`);
    tuning = {};
    for (const [k, v] of Object.entries(t as JsonObject)) {
      if (!TUNING.includes(k)) throw new ScenarioError(`tuning: unknown field ${q(k)} (expected ${TUNING.join(', ')})`);
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new ScenarioError(`tuning.${k} must be a non-negative number, got ${typeName(v)}`);
      tuning[k as keyof Tuning] = v;
    }
  }

  if (obj.servers === undefined) throw new ScenarioError('missing field "servers"');
  const servers = obj.servers;
  if (!Array.isArray(servers) || servers.length === 0) {
    throw new ScenarioError(`"servers" must be a non-empty array of server labels, got ${typeName(servers)}`);
  }
  const serverSet = new Set<string>();
  servers.forEach((s, i) => {
    if (typeof s !== 'string' || s === '') throw new ScenarioError(`servers[${i}] must be a non-empty string, got ${typeName(s)}`);
    if (s === 'all') throw new ScenarioError('servers[' + i + '] may not be "all" (expect uses it to mean every server)');
    if (serverSet.has(s)) throw new ScenarioError(`servers[${i}]: ${q(s)} is listed twice`);
    serverSet.add(s);
  });

  if (obj.users === undefined) throw new ScenarioError('missing field "users"');
  const usersRaw = obj.users;
  if (!isJsonObject(usersRaw as JsonValue)) throw new ScenarioError(`"users" must be an object {user label: server label}, got ${typeName(usersRaw)}`);
  const users: Record<string, string> = {};
  for (const [label, server] of Object.entries(usersRaw as JsonObject)) {
    const bad = localpartError(label);
    if (bad) throw new ScenarioError(`users.${label}: the label is the user's localpart and ${bad}`);
    if (typeof server !== 'string') throw new ScenarioError(`users.${label} must be a server label, got ${typeName(server)}`);
    if (!serverSet.has(server)) throw new ScenarioError(`users.${label} names server ${q(server)}, which is not in servers`);
    users[label] = server;
  }

  if (obj.steps === undefined) throw new ScenarioError('missing field "steps"');
  if (!Array.isArray(obj.steps)) throw new ScenarioError(`"steps" must be an array, got ${typeName(obj.steps)}`);
  const ctx: Ctx = { servers: serverSet, users, rooms: new Set() };
  const steps = obj.steps.map((raw, i) => parseStep(raw, i, ctx));

  return {
    name: obj.name,
    ...(typeof obj.description === 'string' ? { description: obj.description } : {}),
    room_version: roomVersion,
    ...(tuning ? { tuning } : {}),
    servers: servers as string[],
    users,
    steps,
  };
}

interface Ctx {
  servers: Set<string>;
  users: Record<string, string>;
  /** Room labels created by the steps so far (a room must be created before it is used). */
  rooms: Set<string>;
}

function parseStep(raw: unknown, i: number, ctx: Ctx): Step {
  if (!isJsonObject(raw as JsonValue)) throw new ScenarioError(`step ${i}: a step must be an object, got ${typeName(raw)}`);
  const s = raw as JsonObject;
  if (s.do === undefined) throw new ScenarioError(`step ${i}: missing field "do" (one of ${ACTIONS.join(', ')})`);
  const action = s.do;
  if (typeof action !== 'string' || !(action in FIELDS)) {
    throw new ScenarioError(`step ${i}: unknown action ${q(action)} (expected one of ${ACTIONS.join(', ')})`);
  }
  const act = action as Action;
  const at = `step ${i} (${act})`;
  const fail = (msg: string): never => {
    throw new ScenarioError(`${at}: ${msg}`);
  };
  const spec = FIELDS[act];
  for (const k of Object.keys(s)) {
    if (k === 'do' || k === 'expect_error' || k === 'comment') continue;
    if (!spec.required.includes(k) && !spec.optional.includes(k)) {
      const allowed = [...spec.required, ...spec.optional, 'expect_error'];
      fail(`unknown field ${q(k)} (${act} takes ${allowed.join(', ')})`);
    }
  }
  for (const k of spec.required) if (s[k] === undefined) fail(`missing field ${q(k)}`);
  if ('expect_error' in s && typeof s.expect_error !== 'boolean') fail(`"expect_error" must be true or false, got ${typeName(s.expect_error)}`);
  if ('comment' in s && typeof s.comment !== 'string') fail(`"comment" must be a string, got ${typeName(s.comment)}`);
  const expect_error = s.expect_error === true;

  const str = (k: string, nonEmpty = true): string => {
    const v = s[k];
    if (typeof v !== 'string' || (nonEmpty && v === '')) fail(`${q(k)} must be a ${nonEmpty ? 'non-empty ' : ''}string, got ${typeName(v)}`);
    return v as string;
  };
  const user = (k: string): string => {
    const v = str(k);
    if (!(v in ctx.users)) fail(`${q(k)} names user ${q(v)}, which is not in users`);
    return v;
  };
  const server = (k: string): string => {
    const v = str(k);
    if (!ctx.servers.has(v)) fail(`${q(k)} names server ${q(v)}, which is not in servers`);
    return v;
  };
  const room = (): string => {
    const v = str('room');
    if (!ctx.rooms.has(v)) fail(`room ${q(v)} is not created by an earlier createRoom step`);
    return v;
  };
  const number = (k: string, what: 'positive integer' | 'non-negative number' | 'positive number'): number => {
    const v = s[k];
    const ok =
      typeof v === 'number' &&
      Number.isFinite(v) &&
      (what === 'positive integer' ? Number.isInteger(v) && v > 0 : what === 'positive number' ? v > 0 : v >= 0);
    if (!ok) fail(`${q(k)} must be a ${what}, got ${typeName(v)}`);
    return v as number;
  };

  const userListOf = (v: JsonValue | undefined, k: string): string[] => {
    const list = typeof v === 'string' ? [v] : v;
    if (!Array.isArray(list) || list.length === 0) fail(`${q(k)} must be a user label or a non-empty array of them, got ${typeName(v)}`);
    return (list as JsonValue[]).map((u) => {
      if (typeof u !== 'string' || !(u in ctx.users)) fail(`${q(k)} names user ${q(u)}, which is not in users`);
      return u as string;
    });
  };
  const userList = (k: string): string[] => userListOf(s[k], k);
  const loadKind = (v: JsonValue | undefined, k: string): LoadKind => {
    if (typeof v !== 'string' || !LOAD_KINDS.includes(v as LoadKind)) fail(`${q(k)} must be one of ${LOAD_KINDS.join(', ')}, got ${typeName(v)}`);
    return v as LoadKind;
  };

  switch (act) {
    case 'createRoom': {
      const as = user('as');
      const label = str('room');
      if (ctx.rooms.has(label)) fail(`room ${q(label)} is already created by an earlier step`);
      const step: CreateRoomStep = { do: act, as, room: label, expect_error };
      if ('preset' in s) {
        const p = s.preset;
        if (typeof p !== 'string' || !PRESETS.includes(p as Preset)) fail(`"preset" must be one of ${PRESETS.join(', ')}, got ${typeName(p)}`);
        step.preset = p as Preset;
      }
      if ('name' in s) step.name = str('name', false);
      if ('topic' in s) step.topic = str('topic', false);
      // A createRoom that is expected to fail defines no room.
      if (!expect_error) ctx.rooms.add(label);
      return step;
    }
    case 'invite':
    case 'kick':
    case 'ban':
    case 'unban':
      return { do: act, as: user('as'), room: room(), user: user('user'), expect_error };
    case 'join':
    case 'knock':
    case 'leave':
      return { do: act, as: user('as'), room: room(), expect_error };
    case 'send': {
      const step: SendStep = { do: act, as: user('as'), room: room(), body: str('body'), expect_error };
      if ('count' in s) step.count = number('count', 'positive integer');
      return step;
    }
    case 'state': {
      const step = { as: user('as'), room: room(), type: str('type'), state_key: str('state_key', false) };
      if (!isJsonObject(s.content as JsonValue)) fail(`"content" must be an object, got ${typeName(s.content)}`);
      return { do: act, ...step, content: s.content as JsonObject, expect_error };
    }
    case 'partition': {
      const labels = (k: string): string[] => {
        const v = s[k];
        if (!Array.isArray(v) || v.length === 0) fail(`${q(k)} must be a non-empty array of server labels, got ${typeName(v)}`);
        return (v as JsonValue[]).map((m) => {
          if (typeof m !== 'string' || !ctx.servers.has(m)) fail(`${q(k)} names server ${q(m)}, which is not in servers`);
          return m as string;
        });
      };
      if ('groups' in s) {
        if ('from' in s || 'to' in s) fail('give either "groups" or "from" and "to", not both');
      } else {
        if (!('from' in s) || !('to' in s)) fail('missing field "groups" (or "from" and "to" for a one-way cut)');
        const from = labels('from');
        const to = labels('to');
        const both = from.find((l) => to.includes(l));
        if (both !== undefined) fail(`server ${q(both)} is in both "from" and "to"`);
        return { do: act, from, to, expect_error };
      }
      const g = s.groups;
      if (!Array.isArray(g)) fail(`"groups" must be an array of arrays of server labels, got ${typeName(g)}`);
      const seen = new Map<string, number>();
      const groups = (g as JsonValue[]).map((group, gi) => {
        if (!Array.isArray(group)) fail(`groups[${gi}] must be an array of server labels, got ${typeName(group)}`);
        return (group as JsonValue[]).map((member) => {
          if (typeof member !== 'string' || !ctx.servers.has(member)) {
            fail(`groups[${gi}] names server ${q(member)}, which is not in servers`);
          }
          const label = member as string;
          const prev = seen.get(label);
          if (prev !== undefined) fail(`server ${q(label)} is in groups[${prev}] and groups[${gi}]`);
          seen.set(label, gi);
          return label;
        });
      });
      return { do: act, groups, expect_error };
    }
    case 'link': {
      const step: LinkStep = { do: act, a: server('a'), b: server('b'), expect_error };
      if (step.a === step.b) fail('"a" and "b" must be different servers');
      for (const k of ['latency_ms', 'jitter_ms', 'bandwidth_kbps'] as const) if (k in s) step[k] = number(k, 'non-negative number');
      if ('loss' in s) {
        const v = s.loss;
        if (typeof v !== 'number' || !(v >= 0 && v <= 1)) fail(`"loss" must be a probability between 0 and 1, got ${typeName(v)}`);
        step.loss = v as number;
      }
      if ('one_way' in s) {
        if (typeof s.one_way !== 'boolean') fail(`"one_way" must be true or false, got ${typeName(s.one_way)}`);
        step.one_way = s.one_way as boolean;
      }
      return step;
    }
    case 'flap': {
      const a = server('a');
      const b = server('b');
      if (a === b) fail('"a" and "b" must be different servers');
      return { do: act, a, b, period_ms: number('period_ms', 'positive number'), count: number('count', 'positive integer'), expect_error };
    }
    case 'pause':
      return { do: act, server: server('server'), ms: number('ms', 'positive number'), expect_error };
    case 'wipe':
      return { do: act, server: server('server'), expect_error };
    case 'load':
      return {
        do: act,
        as: userList('as'),
        room: room(),
        rate_per_s: number('rate_per_s', 'positive number'),
        duration_ms: number('duration_ms', 'positive number'),
        kind: loadKind(s.kind, 'kind'),
        expect_error,
      };
    case 'chaos': {
      const seed = s.seed;
      if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0) fail(`"seed" must be a non-negative integer, got ${typeName(seed)}`);
      const faults = s.faults;
      if (!Array.isArray(faults) || !faults.every((f) => typeof f === 'string' && (FAULT_KINDS as readonly string[]).includes(f))) {
        fail(`"faults" must be an array of fault kinds (${FAULT_KINDS.join(', ')}), got ${typeName(faults)}`);
      }
      const w = s.workload;
      if (!isJsonObject(w as JsonValue)) fail(`"workload" must be an object {room, rate_per_s, kind, as?}, got ${typeName(w)}`);
      const wo = w as JsonObject;
      for (const k of Object.keys(wo)) if (!['room', 'rate_per_s', 'kind', 'as'].includes(k)) fail(`workload: unknown field ${q(k)} (expected room, rate_per_s, kind, as)`);
      if (typeof wo.room !== 'string' || !ctx.rooms.has(wo.room)) fail(`workload.room ${q(wo.room)} is not created by an earlier createRoom step`);
      if (typeof wo.rate_per_s !== 'number' || !(wo.rate_per_s >= 0)) fail(`workload.rate_per_s must be a non-negative number, got ${typeName(wo.rate_per_s)}`);
      const workload: Workload = { room: wo.room as string, rate_per_s: wo.rate_per_s as number, kind: loadKind(wo.kind, 'workload.kind') };
      if ('as' in wo) workload.as = userListOf(wo.as, 'workload.as');
      const step: ChaosStep = {
        do: act,
        seed: seed as number,
        duration_ms: number('duration_ms', 'positive number'),
        faults: faults as FaultKind[],
        workload,
        expect_error,
      };
      if ('servers' in s) {
        const v = s.servers;
        if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && ctx.servers.has(x))) fail(`"servers" must be an array of server labels, got ${typeName(v)}`);
        step.servers = v as string[];
      }
      if ('converge_timeout_ms' in s) step.converge_timeout_ms = number('converge_timeout_ms', 'positive number');
      return step;
    }
    case 'heal':
      return { do: act, expect_error };
    case 'crash':
    case 'restart':
      return { do: act, server: server('server'), expect_error };
    case 'wait':
      return { do: act, ms: number('ms', 'non-negative number'), expect_error };
    case 'converge':
      return { do: act, timeout_ms: number('timeout_ms', 'positive number'), expect_error };
    case 'expect':
      return parseExpect(s, expect_error, ctx, { str, room, fail });
  }
}

function parseExpect(
  s: JsonObject,
  expect_error: boolean,
  ctx: Ctx,
  h: { str: (k: string) => string; room: () => string; fail: (msg: string) => never },
): ExpectStep {
  const server = h.str('server');
  if (server !== 'all' && !ctx.servers.has(server)) h.fail(`"server" names server ${q(server)}, which is not in servers (or use "all")`);
  const step: ExpectStep = { do: 'expect', server, room: h.room(), expect_error };
  if (!('state' in s || 'membership' in s || 'messages' in s)) h.fail('nothing to check: give state, membership and/or messages');
  if ('as' in s) {
    const as = s.as;
    if (typeof as !== 'string' || !(as in ctx.users)) h.fail(`"as" must be a user label in users, got ${typeof as === 'string' ? q(as) : typeName(as)}`);
    const home = ctx.users[as as string];
    if (server !== home) h.fail(`"as": ${q(as as string)} is a user of server ${q(home as string)}: give "server": ${q(home as string)} (a user sees the room through their own server)`);
    step.as = as as string;
  }

  if ('state' in s) {
    if (!isJsonObject(s.state as JsonValue)) h.fail(`"state" must be an object {type: {state_key: content}}, got ${typeName(s.state)}`);
    const state: Record<string, Record<string, JsonObject>> = {};
    for (const [type, byKey] of Object.entries(s.state as JsonObject)) {
      if (!isJsonObject(byKey)) h.fail(`state[${q(type)}] must be an object {state_key: content}, got ${typeName(byKey)}`);
      state[type] = {};
      for (const [sk, content] of Object.entries(byKey as JsonObject)) {
        if (!isJsonObject(content)) h.fail(`state[${q(type)}][${q(sk)}] must be an object (a subset of the content), got ${typeName(content)}`);
        state[type][sk] = content as JsonObject;
      }
    }
    step.state = state;
  }

  if ('membership' in s) {
    if (!isJsonObject(s.membership as JsonValue)) h.fail(`"membership" must be an object {user label: membership}, got ${typeName(s.membership)}`);
    const membership: Record<string, Membership> = {};
    for (const [u, m] of Object.entries(s.membership as JsonObject)) {
      if (!(u in ctx.users)) h.fail(`membership names user ${q(u)}, which is not in users`);
      if (typeof m !== 'string' || !MEMBERSHIPS.includes(m as Membership)) {
        h.fail(`membership.${u} must be one of ${MEMBERSHIPS.join(', ')}, got ${typeName(m)}`);
      }
      membership[u] = m as Membership;
    }
    step.membership = membership;
  }

  if ('messages' in s) {
    const m = s.messages;
    if (!isJsonObject(m as JsonValue)) h.fail(`"messages" must be an object {count?, contains?}, got ${typeName(m)}`);
    const mo = m as JsonObject;
    for (const k of Object.keys(mo)) if (k !== 'count' && k !== 'contains') h.fail(`messages: unknown field ${q(k)} (expected count, contains)`);
    const messages: { count?: number; contains?: string[] } = {};
    if ('count' in mo) {
      const c = mo.count;
      if (typeof c !== 'number' || !Number.isInteger(c) || c < 0) h.fail(`messages.count must be a non-negative integer, got ${typeName(c)}`);
      messages.count = c as number;
    }
    if ('contains' in mo) {
      const c = mo.contains;
      if (!Array.isArray(c) || !c.every((b) => typeof b === 'string')) h.fail(`messages.contains must be an array of strings, got ${typeName(c)}`);
      messages.contains = c as string[];
    }
    step.messages = messages;
  }
  return step;
}

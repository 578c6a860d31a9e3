/**
 * `/sync`: initial and incremental, long-polling, filters (stored and
 * inline), lazy-loaded members, limited timelines with `prev_batch`;
 * joined, invited, knocked and left rooms; typing and receipts; account
 * data; presence.
 *
 * Positions. A sync token is `s<pos>_<epos>_<epoch>`:
 * - `pos`, the engine's stream position: every placed event has one (its
 *   local arrival order), and so has every client-data change (putData). It
 *   is persisted, so it survives a restart.
 * - `epos`, this process's counter of ephemeral changes (typing, receipts,
 *   presence, invites that arrived over federation). They are not kept
 *   across restarts, so `epoch` names the process: a token from another
 *   epoch gets every current ephemeral item again (clients de-duplicate).
 *
 * State between two syncs. Partitions heal by state resolution, which can
 * change a room's state without any new state event in the timeline (or
 * put an older event back). So the state block of an incremental sync is the
 * difference between the room's current state and its state at `pos`,
 * taken from a per-room log of (position, state group) kept while running;
 * for positions before the log begins (after a restart) it falls back to
 * the state entries whose event arrived after `pos`.
 */
import { encodeBase64Url } from '../../core/base64.ts';
import { type JsonObject, type JsonValue, isJsonObject } from '../../core/json.ts';
import { splitStateKey, stateKey } from '../../core/pdu.ts';
import { isMessageEvent } from '../content/index.ts';
import { MatrixError } from '../errors.ts';
import { loadPending, type PendingInvite, strippedState } from '../membership.ts';
import type { Room } from '../room.ts';
import type { StateMap } from '../state-groups.ts';
import type { StoredEvent } from '../store/types.ts';
import type { Update } from '../updates.ts';
import type { ClientApi } from './api.ts';
import { clientEvent, isTimelineEvent, visibleToUser } from './events.ts';
import { e2eeSyncFields } from './sync-e2ee.ts';
import { queryBool, queryInt } from './params.ts';
import { pushRulesFor } from './user-data.ts';
import type { Route } from './router.ts';
import type { Session } from './types.ts';

export interface SyncToken {
  pos: number;
  epos: number;
  epoch: string;
}

export function parseSyncToken(raw: string): SyncToken {
  const m = /^s(\d{1,15})_(\d{1,15})_([A-Za-z0-9_-]{1,32})$/.exec(raw);
  if (!m) throw new MatrixError('M_INVALID_PARAM', `${JSON.stringify(raw)} is not a sync token from this server`);
  return { pos: Number(m[1]), epos: Number(m[2]), epoch: m[3]! };
}

/** Keeps the positions of ephemeral changes and wakes long-polls when anything changes. */
export class SyncNotifier {
  readonly epoch: string;
  epos = 0;
  /** room → epos of the last typing change */
  readonly typing = new Map<string, number>();
  /** room → user → epos of their last receipt */
  readonly receipts = new Map<string, Map<string, number>>();
  /** user → epos of their last presence change */
  readonly presence = new Map<string, number>();
  /** `room\nuser` → epos when an invite arrived over federation, or a pending invite or knock was withdrawn */
  readonly pending = new Map<string, number>();
  /** room → (position, state group) whenever the current state changed */
  private readonly stateLog = new Map<string, { pos: number; group: number }[]>();
  private waiters: (() => void)[] = [];
  /** Changes so far (see `generation`). */
  private changes = 0;

  constructor(readonly api: ClientApi) {
    this.epoch = encodeBase64Url(api.hs.random(6));
    for (const room of api.hs.rooms.values()) this.noteState(room);
    api.hs.subscribe((u) => this.onUpdate(u));
  }

  private onUpdate(u: Update): void {
    switch (u.kind) {
      case 'typing':
        this.typing.set(u.roomId, ++this.epos);
        break;
      case 'receipt': {
        let m = this.receipts.get(u.roomId);
        if (!m) {
          m = new Map();
          this.receipts.set(u.roomId, m);
        }
        m.set(u.userId, ++this.epos);
        break;
      }
      case 'presence':
        this.presence.set(u.userId, ++this.epos);
        break;
      case 'invite':
        this.pending.set(`${u.roomId}\n${u.userId}`, ++this.epos);
        break;
      case 'event':
      case 'room': {
        const room = this.api.hs.rooms.get(u.roomId);
        if (room) this.noteState(room);
        break;
      }
      default:
        return;
    }
    this.wake();
  }

  /**
   * Counts every change. A long-poll reads it before building its answer and
   * waits only if it is unchanged after (`waitForChange`): a change while the
   * answer was being built (its awaits) woke no one, and a to-device message
   * arriving then sat unseen until the 30 s poll ran out.
   */
  get generation(): number {
    return this.changes;
  }

  /** Something a sync would report may have changed. */
  wake(): void {
    this.changes++;
    const w = this.waiters;
    this.waiters = [];
    for (const resolve of w) resolve();
  }

  /** A pending invite or knock of `userId` ended without a room event (e.g. a rejected remote invite). */
  pendingChanged(roomId: string, userId: string): void {
    this.pending.set(`${roomId}\n${userId}`, ++this.epos);
    this.wake();
  }

  /**
   * Resolves at the next change, or after `ms`. The timer does not keep a
   * Node process alive: `hearth serve` exits on SIGTERM at once rather than
   * when the last client's long-poll (up to 30 s) runs out.
   */
  waitForChange(ms: number, seen?: number): Promise<void> {
    // Something changed since the caller looked (`seen`, read from `generation`): no wait.
    if (seen !== undefined && seen !== this.changes) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      (timer as { unref?: () => void }).unref?.();
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.waiters.push(done);
    });
  }

  /** Records the room's current state group at the current position, if it changed. */
  noteState(room: Room): void {
    if (room.currentGroup < 0) return;
    let log = this.stateLog.get(room.roomId);
    if (!log) {
      log = [];
      this.stateLog.set(room.roomId, log);
    }
    const last = log[log.length - 1];
    if (last?.group === room.currentGroup) return;
    log.push({ pos: this.api.hs.currentStream, group: room.currentGroup });
    if (log.length > 2000) log.splice(0, log.length - 1000);
  }

  /** The room's state group at `pos`, if the log reaches back that far. */
  groupAt(roomId: string, pos: number): number | undefined {
    const log = this.stateLog.get(roomId);
    if (!log || log.length === 0 || log[0]!.pos > pos) return undefined;
    let found: number | undefined;
    for (const e of log) {
      if (e.pos > pos) break;
      found = e.group;
    }
    return found;
  }
}

// ---- filters ------------------------------------------------------------------

export interface SyncFilter {
  timelineLimit: number;
  rooms?: Set<string>;
  notRooms: Set<string>;
  types?: string[];
  notTypes: string[];
  lazyMembers: boolean;
  includeLeave: boolean;
  presence: boolean;
  accountData: boolean;
}

const DEFAULT_TIMELINE_LIMIT = 10;
const MAX_TIMELINE_LIMIT = 1000;

function strings(v: JsonValue | undefined): string[] | undefined {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined;
}

export function parseFilter(f: JsonObject): SyncFilter {
  const room = isJsonObject(f.room) ? f.room : {};
  const timeline = isJsonObject(room.timeline) ? room.timeline : {};
  const state = isJsonObject(room.state) ? room.state : {};
  const limit = typeof timeline.limit === 'number' && Number.isInteger(timeline.limit) && timeline.limit > 0 ? timeline.limit : DEFAULT_TIMELINE_LIMIT;
  const rooms = strings(room.rooms);
  const types = strings(timeline.types);
  const presence = isJsonObject(f.presence) ? strings(f.presence.types) : undefined;
  const accountData = isJsonObject(f.account_data) ? strings(f.account_data.types) : undefined;
  return {
    timelineLimit: Math.min(limit, MAX_TIMELINE_LIMIT),
    ...(rooms ? { rooms: new Set(rooms) } : {}),
    notRooms: new Set(strings(room.not_rooms) ?? []),
    ...(types ? { types } : {}),
    notTypes: strings(timeline.not_types) ?? [],
    lazyMembers: state.lazy_load_members === true,
    includeLeave: room.include_leave === true,
    presence: presence === undefined || presence.length > 0,
    accountData: accountData === undefined || accountData.length > 0,
  };
}

/** Matrix filter type patterns: `*` matches any run of characters. */
function typeMatches(pattern: string, type: string): boolean {
  if (!pattern.includes('*')) return pattern === type;
  const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return re.test(type);
}

export function typeAllowed(f: Pick<SyncFilter, 'types' | 'notTypes'>, type: string): boolean {
  if (f.notTypes.some((p) => typeMatches(p, type))) return false;
  return f.types === undefined || f.types.some((p) => typeMatches(p, type));
}

function filterFromQuery(api: ClientApi, session: Session, raw: string | null): SyncFilter {
  if (raw === null || raw === '') return parseFilter({});
  if (raw.startsWith('{')) {
    let v: unknown;
    try {
      v = JSON.parse(raw);
    } catch {
      throw new MatrixError('M_INVALID_PARAM', 'the filter parameter is not valid JSON');
    }
    if (!isJsonObject(v)) throw new MatrixError('M_INVALID_PARAM', 'the filter must be a JSON object');
    return parseFilter(v);
  }
  const stored = api.getData(session.userId, 'filter', raw);
  if (!isJsonObject(stored)) throw new MatrixError('M_NOT_FOUND', `no filter ${raw} for ${session.userId}`);
  return parseFilter(stored);
}

// ---- building a response ---------------------------------------------------

interface Ctx {
  api: ClientApi;
  session: Session;
  since: SyncToken | undefined;
  /** The token's ephemeral position, 0 when it is from another epoch (everything ephemeral again). */
  sinceE: number;
  upTo: number;
  filter: SyncFilter;
  fullState: boolean;
}

function memberEventOf(room: Room, userId: string): StoredEvent | undefined {
  const id = room.currentState().get(stateKey('m.room.member', userId));
  return id === undefined ? undefined : room.events.get(id);
}

function positionToken(s: StoredEvent): string {
  return `t${s.pdu.depth}_${s.stream}`;
}

function timelineFor(c: Ctx, room: Room, fromStart: boolean, until = Number.POSITIVE_INFINITY) {
  const userId = c.session.userId;
  const since = fromStart ? -1 : (c.since?.pos ?? -1);
  let events: StoredEvent[] = [];
  for (const s of room.events.values()) {
    if (!isTimelineEvent(s) || s.stream <= since || s.stream > c.upTo || s.stream > until) continue;
    if (!fromStart && s.historical) continue;
    if (!typeAllowed(c.filter, s.pdu.type)) continue;
    events.push(s);
  }
  // A room seen for the first time is shown in its causal order (backfilled history included);
  // later syncs follow arrival order, so nothing that arrives is ever placed before what was shown.
  if (fromStart) events.sort((a, b) => a.pdu.depth - b.pdu.depth || a.stream - b.stream);
  else events.sort((a, b) => a.stream - b.stream);
  events = events.filter((s) => visibleToUser(room, s, userId));
  const limited = events.length > c.filter.timelineLimit;
  if (limited) events = events.slice(events.length - c.filter.timelineLimit);
  return { events, limited };
}

function stateBlock(c: Ctx, room: Room, timeline: StoredEvent[], whole: boolean): StoredEvent[] {
  const current = room.currentState();
  const inTimeline = new Set(timeline.map((s) => s.event_id));
  let entries: [string, string][];
  if (whole || !c.since) entries = [...current];
  else {
    const g = c.api.notifier.groupAt(room.roomId, c.since.pos);
    if (g !== undefined && room.groups.has(g)) {
      const before: StateMap = room.groups.get(g);
      entries = [...current].filter(([k, id]) => before.get(k) !== id);
    } else entries = [...current].filter(([, id]) => (room.events.get(id)?.stream ?? 0) > c.since!.pos);
  }
  let wanted: Set<string> | undefined;
  if (c.filter.lazyMembers) {
    wanted = new Set([c.session.userId]);
    for (const s of timeline) wanted.add(s.pdu.sender);
  }
  const out: StoredEvent[] = [];
  for (const [k, id] of entries) {
    if (inTimeline.has(id)) continue;
    if (wanted) {
      const [type, key] = splitStateKey(k);
      if (type === 'm.room.member' && !wanted.has(key)) continue;
    }
    const s = room.events.get(id);
    if (s) out.push(s);
  }
  return out;
}

function summary(room: Room, userId: string): JsonObject {
  const members = room.members();
  const joined = members.filter((m) => m.membership === 'join');
  const invited = members.filter((m) => m.membership === 'invite');
  const heroes = [...joined, ...invited]
    .map((m) => m.userId)
    .filter((u) => u !== userId)
    .sort()
    .slice(0, 5);
  return { 'm.heroes': heroes, 'm.joined_member_count': joined.length, 'm.invited_member_count': invited.length };
}

/**
 * Whether a message highlights `userId` under the default push rules (user
 * rules are not evaluated yet): `.m.rule.is_user_mention` (m.mentions.user_ids
 * names them) or, for a message without m.mentions, the legacy
 * `.m.rule.contains_display_name` (the body contains their display name as a word).
 */
function highlights(s: StoredEvent, userId: string, displayName: string | undefined): boolean {
  const content = s.pdu.content as { 'm.mentions'?: unknown; body?: unknown };
  const mentions = content['m.mentions'];
  if (isJsonObject(mentions)) return Array.isArray(mentions.user_ids) && mentions.user_ids.includes(userId);
  if (!displayName || typeof content.body !== 'string') return false;
  const escaped = displayName.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|\\W)${escaped}($|\\W)`, 'i').test(content.body);
}

function unreadCounts(c: Ctx, room: Room): { notification_count: number; highlight_count: number } {
  const userId = c.session.userId;
  const receipt = c.api.hs.ephemeral.receipts.get(room.roomId)?.get(userId);
  const readDepth = receipt ? (room.events.get(receipt.eventId)?.pdu.depth ?? 0) : 0;
  const name = (room.stateEvent('m.room.member', userId)?.content as { displayname?: unknown } | undefined)?.displayname;
  const displayName = typeof name === 'string' && name.length > 0 ? name : undefined;
  let n = 0;
  let h = 0;
  for (const s of room.events.values()) {
    if (!isTimelineEvent(s) || s.pdu.sender === userId || s.redacted_by) continue;
    // Messages after the one the user read, in causal order.
    if (s.pdu.depth <= readDepth) continue;
    if (!isMessageEvent(s.pdu) && s.pdu.type !== 'm.room.encrypted') continue;
    n++;
    if (highlights(s, userId, displayName)) h++;
  }
  return { notification_count: n, highlight_count: h };
}

function ephemeral(c: Ctx, room: Room, first: boolean): JsonObject[] {
  const out: JsonObject[] = [];
  const n = c.api.notifier;
  const since = first ? 0 : c.sinceE;
  if (first || (n.typing.get(room.roomId) ?? 0) > since) {
    const users = c.api.client.typing(room.roomId);
    if (!first || users.length > 0) out.push({ type: 'm.typing', content: { user_ids: users } });
  }
  const changed = n.receipts.get(room.roomId);
  const all = c.api.hs.ephemeral.receipts.get(room.roomId);
  if (all) {
    const content: JsonObject = {};
    for (const [user, r] of all) {
      if (!first && (changed?.get(user) ?? 0) <= since) continue;
      if (!content[r.eventId]) content[r.eventId] = { 'm.read': {} };
      (content[r.eventId] as { 'm.read': JsonObject })['m.read'][user] = { ts: r.ts };
    }
    if (Object.keys(content).length > 0) out.push({ type: 'm.receipt', content });
  }
  return out;
}

function roomAccountData(c: Ctx, roomId: string, first: boolean): JsonObject[] {
  if (!c.filter.accountData) return [];
  const out: JsonObject[] = [];
  for (const r of c.api.listData(c.session.userId, 'room_account_data')) {
    const [rid, type] = [r.key.slice(0, r.key.indexOf('\n')), r.key.slice(r.key.indexOf('\n') + 1)];
    if (rid !== roomId) continue;
    if (!first && (r.stream ?? 0) <= (c.since?.pos ?? -1)) continue;
    if ((r.stream ?? 0) > c.upTo) continue;
    out.push({ type, content: r.value });
  }
  return out;
}

function roomAllowed(c: Ctx, roomId: string): boolean {
  if (c.filter.notRooms.has(roomId)) return false;
  return c.filter.rooms === undefined || c.filter.rooms.has(roomId);
}

function joinedRoom(c: Ctx, room: Room): JsonObject | undefined {
  const userId = c.session.userId;
  const me = memberEventOf(room, userId);
  const newlyJoined = c.since !== undefined && me !== undefined && me.stream > c.since.pos;
  const first = !c.since || newlyJoined;
  const tl = timelineFor(c, room, first);
  const whole = first || c.fullState || tl.limited;
  const state = stateBlock(c, room, tl.events, whole);
  const eph = ephemeral(c, room, first);
  const accountData = roomAccountData(c, room.roomId, first);
  if (!first && !c.fullState && tl.events.length === 0 && state.length === 0 && eph.length === 0 && accountData.length === 0) return undefined;
  const prevBatch = tl.events[0] ? positionToken(tl.events[0]) : syncTokenString(c.api, c.upTo);
  const opts = { session: c.session };
  return {
    summary: summary(room, userId),
    state: { events: state.map((s) => clientEvent(c.api, room, s, opts)) },
    timeline: { events: tl.events.map((s) => clientEvent(c.api, room, s, opts)), limited: tl.limited, prev_batch: prevBatch },
    ephemeral: { events: eph },
    account_data: { events: accountData },
    unread_notifications: unreadCounts(c, room),
    unread_thread_notifications: {},
  };
}

function leftRoom(c: Ctx, room: Room, me: StoredEvent): JsonObject | undefined {
  if (c.since && me.stream <= c.since.pos) return undefined;
  if (!c.since && !c.filter.includeLeave) return undefined;
  const tl = timelineFor(c, room, !c.since, me.stream);
  const state = stateBlock(c, room, tl.events, !c.since || tl.limited);
  const opts = { session: c.session };
  return {
    state: { events: state.map((s) => clientEvent(c.api, room, s, opts)) },
    timeline: {
      events: tl.events.map((s) => clientEvent(c.api, room, s, opts)),
      limited: tl.limited,
      prev_batch: tl.events[0] ? positionToken(tl.events[0]) : syncTokenString(c.api, c.upTo),
    },
    account_data: { events: roomAccountData(c, room.roomId, !c.since) },
  };
}

function strippedEvent(s: { type: string; state_key: string; sender: string; content: JsonObject }): JsonObject {
  return { type: s.type, state_key: s.state_key, sender: s.sender, content: s.content };
}

function syncTokenString(api: ClientApi, pos: number): string {
  return `s${pos}_${api.notifier.epos}_${api.notifier.epoch}`;
}

async function buildSync(c: Ctx, pendingInvites: PendingInvite[], pendingKnocks: PendingInvite[]): Promise<{ body: JsonObject; empty: boolean }> {
  const { api, session } = c;
  const userId = session.userId;
  const join: JsonObject = {};
  const invite: JsonObject = {};
  const leave: JsonObject = {};
  const knock: JsonObject = {};
  const shared = new Set<string>([userId]);
  const inRoom = new Set<string>();
  for (const room of api.hs.rooms.values()) {
    if (room.currentGroup < 0 || !roomAllowed(c, room.roomId)) continue;
    const me = memberEventOf(room, userId);
    if (!me) continue;
    const m = (me.pdu.content as { membership?: unknown }).membership;
    inRoom.add(room.roomId);
    if (m === 'join') {
      for (const mem of room.members()) if (mem.membership === 'join') shared.add(mem.userId);
      const r = joinedRoom(c, room);
      if (r) join[room.roomId] = r;
    } else if (m === 'invite') {
      if (c.since && me.stream <= c.since.pos) continue;
      invite[room.roomId] = { invite_state: { events: [...strippedState(room).map(strippedEvent), strippedEvent(meStripped(me))] } };
    } else if (m === 'knock') {
      if (c.since && me.stream <= c.since.pos) continue;
      knock[room.roomId] = { knock_state: { events: [...strippedState(room).map(strippedEvent), strippedEvent(meStripped(me))] } };
    } else {
      // A room the user left and then forgot is gone from their syncs (until they return to it).
      if (api.getData(userId, 'forgotten', room.roomId) !== undefined) continue;
      const r = leftRoom(c, room, me);
      if (r) leave[room.roomId] = r;
    }
  }
  // Invites and knocks for rooms this server is not in (yet): kept apart from the rooms (membership.ts).
  const pendingSince = (roomId: string) => api.notifier.pending.get(`${roomId}\n${userId}`) ?? 0;
  for (const p of pendingInvites) {
    if (p.user_id !== userId || inRoom.has(p.room_id) || !roomAllowed(c, p.room_id)) continue;
    if (c.since && c.sinceE > 0 && pendingSince(p.room_id) <= c.sinceE) continue;
    const ev = p.event as unknown as { type: string; state_key: string; sender: string; content: JsonObject };
    invite[p.room_id] = { invite_state: { events: [...p.invite_room_state.map(strippedEvent), strippedEvent(ev)] } };
  }
  for (const p of pendingKnocks) {
    if (p.user_id !== userId || inRoom.has(p.room_id) || !roomAllowed(c, p.room_id)) continue;
    if (c.since && c.sinceE > 0 && pendingSince(p.room_id) <= c.sinceE) continue;
    knock[p.room_id] = { knock_state: { events: p.invite_room_state.map(strippedEvent) } };
  }
  // A pending invite or knock that ended without this server joining the room: the client sees it leave.
  if (c.since) {
    const still = new Set([...pendingInvites, ...pendingKnocks].filter((p) => p.user_id === userId).map((p) => p.room_id));
    for (const [key, epos] of api.notifier.pending) {
      const [roomId, user] = key.split('\n') as [string, string];
      if (user !== userId || epos <= c.sinceE || still.has(roomId) || inRoom.has(roomId) || leave[roomId]) continue;
      leave[roomId] = { state: { events: [] }, timeline: { events: [], limited: false }, account_data: { events: [] } };
    }
  }
  const presence: JsonObject[] = [];
  if (c.filter.presence) {
    for (const u of shared) {
      const p = api.hs.ephemeral.presence.get(u);
      if (!p) continue;
      if (c.since && (api.notifier.presence.get(u) ?? 0) <= c.sinceE) continue;
      presence.push({
        type: 'm.presence',
        sender: u,
        content: {
          presence: p.presence,
          last_active_ago: Math.max(0, api.hs.clock.now() - p.lastActiveTs),
          currently_active: p.presence === 'online',
          ...(p.statusMsg ? { status_msg: p.statusMsg } : {}),
        },
      });
    }
  }
  const accountData: JsonObject[] = [];
  if (c.filter.accountData) {
    for (const r of api.listData(userId, 'account_data')) {
      if (c.since && (r.stream ?? 0) <= c.since.pos) continue;
      if ((r.stream ?? 0) > c.upTo) continue;
      accountData.push({ type: r.key, content: r.value });
    }
    // Clients expect their push rules in the first sync; until the user changes one, they are the defaults (not stored).
    if (!c.since && api.getData(userId, 'account_data', 'm.push_rules') === undefined) {
      accountData.push({ type: 'm.push_rules', content: pushRulesFor(api, userId) });
    }
  }
  const e2ee = await e2eeSyncFields(api, session, c.since?.pos, c.upTo);
  const empty =
    !e2ee.carries &&
    Object.keys(join).length + Object.keys(invite).length + Object.keys(leave).length + Object.keys(knock).length + presence.length + accountData.length === 0;
  return {
    empty,
    body: {
      next_batch: syncTokenString(api, c.upTo),
      rooms: { join, invite, leave, knock },
      presence: { events: presence },
      account_data: { events: accountData },
      ...e2ee.fields,
    },
  };
}

function meStripped(s: StoredEvent) {
  return { type: s.pdu.type, state_key: s.pdu.state_key ?? '', sender: s.pdu.sender, content: s.pdu.content as JsonObject };
}

export async function sync(api: ClientApi, session: Session, q: URLSearchParams): Promise<JsonObject> {
  const sinceRaw = q.get('since');
  const since = sinceRaw ? parseSyncToken(sinceRaw) : undefined;
  const filter = filterFromQuery(api, session, q.get('filter'));
  const fullState = queryBool(q, 'full_state');
  const timeout = queryInt(q, 'timeout', 0, api.maxSyncWaitMs);
  const presence = q.get('set_presence');
  if (presence !== null) {
    if (!['online', 'offline', 'unavailable'].includes(presence)) throw new MatrixError('M_INVALID_PARAM', 'set_presence must be online, offline or unavailable');
    const current = api.hs.ephemeral.presence.get(session.userId)?.presence;
    if (current !== presence) await api.client.setPresence(session.userId, presence as 'online' | 'offline' | 'unavailable');
  }
  const deadline = Date.now() + timeout;
  for (;;) {
    const seen = api.notifier.generation;
    const [invites, knocks] = await Promise.all([loadPending(api.hs, 'invites'), loadPending(api.hs, 'knocks')]);
    for (const room of api.hs.rooms.values()) api.notifier.noteState(room);
    const sinceE = since && since.epoch === api.notifier.epoch ? since.epos : 0;
    const c: Ctx = { api, session, since, sinceE, upTo: api.hs.currentStream, filter, fullState };
    const { body, empty } = await buildSync(c, invites, knocks);
    const wait = deadline - Date.now();
    if (!empty || !since || fullState || wait <= 0) {
      await ownSendsAnswered(api, session, body);
      return body;
    }
    await api.notifier.waitForChange(wait, seen);
  }
}

/**
 * Waits (at most 2 s) until this device's own send requests for events in `body` have been
 * answered, then one macrotask more so the door writes that answer first. A fast long-poll could
 * otherwise carry an event's remote echo before its `PUT /send` answered, which matrix-js-sdk
 * mishandles for a reply in a thread it has not loaded (the send is retried and never settles).
 */
async function ownSendsAnswered(api: ClientApi, session: Session, body: JsonObject): Promise<void> {
  if (api.sendsAnswering.size === 0) return;
  const waits: Promise<void>[] = [];
  const join = isJsonObject(body.rooms) && isJsonObject(body.rooms.join) ? body.rooms.join : {};
  for (const room of Object.values(join)) {
    const events = isJsonObject(room) && isJsonObject(room.timeline) && Array.isArray(room.timeline.events) ? room.timeline.events : [];
    for (const ev of events) {
      if (!isJsonObject(ev) || typeof ev.event_id !== 'string') continue;
      const answering = api.sendsAnswering.get(ev.event_id);
      if (answering && api.sentWithTxn.get(ev.event_id)?.deviceId === session.deviceId) waits.push(answering);
    }
  }
  if (waits.length === 0) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([Promise.all(waits), new Promise((resolve) => (timer = setTimeout(resolve, 2_000)))]);
  clearTimeout(timer);
  await new Promise((resolve) => setTimeout(resolve, 0));
}

export const syncRoutes: Route[] = [
  {
    method: 'GET',
    family: 'client',
    path: '/sync',
    auth: 'required',
    handle: async (ctx) => ({ json: await sync(ctx.api, ctx.session, ctx.query) }),
  },
];

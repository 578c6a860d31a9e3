/**
 * Per-user data and the directory: profiles (a change is propagated to every
 * joined room as a new member event), presence, global and per-room account
 * data, filters, push rules (the spec's predefined set, user rules stored
 * as the `m.push_rules` account data), the user directory, room aliases and
 * the public room list.
 *
 * Storage (ClientApi.putData): account data under kind 'account_data'
 * (key = event type) and 'room_account_data' (key = `${roomId}\n${type}`),
 * filters under 'filter', aliases server-wide (user '') under 'alias'
 * (value = room ID) with their creator under 'alias_creator'.
 */
import { powerLevelOf, requiredPowerForEvent } from '../../core/auth/index.ts';
import { encodeBase64Url } from '../../core/base64.ts';
import { isHashRoomId, isValidRoomId, isValidUserId } from '../../core/ids.ts';
import { type JsonObject, type JsonValue, isJsonObject } from '../../core/json.ts';
import { MatrixError } from '../errors.ts';
import type { Room } from '../room.ts';
import type { AccountRecord } from '../store/types.ts';
import type { ClientApi } from './api.ts';
import { optString, queryInt, requireString } from './params.ts';
import type { AuthedContext, Route } from './router.ts';

/** Spec-free but sane limits. */
const MAX_DISPLAYNAME = 256;
const MAX_FILTER_BYTES = 64 * 1024;
const MAX_STATUS_MSG = 1024;

const encoder = new TextEncoder();

function serverOf(id: string): string {
  return id.slice(id.indexOf(':') + 1);
}

function localpartOf(userId: string): string {
  return userId.slice(1, userId.indexOf(':'));
}

function checkUserParam(userId: string): void {
  if (!isValidUserId(userId)) throw new MatrixError('M_INVALID_PARAM', `${JSON.stringify(userId)} is not a user ID (@name:server)`);
}

/** The path's user must be the caller (account data, filters, presence changes). */
function requireSelf(ctx: AuthedContext, what: string): string {
  const userId = ctx.params.userId!;
  checkUserParam(userId);
  if (userId !== ctx.session.userId) throw new MatrixError('M_FORBIDDEN', `you cannot ${what} of ${userId}`);
  return userId;
}

function liveRooms(api: ClientApi): Room[] {
  return [...api.hs.rooms.values()].filter((r) => r.currentGroup >= 0);
}

function stateContent(room: Room, type: string, key = ''): JsonObject | undefined {
  return room.stateEvent(type, key)?.content;
}

// ---- profiles ---------------------------------------------------------------

interface Profile {
  displayname?: string;
  avatar_url?: string;
}

function localAccount(api: ClientApi, userId: string): AccountRecord | undefined {
  const a = api.hs.accounts.get(userId);
  return a && !a.deactivated ? a : undefined;
}

/** A user's profile: from the account (local) or the newest member event of a room we share (remote). */
export function profileOf(api: ClientApi, userId: string): Profile {
  checkUserParam(userId);
  if (serverOf(userId) === api.serverName) {
    const a = localAccount(api, userId);
    if (!a) throw new MatrixError('M_NOT_FOUND', `no user ${userId} on this server`);
    return { ...(a.display_name ? { displayname: a.display_name } : {}), ...(a.avatar_url ? { avatar_url: a.avatar_url } : {}) };
  }
  let best: { ts: number; content: JsonObject } | undefined;
  for (const room of liveRooms(api)) {
    const ev = room.stateEvent('m.room.member', userId);
    if (ev?.content.membership !== 'join') continue;
    if (!best || ev.origin_server_ts > best.ts) best = { ts: ev.origin_server_ts, content: ev.content };
  }
  // No federation profile query exists in Hearth yet: only users we share a room with are known.
  if (!best) throw new MatrixError('M_NOT_FOUND', `no profile known for ${userId} (this server shares no room with them)`);
  const { displayname, avatar_url } = best.content;
  return {
    ...(typeof displayname === 'string' ? { displayname } : {}),
    ...(typeof avatar_url === 'string' && avatar_url ? { avatar_url } : {}),
  };
}

const MXC_URI = /^mxc:\/\/[^/\s]+\/[^/\s]+$/;

/** Saves the profile change, then re-sends the user's member event in every room they are joined to. */
async function updateProfile(ctx: AuthedContext, change: { displayname?: string; avatar_url?: string }): Promise<void> {
  const api = ctx.api;
  const userId = ctx.params.userId!;
  checkUserParam(userId);
  if (userId !== ctx.session.userId) throw new MatrixError('M_FORBIDDEN', `you cannot change the profile of ${userId}`);
  const { failed } = await api.client.setProfile(userId, change);
  // One room refusing (e.g. power levels) must not undo the profile change elsewhere.
  for (const f of failed) api.log('warn', 'profile change not propagated to a room', { roomId: f.roomId, userId, error: f.error });
}

/** `displayname` from a PUT body: a string of at most 256 characters; null or "" resets it to the localpart. */
function displaynameParam(body: JsonObject): string {
  if (!('displayname' in body)) throw new MatrixError('M_MISSING_PARAM', 'missing "displayname"');
  const v = body.displayname;
  if (v === null) return '';
  if (typeof v !== 'string') throw new MatrixError('M_BAD_JSON', '"displayname" must be a string');
  if (v.length > MAX_DISPLAYNAME) throw new MatrixError('M_INVALID_PARAM', `"displayname" is longer than ${MAX_DISPLAYNAME} characters`);
  return v.trim();
}

/** `avatar_url` from a PUT body: an mxc:// URI, or null / "" to remove the avatar. */
function avatarParam(body: JsonObject): string {
  if (!('avatar_url' in body)) throw new MatrixError('M_MISSING_PARAM', 'missing "avatar_url"');
  const v = body.avatar_url;
  if (v === null) return '';
  if (typeof v !== 'string') throw new MatrixError('M_BAD_JSON', '"avatar_url" must be a string');
  if (v !== '' && !MXC_URI.test(v)) throw new MatrixError('M_INVALID_PARAM', `"avatar_url" must be an mxc://server/id URI or "", got ${JSON.stringify(v.slice(0, 100))}`);
  return v;
}

const PROFILE_FIELDS: { field: keyof Profile; parse: (body: JsonObject) => string }[] = [
  { field: 'displayname', parse: displaynameParam },
  { field: 'avatar_url', parse: avatarParam },
];

// ---- presence ---------------------------------------------------------------

const PRESENCE_STATES = ['online', 'offline', 'unavailable'] as const;
type PresenceState = (typeof PRESENCE_STATES)[number];

function presenceOf(api: ClientApi, userId: string): JsonObject {
  checkUserParam(userId);
  if (serverOf(userId) === api.serverName && !localAccount(api, userId)) throw new MatrixError('M_NOT_FOUND', `no user ${userId} on this server`);
  const p = api.hs.ephemeral.presence.get(userId);
  if (!p) return { presence: 'offline', currently_active: false };
  return {
    presence: p.presence,
    last_active_ago: Math.max(0, api.hs.clock.now() - p.lastActiveTs),
    currently_active: p.presence === 'online',
    ...(p.statusMsg ? { status_msg: p.statusMsg } : {}),
  };
}

// ---- account data -------------------------------------------------------------

/** Account data types the server manages itself: clients may read them but not PUT them here. */
const SERVER_MANAGED_TYPES = new Set(['m.fully_read', 'm.push_rules']);

function checkType(type: string, put: boolean): void {
  if (type.length === 0 || type.length > 255) throw new MatrixError('M_INVALID_PARAM', 'the account data type must be 1 to 255 characters');
  if (put && SERVER_MANAGED_TYPES.has(type)) {
    throw new MatrixError('M_BAD_JSON', `${type} is managed by the server; it cannot be set through this API`, { status: 405 });
  }
}

function checkRoomParam(roomId: string): void {
  if (!isValidRoomId(roomId) && !isHashRoomId(roomId)) {
    throw new MatrixError('M_INVALID_PARAM', `${JSON.stringify(roomId)} is not a room ID (!opaque:server, or room version 12's ! and 43 base64url characters)`);
  }
}

export function roomAccountDataKey(roomId: string, type: string): string {
  return `${roomId}\n${type}`;
}

// ---- filters ------------------------------------------------------------------

function checkFilter(filter: JsonObject): void {
  if (encoder.encode(JSON.stringify(filter)).length > MAX_FILTER_BYTES) {
    throw new MatrixError('M_TOO_LARGE', `the filter is larger than ${MAX_FILTER_BYTES} bytes`);
  }
  for (const k of ['presence', 'account_data', 'room']) {
    if (filter[k] !== undefined && !isJsonObject(filter[k])) throw new MatrixError('M_BAD_JSON', `filter "${k}" must be an object`);
  }
  const fields = filter.event_fields;
  if (fields !== undefined && (!Array.isArray(fields) || !fields.every((f) => typeof f === 'string'))) {
    throw new MatrixError('M_BAD_JSON', 'filter "event_fields" must be a list of strings');
  }
  if (filter.event_format !== undefined && filter.event_format !== 'client' && filter.event_format !== 'federation') {
    throw new MatrixError('M_BAD_JSON', 'filter "event_format" must be "client" or "federation"');
  }
  const room = filter.room;
  if (isJsonObject(room)) {
    for (const k of ['timeline', 'state', 'ephemeral', 'account_data']) {
      if (room[k] !== undefined && !isJsonObject(room[k])) throw new MatrixError('M_BAD_JSON', `filter "room.${k}" must be an object`);
    }
  }
}

// ---- push rules ---------------------------------------------------------------

const RULE_KINDS = ['override', 'content', 'room', 'sender', 'underride'] as const;
type RuleKind = (typeof RULE_KINDS)[number];

const sound = (value: string): JsonObject => ({ set_tweak: 'sound', value });
const HIGHLIGHT: JsonObject = { set_tweak: 'highlight' };
const match = (key: string, pattern: string): JsonObject => ({ kind: 'event_match', key, pattern });

function rule(rule_id: string, conditions: JsonObject[], actions: JsonValue[], enabled = true): JsonObject {
  return { rule_id, default: true, enabled, conditions, actions };
}

/** The spec's predefined rules (Matrix v1.11, "Predefined Rules"), in priority order. */
export function defaultPushRules(userId: string): Record<RuleKind, JsonObject[]> {
  return {
    override: [
      rule('.m.rule.master', [], [], false),
      rule('.m.rule.suppress_notices', [match('content.msgtype', 'm.notice')], []),
      rule(
        '.m.rule.invite_for_me',
        [match('type', 'm.room.member'), match('content.membership', 'invite'), match('state_key', userId)],
        ['notify', sound('default')],
      ),
      rule('.m.rule.member_event', [match('type', 'm.room.member')], []),
      rule(
        '.m.rule.is_user_mention',
        [{ kind: 'event_property_contains', key: 'content.m\\.mentions.user_ids', value: userId }],
        ['notify', sound('default'), HIGHLIGHT],
      ),
      rule('.m.rule.contains_display_name', [{ kind: 'contains_display_name' }], ['notify', sound('default'), HIGHLIGHT]),
      rule(
        '.m.rule.is_room_mention',
        [
          { kind: 'event_property_is', key: 'content.m\\.mentions.room', value: true },
          { kind: 'sender_notification_permission', key: 'room' },
        ],
        ['notify', HIGHLIGHT],
      ),
      rule('.m.rule.roomnotif', [{ kind: 'sender_notification_permission', key: 'room' }, match('content.body', '@room')], ['notify', HIGHLIGHT]),
      rule('.m.rule.tombstone', [match('type', 'm.room.tombstone'), match('state_key', '')], ['notify', HIGHLIGHT]),
      rule('.m.rule.reaction', [match('type', 'm.reaction')], []),
      rule('.m.rule.room.server_acl', [match('type', 'm.room.server_acl'), match('state_key', '')], []),
      rule('.m.rule.suppress_edits', [{ kind: 'event_property_is', key: 'content.m\\.relates_to.rel_type', value: 'm.replace' }], []),
    ],
    content: [
      {
        rule_id: '.m.rule.contains_user_name',
        default: true,
        enabled: true,
        pattern: localpartOf(userId),
        actions: ['notify', sound('default'), HIGHLIGHT],
      },
    ],
    room: [],
    sender: [],
    underride: [
      rule('.m.rule.call', [match('type', 'm.call.invite')], ['notify', sound('ring')]),
      rule(
        '.m.rule.encrypted_room_one_to_one',
        [{ kind: 'room_member_count', is: '2' }, match('type', 'm.room.encrypted')],
        ['notify', sound('default')],
      ),
      rule('.m.rule.room_one_to_one', [{ kind: 'room_member_count', is: '2' }, match('type', 'm.room.message')], ['notify', sound('default')]),
      rule('.m.rule.message', [match('type', 'm.room.message')], ['notify']),
      rule('.m.rule.encrypted', [match('type', 'm.room.encrypted')], ['notify']),
    ],
  };
}

function ruleList(v: JsonValue | undefined): JsonObject[] {
  return Array.isArray(v) ? v.filter((r): r is JsonObject => isJsonObject(r) && typeof r.rule_id === 'string') : [];
}

/**
 * The user's push rules, `{global: {override, content, room, sender, underride}}`:
 * the stored `m.push_rules` account data (user rules and changed defaults)
 * with any predefined rule it lacks added in its place. Never throws — a
 * client retries GET /pushrules/ forever when it fails. /sync reports this
 * as the `m.push_rules` account data.
 */
export function pushRulesFor(api: ClientApi, userId: string): JsonObject {
  const defaults = defaultPushRules(userId);
  const stored = api.getData(userId, 'account_data', 'm.push_rules');
  const global = isJsonObject(stored) && isJsonObject(stored.global) ? stored.global : {};
  const out: JsonObject = {};
  for (const kind of RULE_KINDS) {
    const rules = ruleList(global[kind]);
    const have = new Set(rules.map((r) => r.rule_id));
    for (const d of defaults[kind]) {
      if (have.has(d.rule_id as string)) continue;
      // The master rule outranks user rules; other defaults come after them.
      if (d.rule_id === '.m.rule.master') rules.unshift(d);
      else rules.push(d);
    }
    out[kind] = rules;
  }
  return { global: out };
}

function ruleKind(ctx: AuthedContext): { scope: string; kind: RuleKind; ruleId: string } {
  const { scope, kind, ruleId } = ctx.params as { scope: string; kind: string; ruleId: string };
  if (scope !== 'global') throw new MatrixError('M_INVALID_PARAM', `push rule scope must be "global", got ${JSON.stringify(scope)}`);
  if (!(RULE_KINDS as readonly string[]).includes(kind)) {
    throw new MatrixError('M_INVALID_PARAM', `push rule kind must be one of ${RULE_KINDS.join(', ')}, got ${JSON.stringify(kind)}`);
  }
  return { scope, kind: kind as RuleKind, ruleId };
}

function findRule(api: ClientApi, ctx: AuthedContext): { rules: JsonObject; list: JsonObject[]; index: number } {
  const { kind, ruleId } = ruleKind(ctx);
  const rules = pushRulesFor(api, ctx.session.userId);
  const list = (rules.global as JsonObject)[kind] as JsonObject[];
  const index = list.findIndex((r) => r.rule_id === ruleId);
  if (index < 0) throw new MatrixError('M_NOT_FOUND', `no ${kind} push rule ${JSON.stringify(ruleId)}`);
  return { rules, list, index };
}

function savePushRules(api: ClientApi, userId: string, rules: JsonObject): Promise<void> {
  return api.putData([{ user_id: userId, kind: 'account_data', key: 'm.push_rules', value: rules }]);
}

/** Finds the path's rule, lets `edit` change its kind's list, saves the result. */
async function editRule(ctx: AuthedContext, edit: (list: JsonObject[], index: number) => void): Promise<void> {
  const { rules, list, index } = findRule(ctx.api, ctx);
  edit(list, index);
  await savePushRules(ctx.api, ctx.session.userId, rules);
}

function checkActions(v: JsonValue | undefined): JsonValue[] {
  if (v === undefined) throw new MatrixError('M_MISSING_PARAM', 'missing "actions"');
  if (!Array.isArray(v) || !v.every((a) => typeof a === 'string' || isJsonObject(a))) {
    throw new MatrixError('M_BAD_JSON', '"actions" must be a list of strings and objects');
  }
  return v;
}

/** The attributes with their own endpoints: `/pushrules/global/{kind}/{ruleId}/{attr}`. */
const RULE_ATTRIBUTES: { attr: string; read: (rule: JsonObject) => JsonValue; parse: (body: JsonObject) => JsonValue }[] = [
  {
    attr: 'enabled',
    read: (r) => r.enabled !== false,
    parse(body) {
      if (body.enabled === undefined) throw new MatrixError('M_MISSING_PARAM', 'missing "enabled"');
      if (typeof body.enabled !== 'boolean') throw new MatrixError('M_BAD_JSON', '"enabled" must be true or false');
      return body.enabled;
    },
  },
  { attr: 'actions', read: (r) => r.actions ?? [], parse: (body) => checkActions(body.actions) },
];

async function putRule(ctx: AuthedContext): Promise<void> {
  const api = ctx.api;
  const { kind, ruleId } = ruleKind(ctx);
  if (ruleId.startsWith('.')) throw new MatrixError('M_INVALID_PARAM', 'rule IDs starting with "." are reserved for server-default rules');
  if (/[/\\]/.test(ruleId) || ruleId.length > 255) throw new MatrixError('M_INVALID_PARAM', 'a rule ID must not contain "/" or "\\" and be at most 255 characters');
  const body = ctx.body();
  const actions = checkActions(body.actions);
  const built: JsonObject = { rule_id: ruleId, default: false, enabled: true, actions };
  if (kind === 'override' || kind === 'underride') {
    const conditions = body.conditions ?? [];
    if (!Array.isArray(conditions) || !conditions.every((c) => isJsonObject(c) && typeof c.kind === 'string')) {
      throw new MatrixError('M_BAD_JSON', '"conditions" must be a list of objects with a "kind"');
    }
    built.conditions = conditions;
  } else if (kind === 'content') {
    built.pattern = requireString(body, 'pattern');
  } else if (kind === 'room') {
    checkRoomParam(ruleId);
  } else {
    checkUserParam(ruleId);
  }
  const rules = pushRulesFor(api, ctx.session.userId);
  const global = rules.global as JsonObject;
  const list = [...(global[kind] as JsonObject[])];
  const existing = list.findIndex((r) => r.rule_id === ruleId);
  const before = ctx.query.get('before');
  const after = ctx.query.get('after');
  if (existing >= 0) {
    built.enabled = list[existing]!.enabled !== false;
    if (before === null && after === null) {
      list[existing] = built;
      global[kind] = list;
      await savePushRules(api, ctx.session.userId, rules);
      return;
    }
    list.splice(existing, 1);
  }
  let at: number;
  const anchor = before ?? after;
  if (anchor !== null) {
    const i = list.findIndex((r) => r.rule_id === anchor && r.default !== true);
    if (i < 0) throw new MatrixError('M_UNKNOWN', `before/after rule not found among your ${kind} rules: ${anchor}`, { status: 400 });
    at = before !== null ? i : i + 1;
  } else {
    // The most important user rule: before the other user rules and the defaults, after only the master rule.
    at = list.findIndex((r) => r.rule_id !== '.m.rule.master');
    if (at < 0) at = list.length;
  }
  list.splice(at, 0, built);
  global[kind] = list;
  await savePushRules(api, ctx.session.userId, rules);
}

// ---- room aliases -----------------------------------------------------------------

const ALIAS = /^#([^:\s]+):(\S+)$/;

function parseAlias(api: ClientApi, alias: string): { local: boolean } {
  const m = ALIAS.exec(alias);
  if (!m || alias.length > 255) throw new MatrixError('M_INVALID_PARAM', `${JSON.stringify(alias)} is not a room alias (#name:server)`);
  return { local: m[2] === api.serverName };
}

/** Whether `userId` is joined to the room with the power to change its canonical alias (aliases, directory listing). */
function mayManageDirectory(api: ClientApi, roomId: string, userId: string): boolean {
  const room = api.hs.rooms.get(roomId);
  if (!room || room.currentGroup < 0 || room.membership(userId) !== 'join') return false;
  const pl = room.stateEvent('m.room.power_levels');
  return powerLevelOf(userId, pl, room.stateEvent('m.room.create'), room.rules) >= requiredPowerForEvent('m.room.canonical_alias', true, pl);
}

/** The room a local alias points to (rooms.ts may use it for joins by alias). */
export function resolveAlias(api: ClientApi, alias: string): string | undefined {
  const v = api.getData('', 'alias', alias);
  return typeof v === 'string' ? v : undefined;
}

/** The local aliases of a room. */
export function aliasesOf(api: ClientApi, roomId: string): string[] {
  return api
    .listData('', 'alias')
    .filter((r) => r.value === roomId)
    .map((r) => r.key)
    .sort();
}

// ---- public rooms ---------------------------------------------------------------

async function publicRooms(api: ClientApi, opts: { limit: number; since: string | undefined; term: string | undefined }): Promise<JsonObject> {
  let offset = 0;
  if (opts.since !== undefined) {
    if (!/^\d{1,9}$/.test(opts.since)) throw new MatrixError('M_INVALID_PARAM', `"since" must be a token from next_batch or prev_batch, got ${JSON.stringify(opts.since)}`);
    offset = Number(opts.since);
  }
  const all = await api.client.publicRooms();
  const chunk: JsonObject[] = [];
  for (const r of all) {
    const room = api.hs.rooms.get(r.roomId);
    const local = room && room.currentGroup >= 0 ? room : undefined;
    const get = (type: string) => (local ? stateContent(local, type) : undefined);
    const alias = get('m.room.canonical_alias')?.alias;
    const avatar = get('m.room.avatar')?.url;
    const joinRule = get('m.room.join_rules')?.join_rule;
    const roomType = get('m.room.create')?.type;
    chunk.push({
      room_id: r.roomId,
      ...(r.name ? { name: r.name } : {}),
      ...(r.topic ? { topic: r.topic } : {}),
      ...(typeof alias === 'string' ? { canonical_alias: alias } : {}),
      ...(typeof avatar === 'string' ? { avatar_url: avatar } : {}),
      num_joined_members: r.members,
      world_readable: get('m.room.history_visibility')?.history_visibility === 'world_readable',
      guest_can_join: get('m.room.guest_access')?.guest_access === 'can_join',
      join_rule: typeof joinRule === 'string' ? joinRule : 'public',
      ...(typeof roomType === 'string' ? { room_type: roomType } : {}),
    });
  }
  const term = opts.term?.toLowerCase();
  const matching = term
    ? chunk.filter((c) => [c.name, c.topic, c.canonical_alias, c.room_id].some((v) => typeof v === 'string' && v.toLowerCase().includes(term)))
    : chunk;
  matching.sort((a, b) => (b.num_joined_members as number) - (a.num_joined_members as number) || ((a.room_id as string) < (b.room_id as string) ? -1 : 1));
  const page = matching.slice(offset, offset + opts.limit);
  return {
    chunk: page,
    ...(offset + opts.limit < matching.length ? { next_batch: String(offset + opts.limit) } : {}),
    ...(offset > 0 ? { prev_batch: String(Math.max(0, offset - opts.limit)) } : {}),
    total_room_count_estimate: matching.length,
  };
}

// ---- the routes -------------------------------------------------------------------

/** Tags a user may put on one room (each a small object): a bound on what one account-data record holds. */
const MAX_TAGS = 100;

function tagsOf(api: ClientApi, userId: string, roomId: string): JsonObject {
  const v = api.getData(userId, 'room_account_data', roomAccountDataKey(roomId, 'm.tag'));
  const tags = isJsonObject(v) && isJsonObject(v.tags) ? v.tags : {};
  return { ...tags };
}

function putTags(api: ClientApi, userId: string, roomId: string, tags: JsonObject): Promise<void> {
  return api.putData([{ user_id: userId, kind: 'room_account_data', key: roomAccountDataKey(roomId, 'm.tag'), value: { tags } }]);
}

export const userDataRoutes: Route[] = [
  // Profiles. Spec: GETs need no access token.
  {
    method: 'GET',
    family: 'client',
    path: '/profile/:userId',
    auth: 'optional',
    handle: (ctx) => ({ json: { ...profileOf(ctx.api, ctx.params.userId!) } }),
  },
  ...PROFILE_FIELDS.flatMap(({ field, parse }): Route[] => [
    {
      method: 'GET',
      family: 'client',
      path: `/profile/:userId/${field}`,
      auth: 'optional',
      handle(ctx) {
        const value = profileOf(ctx.api, ctx.params.userId!)[field];
        const json: JsonObject = value !== undefined ? { [field]: value } : {};
        return { json };
      },
    },
    {
      method: 'PUT',
      family: 'client',
      path: `/profile/:userId/${field}`,
      auth: 'required',
      async handle(ctx) {
        await updateProfile(ctx, { [field]: parse(ctx.body()) });
        return { json: {} };
      },
    },
  ]),

  // Presence.
  {
    method: 'GET',
    family: 'client',
    path: '/presence/:userId/status',
    auth: 'required',
    handle: (ctx) => ({ json: presenceOf(ctx.api, ctx.params.userId!) }),
  },
  {
    method: 'PUT',
    family: 'client',
    path: '/presence/:userId/status',
    auth: 'required',
    async handle(ctx) {
      const userId = requireSelf(ctx, 'set the presence');
      const body = ctx.body();
      const presence = requireString(body, 'presence');
      if (!(PRESENCE_STATES as readonly string[]).includes(presence)) {
        throw new MatrixError('M_INVALID_PARAM', `"presence" must be one of ${PRESENCE_STATES.join(', ')}, got ${JSON.stringify(presence)}`);
      }
      const statusMsg = optString(body, 'status_msg');
      if (statusMsg !== undefined && statusMsg.length > MAX_STATUS_MSG) {
        throw new MatrixError('M_INVALID_PARAM', `"status_msg" is longer than ${MAX_STATUS_MSG} characters`);
      }
      await ctx.api.client.setPresence(userId, presence as PresenceState, statusMsg || undefined);
      return { json: {} };
    },
  },

  // Account data.
  {
    method: 'GET',
    family: 'client',
    path: '/user/:userId/account_data/:type',
    auth: 'required',
    handle(ctx) {
      const userId = requireSelf(ctx, 'read the account data');
      const type = ctx.params.type!;
      checkType(type, false);
      if (type === 'm.push_rules') return { json: pushRulesFor(ctx.api, userId) };
      const v = ctx.api.getData(userId, 'account_data', type);
      if (!isJsonObject(v)) throw new MatrixError('M_NOT_FOUND', `no ${type} account data`);
      return { json: v };
    },
  },
  {
    method: 'PUT',
    family: 'client',
    path: '/user/:userId/account_data/:type',
    auth: 'required',
    async handle(ctx) {
      const userId = requireSelf(ctx, 'set the account data');
      const type = ctx.params.type!;
      checkType(type, true);
      const content = ctx.body();
      await ctx.api.putData([{ user_id: userId, kind: 'account_data', key: type, value: content }]);
      return { json: {} };
    },
  },
  {
    method: 'GET',
    family: 'client',
    path: '/user/:userId/rooms/:roomId/account_data/:type',
    auth: 'required',
    handle(ctx) {
      const userId = requireSelf(ctx, 'read the account data');
      checkRoomParam(ctx.params.roomId!);
      checkType(ctx.params.type!, false);
      const v = ctx.api.getData(userId, 'room_account_data', roomAccountDataKey(ctx.params.roomId!, ctx.params.type!));
      if (!isJsonObject(v)) throw new MatrixError('M_NOT_FOUND', `no ${ctx.params.type} account data for ${ctx.params.roomId}`);
      return { json: v };
    },
  },
  {
    method: 'PUT',
    family: 'client',
    path: '/user/:userId/rooms/:roomId/account_data/:type',
    auth: 'required',
    async handle(ctx) {
      const userId = requireSelf(ctx, 'set the account data');
      checkRoomParam(ctx.params.roomId!);
      checkType(ctx.params.type!, true);
      const content = ctx.body();
      await ctx.api.putData([
        { user_id: userId, kind: 'room_account_data', key: roomAccountDataKey(ctx.params.roomId!, ctx.params.type!), value: content },
      ]);
      return { json: {} };
    },
  },

  // Room tags: the m.tag room account data, edited a tag at a time (Client-Server API "Room tagging").
  {
    method: 'GET',
    family: 'client',
    path: '/user/:userId/rooms/:roomId/tags',
    auth: 'required',
    handle(ctx) {
      const userId = requireSelf(ctx, 'read the tags');
      checkRoomParam(ctx.params.roomId!);
      return { json: { tags: tagsOf(ctx.api, userId, ctx.params.roomId!) } };
    },
  },
  {
    method: 'PUT',
    family: 'client',
    path: '/user/:userId/rooms/:roomId/tags/:tag',
    auth: 'required',
    async handle(ctx) {
      const userId = requireSelf(ctx, 'tag the room');
      const roomId = ctx.params.roomId!;
      checkRoomParam(roomId);
      const tag = ctx.params.tag!;
      if (tag.length > 255) throw new MatrixError('M_INVALID_PARAM', 'a tag is at most 255 characters');
      const body = ctx.body();
      if (body.order !== undefined && (typeof body.order !== 'number' || body.order < 0 || body.order > 1)) {
        throw new MatrixError('M_BAD_JSON', '"order" must be a number from 0 to 1');
      }
      const tags = tagsOf(ctx.api, userId, roomId);
      if (!(tag in tags) && Object.keys(tags).length >= MAX_TAGS) throw new MatrixError('M_LIMIT_EXCEEDED', `a room has at most ${MAX_TAGS} tags`, { status: 400 });
      tags[tag] = body;
      await putTags(ctx.api, userId, roomId, tags);
      return { json: {} };
    },
  },
  {
    method: 'DELETE',
    family: 'client',
    path: '/user/:userId/rooms/:roomId/tags/:tag',
    auth: 'required',
    async handle(ctx) {
      const userId = requireSelf(ctx, 'untag the room');
      const roomId = ctx.params.roomId!;
      checkRoomParam(roomId);
      const tags = tagsOf(ctx.api, userId, roomId);
      delete tags[ctx.params.tag!];
      await putTags(ctx.api, userId, roomId, tags);
      return { json: {} };
    },
  },

  // Filters.
  {
    method: 'POST',
    family: 'client',
    path: '/user/:userId/filter',
    auth: 'required',
    async handle(ctx) {
      const userId = requireSelf(ctx, 'create filters');
      const filter = ctx.body();
      checkFilter(filter);
      const filterId = encodeBase64Url(ctx.api.hs.random(9));
      await ctx.api.putData([{ user_id: userId, kind: 'filter', key: filterId, value: filter }]);
      return { json: { filter_id: filterId } };
    },
  },
  {
    method: 'GET',
    family: 'client',
    path: '/user/:userId/filter/:filterId',
    auth: 'required',
    handle(ctx) {
      const userId = requireSelf(ctx, 'read the filters');
      const v = ctx.api.getData(userId, 'filter', ctx.params.filterId!);
      if (!isJsonObject(v)) throw new MatrixError('M_NOT_FOUND', `no filter ${ctx.params.filterId}`);
      return { json: v };
    },
  },

  // Push rules.
  ...['/pushrules/', '/pushrules'].map(
    (path): Route => ({
      method: 'GET',
      family: 'client',
      path,
      auth: 'required',
      handle: (ctx) => ({ json: pushRulesFor(ctx.api, ctx.session.userId) }),
    }),
  ),
  ...['/pushrules/global/', '/pushrules/global'].map(
    (path): Route => ({
      method: 'GET',
      family: 'client',
      path,
      auth: 'required',
      handle: (ctx) => ({ json: pushRulesFor(ctx.api, ctx.session.userId).global as JsonObject }),
    }),
  ),
  {
    method: 'GET',
    family: 'client',
    path: '/pushrules/:scope/:kind/:ruleId',
    auth: 'required',
    handle(ctx) {
      const { list, index } = findRule(ctx.api, ctx);
      return { json: list[index]! };
    },
  },
  {
    method: 'PUT',
    family: 'client',
    path: '/pushrules/:scope/:kind/:ruleId',
    auth: 'required',
    async handle(ctx) {
      await putRule(ctx);
      return { json: {} };
    },
  },
  {
    method: 'DELETE',
    family: 'client',
    path: '/pushrules/:scope/:kind/:ruleId',
    auth: 'required',
    async handle(ctx) {
      await editRule(ctx, (list, index) => {
        if (list[index]!.default === true) throw new MatrixError('M_INVALID_PARAM', 'server-default push rules cannot be deleted (disable them instead)');
        list.splice(index, 1);
      });
      return { json: {} };
    },
  },
  ...RULE_ATTRIBUTES.flatMap(({ attr, read, parse }): Route[] => [
    {
      method: 'GET',
      family: 'client',
      path: `/pushrules/:scope/:kind/:ruleId/${attr}`,
      auth: 'required',
      handle(ctx) {
        const { list, index } = findRule(ctx.api, ctx);
        return { json: { [attr]: read(list[index]!) } };
      },
    },
    {
      method: 'PUT',
      family: 'client',
      path: `/pushrules/:scope/:kind/:ruleId/${attr}`,
      auth: 'required',
      async handle(ctx) {
        const value = parse(ctx.body());
        await editRule(ctx, (list, index) => {
          list[index] = { ...list[index]!, [attr]: value };
        });
        return { json: {} };
      },
    },
  ]),

  // The user directory: local accounts and the members of rooms the caller is joined to.
  {
    method: 'POST',
    family: 'client',
    path: '/user_directory/search',
    auth: 'required',
    handle(ctx) {
      const api = ctx.api;
      const body = ctx.body();
      const term = requireString(body, 'search_term').trim().toLowerCase();
      let limit = 10;
      if (body.limit !== undefined) {
        if (typeof body.limit !== 'number' || !Number.isInteger(body.limit) || body.limit < 0) {
          throw new MatrixError('M_BAD_JSON', '"limit" must be a non-negative integer');
        }
        limit = Math.min(body.limit, 100);
      }
      const known = new Map<string, Profile>();
      for (const room of liveRooms(api)) {
        if (room.membership(ctx.session.userId) !== 'join') continue;
        for (const m of room.members()) {
          if (m.membership !== 'join' || known.has(m.userId)) continue;
          const c = room.get(m.eventId)?.content ?? {};
          known.set(m.userId, {
            ...(typeof c.displayname === 'string' ? { displayname: c.displayname } : {}),
            ...(typeof c.avatar_url === 'string' && c.avatar_url ? { avatar_url: c.avatar_url } : {}),
          });
        }
      }
      for (const a of api.hs.accounts.values()) {
        if (a.deactivated) continue;
        known.set(a.user_id, { displayname: a.display_name, ...(a.avatar_url ? { avatar_url: a.avatar_url } : {}) });
      }
      const hits = [...known]
        .filter(([id, p]) => id.toLowerCase().includes(term) || (p.displayname ?? '').toLowerCase().includes(term))
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return {
        json: {
          results: hits.slice(0, limit).map(([user_id, p]) => ({
            user_id,
            ...(p.displayname !== undefined ? { display_name: p.displayname } : {}),
            ...(p.avatar_url !== undefined ? { avatar_url: p.avatar_url } : {}),
          })),
          limited: hits.length > limit,
        },
      };
    },
  },

  // Room aliases (this server's only: no federation alias query exists in Hearth yet).
  {
    method: 'GET',
    family: 'client',
    path: '/directory/room/:alias',
    auth: 'optional',
    handle(ctx) {
      const api = ctx.api;
      const alias = ctx.params.alias!;
      parseAlias(api, alias);
      const roomId = resolveAlias(api, alias);
      if (!roomId) throw new MatrixError('M_NOT_FOUND', `room alias ${alias} not found`);
      const room = api.hs.rooms.get(roomId);
      const servers = [api.serverName, ...(room ? [...room.servers].filter((s) => s !== api.serverName).sort() : [])];
      return { json: { room_id: roomId, servers } };
    },
  },
  {
    method: 'PUT',
    family: 'client',
    path: '/directory/room/:alias',
    auth: 'required',
    async handle(ctx) {
      const api = ctx.api;
      const alias = ctx.params.alias!;
      if (!parseAlias(api, alias).local) throw new MatrixError('M_INVALID_PARAM', `aliases can only be created on this server (${api.serverName})`);
      const roomId = requireString(ctx.body(), 'room_id');
      checkRoomParam(roomId);
      const room = api.hs.rooms.get(roomId);
      if (!room || room.currentGroup < 0) throw new MatrixError('M_NOT_FOUND', `this server is not in room ${roomId}`);
      if (room.membership(ctx.session.userId) !== 'join') throw new MatrixError('M_FORBIDDEN', `you are not joined to ${roomId}`);
      if (resolveAlias(api, alias) !== undefined) throw new MatrixError('M_UNKNOWN', `room alias ${alias} already exists`, { status: 409 });
      await api.putData([
        { user_id: '', kind: 'alias', key: alias, value: roomId },
        { user_id: '', kind: 'alias_creator', key: alias, value: ctx.session.userId },
      ]);
      return { json: {} };
    },
  },
  {
    method: 'DELETE',
    family: 'client',
    path: '/directory/room/:alias',
    auth: 'required',
    async handle(ctx) {
      const api = ctx.api;
      const alias = ctx.params.alias!;
      parseAlias(api, alias);
      const roomId = resolveAlias(api, alias);
      if (!roomId) throw new MatrixError('M_NOT_FOUND', `room alias ${alias} not found`);
      const me = ctx.session.userId;
      if (api.getData('', 'alias_creator', alias) !== me) {
        // Others need the power to change the room's canonical alias.
        if (!mayManageDirectory(api, roomId, me)) throw new MatrixError('M_FORBIDDEN', `only the creator of ${alias} or a room moderator may delete it`);
      }
      await api.putData(
        [],
        [
          { user_id: '', kind: 'alias', key: alias },
          { user_id: '', kind: 'alias_creator', key: alias },
        ],
      );
      return { json: {} };
    },
  },
  {
    method: 'GET',
    family: 'client',
    path: '/rooms/:roomId/aliases',
    auth: 'required',
    handle(ctx) {
      const api = ctx.api;
      const roomId = ctx.params.roomId!;
      checkRoomParam(roomId);
      const room = api.hs.rooms.get(roomId);
      const readable = room && room.currentGroup >= 0 && stateContent(room, 'm.room.history_visibility')?.history_visibility === 'world_readable';
      if (!readable && room?.membership(ctx.session.userId) !== 'join') throw new MatrixError('M_FORBIDDEN', `you are not a member of ${roomId}`);
      return { json: { aliases: aliasesOf(api, roomId) } };
    },
  },

  // Whether a room is published in this server's directory (kind 'published', as createRoom's visibility).
  {
    method: 'GET',
    family: 'client',
    path: '/directory/list/room/:roomId',
    auth: 'optional',
    handle(ctx) {
      const roomId = ctx.params.roomId!;
      checkRoomParam(roomId);
      if (!ctx.api.hs.rooms.get(roomId)) throw new MatrixError('M_NOT_FOUND', `this server does not know room ${roomId}`);
      return { json: { visibility: ctx.api.getData('', 'published', roomId) === true ? 'public' : 'private' } };
    },
  },
  {
    method: 'PUT',
    family: 'client',
    path: '/directory/list/room/:roomId',
    auth: 'required',
    async handle(ctx) {
      const api = ctx.api;
      const roomId = ctx.params.roomId!;
      checkRoomParam(roomId);
      const visibility = optString(ctx.body(), 'visibility') ?? 'public';
      if (visibility !== 'public' && visibility !== 'private') {
        throw new MatrixError('M_INVALID_PARAM', `"visibility" must be "public" or "private", got ${JSON.stringify(visibility)}`);
      }
      if (!api.hs.rooms.get(roomId)) throw new MatrixError('M_NOT_FOUND', `this server does not know room ${roomId}`);
      if (!mayManageDirectory(api, roomId, ctx.session.userId)) {
        throw new MatrixError('M_FORBIDDEN', `only a joined member who may change the canonical alias of ${roomId} may publish it`);
      }
      const key = { user_id: '', kind: 'published', key: roomId };
      if (visibility === 'public') await api.putData([{ ...key, value: true }]);
      else await api.putData([], [key]);
      return { json: {} };
    },
  },

  // The public room list (ours and every reachable peer's).
  {
    method: 'GET',
    family: 'client',
    path: '/publicRooms',
    auth: 'optional',
    handle: (ctx) =>
      publicRooms(ctx.api, {
        limit: queryInt(ctx.query, 'limit', 100, 500),
        since: ctx.query.get('since') ?? undefined,
        term: undefined,
      }).then((json) => ({ json })),
  },
  {
    method: 'POST',
    family: 'client',
    path: '/publicRooms',
    auth: 'required',
    async handle(ctx) {
      const body = ctx.body();
      let limit = 100;
      if (body.limit !== undefined && body.limit !== null) {
        if (typeof body.limit !== 'number' || !Number.isInteger(body.limit) || body.limit < 0) {
          throw new MatrixError('M_BAD_JSON', '"limit" must be a non-negative integer');
        }
        limit = Math.min(body.limit, 500);
      }
      const since = optString(body, 'since');
      const filter = body.filter;
      if (filter !== undefined && filter !== null && !isJsonObject(filter)) throw new MatrixError('M_BAD_JSON', '"filter" must be an object');
      const term = isJsonObject(filter) ? optString(filter, 'generic_search_term') : undefined;
      return { json: await publicRooms(ctx.api, { limit, since, term }) };
    },
  },
];

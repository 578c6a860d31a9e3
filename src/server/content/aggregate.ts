/**
 * Timeline aggregation for the UI: turns a room's events (oldest first) into one item per
 * displayable event, with edits applied, reactions counted, replies resolved, threads
 * summarised and state changes described in words.
 *
 * Decisions worth knowing:
 * - Redactions are trusted only through `redacted_because`, which the engine sets once it
 *   has *applied* a redaction. `m.room.redaction` events in the input are not applied
 *   here: whether one takes effect depends on power levels and server names, which is the
 *   engine's call, not a display concern.
 * - `hidden` events are treated as absent (no item, no edit, no reaction, no thread count,
 *   no membership transition): the engine hides what did not take effect for the viewer
 *   (soft-failed, rejected, ignored users), and the spec excludes ignored users'
 *   annotations and thread events from counts.
 * - Events carrying an `m.replace` or `m.annotation` relation are never shown on their own,
 *   valid or not, so a forged edit cannot appear as a "* new text" message.
 * - Only what is in the window is known: a reply or thread root outside it still yields
 *   `replyTo` / `inThread` with just the event ID.
 */
import { type JsonObject, isJsonObject } from '../../core/json.ts';
import {
  type FileInfo,
  type ImageInfo,
  REACTION_TYPE,
  type Relation,
  fileOf,
  formattedBody,
  imageOf,
  isMessageEvent,
  messageBody,
  relationOf,
  stripReplyFallback,
} from './messages.ts';
import { describePowerLevels } from './power-levels.ts';

export interface TimelineInput {
  event_id: string;
  sender: string;
  type: string;
  state_key?: string;
  content: JsonObject;
  origin_server_ts: number;
  /** Event ID of the redaction the engine applied to this event, if any. */
  redacted_because?: string;
  /** The engine decided not to show this event (see the module comment). */
  hidden?: boolean;
}

export interface ReactionSummary {
  key: string;
  /** Distinct senders: one user reacting twice with the same key counts once. */
  count: number;
  senders: string[];
}

export interface TimelineItem {
  event_id: string;
  sender: string;
  ts: number;
  kind: 'message' | 'image' | 'notice' | 'redacted';
  /** Plain text with the latest valid edit applied (alt text for images); absent if redacted. */
  body?: string;
  /**
   * Text messages with a rich rendition (the latest valid edit's, which replaces it
   * wholesale): the markup's name and the markup as sent, unsanitized — the UI renders
   * it only through its sanitizer and falls back to `body` for formats it does not know.
   */
  format?: string;
  formatted_body?: string;
  edited: boolean;
  reactions: ReactionSummary[];
  replyTo?: { event_id: string; sender?: string; body?: string };
  /** On thread roots: number of thread events in the window and the latest one. */
  thread?: { count: number; latestEventId: string };
  /** On thread events: the root. The UI shows these in the thread panel, not the main timeline. */
  inThread?: string;
  image?: ImageInfo;
  /** Human description of a state change (kind 'notice'). */
  notice?: string;
  /** A state change's event type and state key (kind 'notice'): the UI groups a room's creation by them. */
  eventType?: string;
  stateKey?: string;
  /** The users the message says it mentions (`m.mentions.user_ids`, of the latest edit when edited). */
  mentions?: string[];
  /** A shared file (`m.file`): what to download. */
  file?: FileInfo;
  /** An end-to-end encrypted message this device cannot read yet (its room key has not arrived): `body` says so. */
  undecrypted?: boolean;
  /** Sent by this app and not stored yet: the local echo (its ID) that stands for it meanwhile (HomeserverClient.timeline). */
  echo?: string;
}

/** Events still encrypted when the timeline is built (the device has not decrypted them, or cannot yet). */
export const ENCRYPTED_EVENT_TYPE = 'm.room.encrypted';
/** What an undecrypted message reads as, until its key arrives. */
export const WAITING_FOR_KEY = 'Waiting for the key to decrypt this message';

/** Resolves a user ID to the name shown in notices. */
export type NameResolver = (userId: string) => string;

/** `@alice:server` → `alice`: server names are long PeerIds, unreadable in a sentence. */
export function localpartName(userId: string): string {
  const match = /^@([^:]*):/.exec(userId);
  return match?.[1] || userId;
}

export interface StateEventLike {
  readonly sender: string;
  readonly type: string;
  readonly state_key?: string;
  readonly content: unknown;
}

// ---------------------------------------------------------------- state notices

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function withReason(text: string, content: JsonObject): string {
  const reason = nonEmptyString(content.reason);
  return reason === undefined ? text : `${text}: ${reason}`;
}

function describeMember(
  sender: string,
  target: string,
  content: JsonObject,
  prev: JsonObject | undefined,
  nameOf: NameResolver,
): string {
  const membership = content.membership;
  // No previous member event means the user was never in the room: the spec's implicit "leave".
  const before = typeof prev?.membership === 'string' ? prev.membership : 'leave';
  const self = sender === target;
  // The name people knew them by, else the one they arrive with, else their user ID.
  const oldName = nonEmptyString(prev?.displayname);
  const newName = nonEmptyString(content.displayname);
  const who = oldName ?? newName ?? nameOf(target);
  const by = self ? who : nameOf(sender);

  switch (membership) {
    case 'join': {
      if (before !== 'join') return `${who} joined`;
      if (oldName !== newName) {
        if (oldName === undefined) return `${nameOf(target)} set their display name to ${newName}`;
        if (newName === undefined) return `${oldName} removed their display name`;
        return `${oldName} changed their display name to ${newName}`;
      }
      const oldAvatar = nonEmptyString(prev?.avatar_url);
      const newAvatar = nonEmptyString(content.avatar_url);
      if (oldAvatar !== newAvatar) {
        if (oldAvatar === undefined) return `${who} set a profile picture`;
        if (newAvatar === undefined) return `${who} removed their profile picture`;
        return `${who} changed their profile picture`;
      }
      return `${who} made no change`;
    }
    case 'invite':
      return withReason(`${by} invited ${who}`, content);
    case 'knock':
      return withReason(`${who} knocked`, content);
    case 'ban':
      return withReason(`${who} was banned by ${by}`, content);
    case 'leave': {
      if (self) {
        if (before === 'invite') return withReason(`${who} rejected the invitation`, content);
        if (before === 'knock') return withReason(`${who} withdrew their knock`, content);
        return withReason(`${who} left`, content);
      }
      if (before === 'ban') return withReason(`${by} unbanned ${who}`, content);
      if (before === 'invite') return withReason(`${by} withdrew ${who}'s invitation`, content);
      if (before === 'knock') return withReason(`${by} rejected ${who}'s knock`, content);
      return withReason(`${by} kicked ${who}`, content);
    }
    default:
      return `${who}'s membership changed to ${typeof membership === 'string' ? membership : 'an unknown state'}`;
  }
}

function topicText(content: JsonObject): string | undefined {
  const topic = nonEmptyString(content.topic);
  if (topic !== undefined) return topic;
  // Spec v1.15 (MSC3765): rich topics in an m.topic block; its plain representation is the fallback.
  const block = content['m.topic'];
  if (!isJsonObject(block)) return undefined;
  const reps = block['m.text'];
  if (!Array.isArray(reps)) return undefined;
  for (const rep of reps) {
    if (isJsonObject(rep) && (rep.mimetype === undefined || rep.mimetype === 'text/plain')) {
      return nonEmptyString(rep.body);
    }
  }
  return undefined;
}

const JOIN_RULE_TEXT: Readonly<Record<string, string>> = {
  public: 'made the room public',
  invite: 'made the room invite only',
  knock: 'made the room invite only, allowing knocks',
  restricted: 'restricted joining to members of other rooms',
  knock_restricted: 'restricted joining to members of other rooms, allowing knocks',
};

const HISTORY_TEXT: Readonly<Record<string, string>> = {
  world_readable: 'made future room history visible to anyone',
  shared: 'made future room history visible to all room members',
  invited: 'made future room history visible to members, from when they were invited',
  joined: 'made future room history visible to members, from when they joined',
};

function lookup(table: Readonly<Record<string, string>>, key: unknown): string | undefined {
  return typeof key === 'string' && Object.hasOwn(table, key) ? table[key] : undefined;
}

/**
 * A human sentence for a state event. `prevContent` is the content of the state event it
 * replaces (same type and state key), which membership transitions and power-level diffs
 * need; `nameOf` turns user IDs into names (default: the localpart).
 */
export function describeStateChange(
  event: StateEventLike,
  prevContent?: JsonObject,
  nameOf: NameResolver = localpartName,
): string {
  const content = isJsonObject(event.content) ? event.content : {};
  const by = nameOf(event.sender);
  switch (event.type) {
    case 'm.room.create':
      return `${by} created the room`;
    case 'm.room.member':
      return describeMember(event.sender, event.state_key ?? '', content, prevContent, nameOf);
    case 'm.room.name': {
      const name = nonEmptyString(content.name);
      return name === undefined ? `${by} removed the room name` : `${by} changed the room name to “${name}”`;
    }
    case 'm.room.topic': {
      const topic = topicText(content);
      return topic === undefined ? `${by} removed the topic` : `${by} changed the topic to “${topic}”`;
    }
    case 'm.room.avatar':
      return nonEmptyString(content.url) === undefined ? `${by} removed the room avatar` : `${by} changed the room avatar`;
    case 'm.room.power_levels':
      return describePowerLevels(by, content, prevContent, nameOf, event.sender);
    case 'm.room.join_rules': {
      const text = lookup(JOIN_RULE_TEXT, content.join_rule);
      return text === undefined ? `${by} changed the join rules` : `${by} ${text}`;
    }
    case 'm.room.history_visibility': {
      const text = lookup(HISTORY_TEXT, content.history_visibility);
      return text === undefined ? `${by} changed the history visibility` : `${by} ${text}`;
    }
    case 'm.room.guest_access':
      return content.guest_access === 'can_join'
        ? `${by} allowed guests to join the room`
        : `${by} prevented guests from joining the room`;
    case 'm.room.canonical_alias': {
      const alias = nonEmptyString(content.alias);
      return alias === undefined ? `${by} removed the main address` : `${by} set the main address to ${alias}`;
    }
    case 'm.room.encryption':
      return `${by} enabled end-to-end encryption`;
    case 'm.room.server_acl':
      return `${by} changed the server access control list`;
    case 'm.room.pinned_events':
      return `${by} changed the pinned messages`;
    case 'm.room.tombstone':
      return `${by} upgraded this room`;
    case 'm.room.third_party_invite': {
      const name = nonEmptyString(content.display_name);
      return name === undefined ? `${by} sent an invitation` : `${by} sent an invitation to ${name}`;
    }
    default:
      return `${by} changed the room state (${event.type})`;
  }
}

// ---------------------------------------------------------------- aggregation

type Role = 'state' | 'message' | 'edit' | 'reaction' | 'other';

interface Classified {
  event: TimelineInput;
  rel: Relation | undefined;
  role: Role;
}

function classify(event: TimelineInput): Classified {
  const rel = relationOf(event);
  let role: Role;
  if (typeof event.state_key === 'string') role = 'state';
  else if (rel?.rel_type === 'm.replace' && rel.event_id !== undefined) role = 'edit';
  else if (event.type === REACTION_TYPE || rel?.rel_type === 'm.annotation') role = 'reaction';
  else if (isMessageEvent(event) || event.type === ENCRYPTED_EVENT_TYPE) role = 'message';
  else role = 'other';
  return { event, rel, role };
}

/** Spec order for "most recent": origin_server_ts, then the lexicographically larger event ID. */
function isNewer(a: TimelineInput, b: TimelineInput): boolean {
  if (a.origin_server_ts !== b.origin_server_ts) return a.origin_server_ts > b.origin_server_ts;
  return a.event_id > b.event_id;
}

/** The spec's validity rules for a replacement, less the room check (one room per call). */
function isValidEdit(edit: TimelineInput, original: Classified): boolean {
  return (
    edit.redacted_because === undefined &&
    edit.sender === original.event.sender &&
    edit.type === original.event.type &&
    edit.state_key === undefined &&
    original.role === 'message' &&
    isJsonObject(edit.content) &&
    isJsonObject(edit.content['m.new_content'])
  );
}

function pushTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

function countReactions(reactions: readonly TimelineInput[] | undefined): ReactionSummary[] {
  const byKey = new Map<string, string[]>();
  for (const r of reactions ?? []) {
    const key = relationOf(r)?.key;
    if (r.type !== REACTION_TYPE || r.redacted_because !== undefined || key === undefined) continue;
    const senders = byKey.get(key);
    if (!senders) byKey.set(key, [r.sender]);
    else if (!senders.includes(r.sender)) senders.push(r.sender);
  }
  return [...byKey].map(([key, senders]) => ({ key, count: senders.length, senders }));
}

/** How `aggregateTimeline` reads a window that does not start at the room's beginning (timeline-window.ts). */
export interface AggregateOptions {
  /** Content of each state event (by type NUL state key) before the first input: the "before" of the first changes. */
  stateBefore?: ReadonlyMap<string, JsonObject>;
  /**
   * Inputs given only for what they tell about the others — a reply's target and its edits, a
   * thread's root, an edit, reaction or thread event that sorts before its target: they yield
   * no item of their own and change no state (`stateBefore` holds it).
   */
  context?: ReadonlySet<string>;
}

/** Whether an input yields an item of its own (when not a duplicate): what a window counts. */
export function yieldsItem(event: TimelineInput): boolean {
  if (event.hidden) return false;
  const { role } = classify(event);
  return role === 'state' || role === 'message';
}

export function aggregateTimeline(events: readonly TimelineInput[], opts: AggregateOptions = {}): TimelineItem[] {
  const context = opts.context;
  const all: Classified[] = [];
  const byId = new Map<string, Classified>();
  for (const event of events) {
    // Duplicates (the same event delivered twice) keep their first position.
    if (event.hidden || byId.has(event.event_id)) continue;
    const c = classify(event);
    all.push(c);
    byId.set(event.event_id, c);
  }

  // Children by parent, gathered first: an edit or reaction can precede its target in a
  // DAG-ordered timeline.
  const edits = new Map<string, TimelineInput[]>();
  const reactions = new Map<string, TimelineInput[]>();
  for (const { event, rel, role } of all) {
    if (role === 'edit') pushTo(edits, rel!.event_id!, event);
    else if (role === 'reaction' && rel?.rel_type === 'm.annotation' && rel.event_id !== undefined) {
      pushTo(reactions, rel.event_id, event);
    }
  }

  const items: TimelineItem[] = [];
  const itemById = new Map<string, TimelineItem>();
  // Content of the current state event per (type, state key): the "before" of each change.
  const state = new Map<string, JsonObject>(opts.stateBefore ?? []);
  const nameOf: NameResolver = (userId) =>
    nonEmptyString(state.get(`m.room.member\u0000${userId}`)?.displayname) ?? localpartName(userId);

  for (const c of all) {
    const { event, role } = c;
    let item: TimelineItem | undefined;
    if (role === 'state') {
      const stateKey = `${event.type}\u0000${event.state_key}`;
      item = {
        ...base(event, 'notice'),
        notice: describeStateChange(event, state.get(stateKey), nameOf),
        eventType: event.type,
        stateKey: event.state_key ?? '',
        reactions: countReactions(reactions.get(event.event_id)),
      };
      if (!context?.has(event.event_id)) state.set(stateKey, isJsonObject(event.content) ? event.content : {});
    } else if (role === 'message') {
      item = messageItem(c, byId, edits.get(event.event_id), reactions.get(event.event_id));
    }
    if (item) {
      items.push(item);
      itemById.set(item.event_id, item);
    }
  }

  // Second pass, now that every item's final (edited) body is known: quoted replies and
  // thread summaries.
  for (const item of items) {
    if (item.replyTo) {
      const target = itemById.get(item.replyTo.event_id);
      if (target) {
        item.replyTo.sender = target.sender;
        if (target.body !== undefined) item.replyTo.body = target.body;
      }
    }
    const root = item.inThread === undefined ? undefined : itemById.get(item.inThread);
    // Timeline order is topological order, which is what the spec's "latest" means here.
    if (root) root.thread = { count: (root.thread?.count ?? 0) + 1, latestEventId: item.event_id };
  }
  return context && context.size > 0 ? items.filter((i) => !context.has(i.event_id)) : items;
}

function base(event: TimelineInput, kind: TimelineItem['kind']): TimelineItem {
  return { event_id: event.event_id, sender: event.sender, ts: event.origin_server_ts, kind, edited: false, reactions: [] };
}

/** The thread root an event belongs to, unless that root is known not to be a valid root. */
function threadRootOf(rel: Relation | undefined, byId: ReadonlyMap<string, Classified>): string | undefined {
  if (rel?.rel_type !== 'm.thread' || rel.event_id === undefined) return undefined;
  const root = byId.get(rel.event_id);
  // Threads cannot branch off an event that is itself a relation (spec: no nested threads)
  // or off a state event; such a thread relation is invalid and the event stands alone.
  if (root && (root.role !== 'message' || root.rel?.rel_type !== undefined)) return undefined;
  return rel.event_id;
}

function messageItem(
  c: Classified,
  byId: ReadonlyMap<string, Classified>,
  edits: readonly TimelineInput[] | undefined,
  reactions: readonly TimelineInput[] | undefined,
): TimelineItem {
  const { event, rel } = c;
  const inThread = threadRootOf(rel, byId);
  if (event.redacted_because !== undefined) {
    // Redacting the original removes it and all its edits from view; only its place in
    // a thread (if the engine left the relation readable) is kept so the panel stays whole.
    const item = base(event, 'redacted');
    if (inThread !== undefined) item.inThread = inThread;
    return item;
  }

  if (event.type === ENCRYPTED_EVENT_TYPE) {
    const item = base(event, 'message');
    item.body = WAITING_FOR_KEY;
    item.undecrypted = true;
    item.reactions = countReactions(reactions);
    if (inThread !== undefined) item.inThread = inThread;
    return item;
  }

  let latest: TimelineInput | undefined;
  for (const edit of edits ?? []) {
    if (isValidEdit(edit, c) && (!latest || isNewer(edit, latest))) latest = edit;
  }
  // Applying an edit: m.new_content replaces the content wholesale, except m.relates_to,
  // which stays the original's.
  const content = latest ? (latest.content['m.new_content'] as JsonObject) : event.content;
  const effective = { type: event.type, content };

  const image = imageOf(effective);
  const item = base(event, image ? 'image' : 'message');
  let body = messageBody(effective);
  // A reply is a real reply unless it is only a thread's fallback for unthreaded clients.
  const isReply = rel?.in_reply_to !== undefined && !(inThread !== undefined && rel.is_falling_back === true);
  if (body !== undefined && rel?.in_reply_to !== undefined) body = stripReplyFallback(body);
  if (body !== undefined) item.body = body;
  const rich = image ? undefined : formattedBody(effective);
  if (rich) {
    item.format = rich.format;
    item.formatted_body = rich.formatted_body;
  }
  if (image) item.image = image;
  const file = image ? undefined : fileOf(effective);
  if (file) item.file = file;
  const mentions = isJsonObject(content) ? content['m.mentions'] : undefined;
  const mentioned = isJsonObject(mentions) ? mentions.user_ids : undefined;
  if (Array.isArray(mentioned)) item.mentions = mentioned.filter((u): u is string => typeof u === 'string');
  item.edited = latest !== undefined;
  item.reactions = countReactions(reactions);
  if (isReply) item.replyTo = { event_id: rel!.in_reply_to! };
  if (inThread !== undefined) item.inThread = inThread;
  return item;
}

/** The thread panel: the root (when in the window) followed by the thread's events. */
export function threadItems(events: readonly TimelineInput[], rootId: string): TimelineItem[] {
  return aggregateTimeline(events).filter((item) => item.event_id === rootId || item.inThread === rootId);
}

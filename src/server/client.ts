/**
 * The API the UI and tools use (the worker exposes it over Comlink, the
 * simulator and tests call it directly): room actions on behalf of a local
 * user, and read models — room list, timeline, state, members, the DAG.
 * Every refusal is a MatrixError that says what is wrong.
 */
import { creatorsOf, membershipOf, namedLevel, powerLevelOf } from '../core/auth/index.ts';
import { encodeBase64Url } from '../core/base64.ts';
import { addContentHash, computeEventId } from '../core/hashing.ts';
import { isHashRoomId, roomIdFromCreateEventId } from '../core/ids.ts';
import { type JsonObject, isJsonObject } from '../core/json.ts';
import { type Pdu, type RoomEvent, splitStateKey, stateKey } from '../core/pdu.ts';
import { DEFAULT_ROOM_VERSION, SUPPORTED_ROOM_VERSIONS, isSupportedRoomVersion, roomVersion } from '../core/room-versions/registry.ts';
import {
  type TimelineInput,
  type TimelineItem,
  type TimelineSource,
  editMessage,
  fileMessage,
  imageMessage,
  isMessageEvent,
  localpartName,
  REACTION_TYPE,
  reaction,
  relationOf,
  textMessage,
  timelineWindow,
} from './content/index.ts';
import { recordReceipt, setTyping, typingUsers } from './edus.ts';
import { MatrixError, forbidden, invalidParam, notFound } from './errors.ts';
import { handleFederationRequest } from './federation-server.ts';
import { type Media, downloadMedia, uploadMedia } from './media.ts';
import { Homeserver } from './homeserver.ts';
import { type EventTemplate, HeldEventError, buildEvent, createLocalEventLocked } from './local-events.ts';
import { countersignInvite, dropPending, loadPending, profileOf, remoteJoin, remoteKnock, remoteLeave } from './membership.ts';
import { redactsOf } from './redactions.ts';
import { Room } from './room.ts';
import type { StateMap } from './state-groups.ts';
import type { StoredEvent, WriteBatch } from './store/types.ts';
import { TOMBSTONE_BODY, checkUpgrade, planUpgrade, predecessorOf, restrictedPowerLevels, tombstoneOf } from './upgrade.ts';
import { historyVisibility, visibleToUser } from './visibility.ts';
import { latencyTracing, traceMark, traceNow } from './latency-trace.ts';

export type Preset = 'private_chat' | 'public_chat' | 'trusted_private_chat';

export interface CreateRoomOptions {
  preset?: Preset;
  name?: string;
  topic?: string;
  roomVersion?: string;
  invite?: string[];
  isDirect?: boolean;
  /** End-to-end encrypt its messages (m.room.encryption, Megolm, in the initial state). */
  encrypted?: boolean;
  joinRule?: string;
  historyVisibility?: string;
  /** Extra m.room.create content (a room upgrade's `predecessor`, v12's `additional_creators`). */
  creationContent?: JsonObject;
  /** The whole m.room.power_levels content, in place of the preset's (a room upgrade's copy). */
  powerLevelContent?: JsonObject;
  /** State sent after the defaults, replacing a default of the same type and key (a room upgrade's copied state). */
  initialState?: { type: string; stateKey?: string; content: JsonObject }[];
}

export interface UpgradeResult {
  replacementRoom: string;
  /** Members of the old room invited to the new one. */
  invited: string[];
  /** Members whose invite failed (e.g. their server unreachable), and why: they can still follow if the new room lets them join. */
  notInvited: { userId: string; reason: string }[];
  /** Whether the old room's power levels were raised so members cannot talk there any more. */
  oldRoomRestricted: boolean;
}

export interface RoomSummary {
  roomId: string;
  name: string;
  topic?: string;
  roomVersion: string;
  membership: string;
  isDirect: boolean;
  joinRule?: string;
  memberCount: number;
  unread: number;
  /** Messages are end-to-end encrypted (the room has m.room.encryption). */
  encrypted?: boolean;
  /**
   * The latest message as it reads now (edits applied, a reply's quoted fallback removed):
   * the sender's display name when known, and the rich rendition when it has one.
   */
  lastMessage?: { sender: string; senderName?: string; body: string; formattedBody?: string; ts: number };
  inviter?: string;
  /** The inviter's display name (from the invite's stripped state), when known. */
  inviterName?: string;
  /** In a direct chat: the other person (joined or invited), for their name and avatar. */
  dmUserId?: string;
  /** The room's tombstone: the room that replaces it, and the server to join that room through. */
  replacement?: { roomId: string; via: string[] };
  /** The room this one continues (its create event's `predecessor`). */
  predecessor?: string;
  /** After a kick or ban: who changed this user's membership (their display name, if known) and why. */
  removedBy?: { userId: string; displayName?: string; reason?: string; eventId: string };
}

export interface DagNode {
  eventId: string;
  type: string;
  sender: string;
  stateKey?: string;
  depth: number;
  prevEvents: string[];
  authEvents: string[];
  status: string;
  reason?: string;
  isState: boolean;
  ts: number;
}

function serverOf(userId: string): string {
  return userId.slice(userId.indexOf(':') + 1);
}

/** The server a room ID names, if any (a v12 room ID is a hash and names none). */
function roomIdServer(roomId: string): string[] {
  return isHashRoomId(roomId) ? [] : [serverOf(roomId)];
}

/** `clear`: an m.room.encrypted event's decrypted type and content, when this client's device could decrypt it. */
function timelineInput(eventId: string, pdu: Pdu, redactedBy?: string, clear?: Cleartext): TimelineInput {
  return {
    event_id: eventId,
    sender: pdu.sender,
    type: clear?.type ?? pdu.type,
    ...(typeof pdu.state_key === 'string' ? { state_key: pdu.state_key } : {}),
    content: clear?.content ?? pdu.content,
    origin_server_ts: pdu.origin_server_ts,
    ...(redactedBy ? { redacted_because: redactedBy } : {}),
  };
}

export const ENCRYPTED_TYPE = 'm.room.encrypted';

/** A decrypted event's type and content. */
export interface Cleartext {
  type: string;
  content: JsonObject;
}

/**
 * What an end-to-end encryption device adds to a client (the tab's: src/app/e2ee-tab.ts,
 * docs/e2ee.md): reading decrypted events, encrypting what it sends in encrypted rooms.
 */
export interface ClientCrypto {
  /** The cleartext of an `m.room.encrypted` event, once this device has decrypted it. */
  cleartext(eventId: string): Cleartext | undefined;
  /** The `m.room.encrypted` content for a message event in an encrypted room (the room key is shared first). */
  encrypt(room: Room, type: string, content: JsonObject): Promise<JsonObject>;
}

/** Whether a room's messages are end-to-end encrypted (it has an m.room.encryption state event). */
export function isEncryptedRoom(room: Room): boolean {
  return room.currentGroup >= 0 && room.stateEvent('m.room.encryption', '', room.currentState()) !== undefined;
}

export class HomeserverClient {
  constructor(
    readonly hs: Homeserver,
    /** Set for a client that is an encryption device (the tab's app); absent, events are sent and shown as they are. */
    readonly crypto?: ClientCrypto,
  ) {}

  /**
   * Messages sent with an `echo` (the app's local ID for what it shows as *sending*) whose write
   * is not stored yet, event ID → echo. The room shows an event as soon as it is in memory, but
   * until it is stored the app's echo stands for it — with its *sending* or *not saved* state and
   * retry — so the timeline names the echo on such an item (TimelineItem.echo) rather than the app
   * showing the message twice.
   */
  private readonly unstoredEchoes = new Map<string, string>();

  get serverName(): string {
    return this.hs.serverName;
  }

  // ---- actions ----------------------------------------------------------

  /** Runs one local event under the room's lock; `alsoWrite`'s records commit with it (see createLocalEventLocked). */
  private async send(
    room: Room,
    t: EventTemplate,
    transform?: (ev: RoomEvent) => Promise<RoomEvent>,
    alsoWrite?: (eventId: string) => WriteBatch,
  ): Promise<RoomEvent> {
    // In an encrypted room a device encrypts its messages, outside the room's lock (key sharing
    // talks to other servers). Redactions stay clear (the server must read them), and so do
    // reactions (this app finds its own by their key).
    if (this.crypto && t.state_key === undefined && t.type !== 'm.room.redaction' && t.type !== REACTION_TYPE && t.type !== ENCRYPTED_TYPE && isEncryptedRoom(room)) {
      t = { ...t, type: ENCRYPTED_TYPE, content: await this.crypto.encrypt(room, t.type, t.content) };
    }
    const sent = room.lock.run(() => createLocalEventLocked(this.hs, room, t, transform, alsoWrite), 'local event');
    if (!latencyTracing()) return sent;
    // Latency breakdown (bench/latency.ts): when the lock was asked for, and who held it then.
    const askedAt = traceNow();
    const holder = room.lock.holder ?? 'free';
    return sent.then((ev) => {
      traceMark(ev.event_id, 'lock-asked', askedAt, holder);
      return ev;
    });
  }

  /** An event as the timeline reads it: decrypted when this client's device could. */
  private input(s: { event_id: string; pdu: Pdu; redacted_by?: string | undefined }): TimelineInput {
    const clear = s.pdu.type === ENCRYPTED_TYPE ? this.crypto?.cleartext(s.event_id) : undefined;
    return timelineInput(s.event_id, s.pdu, s.redacted_by, clear);
  }

  /** `events` (in timeline order) as timelineWindow reads them: `input` only for those `visible`. */
  private windowSource(events: readonly StoredEvent[], visible: (s: StoredEvent) => boolean, input: (s: StoredEvent) => TimelineInput): TimelineSource {
    return {
      length: events.length,
      id: (i) => events[i]!.event_id,
      isState: (i) => typeof events[i]!.pdu.state_key === 'string',
      relation: (i) => {
        const s = events[i]!;
        const clear = s.pdu.type === ENCRYPTED_TYPE ? this.crypto?.cleartext(s.event_id) : undefined;
        return relationOf({ content: clear?.content ?? s.pdu.content });
      },
      input: (i) => (visible(events[i]!) ? input(events[i]!) : undefined),
    };
  }

  private joinedRoom(userId: string, roomId: string): Room {
    this.hs.requireLocalUser(userId);
    const room = this.hs.requireRoom(roomId);
    const m = room.membership(userId);
    if (m !== 'join') throw forbidden(`${userId} is not joined to ${roomId} (membership ${m})`);
    return room;
  }

  async createRoom(userId: string, opts: CreateRoomOptions = {}): Promise<string> {
    this.hs.requireLocalUser(userId);
    const version = opts.roomVersion ?? DEFAULT_ROOM_VERSION;
    if (!isSupportedRoomVersion(version)) {
      throw new MatrixError('M_UNSUPPORTED_ROOM_VERSION', `room version ${version} is not supported (${SUPPORTED_ROOM_VERSIONS.join(', ')})`);
    }
    const rules = roomVersion(version);
    const preset: Preset = opts.preset ?? (opts.isDirect ? 'trusted_private_chat' : 'private_chat');
    const createTemplate: EventTemplate = {
      type: 'm.room.create',
      sender: userId,
      state_key: '',
      content: { ...opts.creationContent, room_version: version, ...(rules.auth.creatorFromSender ? {} : { creator: userId }) },
    };
    let roomId = `!${encodeBase64Url(this.hs.random(18))}:${this.hs.serverName}`;
    if (rules.auth.roomIdFromCreateEvent) {
      // Room version 12: the room ID is the create event's reference hash, so build it first.
      createTemplate.origin_server_ts = this.hs.clock.now();
      const probe = new Room(roomId, rules, () => -1);
      roomId = roomIdFromCreateEventId(computeEventId(addContentHash(buildEvent(this.hs, probe, createTemplate, [], new Map()) as never), rules));
    }
    const room = this.hs.openRoom(roomId, version);
    if (opts.isDirect) room.meta.is_direct = true;
    const invitees = opts.invite ?? [];
    for (const u of invitees) Homeserver.checkUserId(u);
    // v12: the creator has infinite power and may not be listed (auth rule 10.4).
    const users: JsonObject = rules.auth.privilegedCreators ? {} : { [userId]: 100 };
    if (preset === 'trusted_private_chat') for (const u of invitees) users[u] = 100;
    const steps: EventTemplate[] = [
      createTemplate,
      { type: 'm.room.member', sender: userId, state_key: userId, content: { membership: 'join', ...this.profile(userId) } },
      {
        type: 'm.room.power_levels',
        sender: userId,
        state_key: '',
        content: opts.powerLevelContent ?? {
          users,
          users_default: 0,
          events: {
            'm.room.name': 50,
            'm.room.power_levels': 100,
            'm.room.history_visibility': 100,
            'm.room.canonical_alias': 50,
            'm.room.avatar': 50,
            'm.room.tombstone': 100,
            'm.room.server_acl': 100,
          },
          events_default: 0,
          state_default: 50,
          ban: 50,
          kick: 50,
          redact: 50,
          invite: preset === 'public_chat' ? 50 : 0,
        },
      },
      {
        type: 'm.room.join_rules',
        sender: userId,
        state_key: '',
        content: { join_rule: opts.joinRule ?? (preset === 'public_chat' ? 'public' : 'invite') },
      },
      {
        type: 'm.room.history_visibility',
        sender: userId,
        state_key: '',
        content: { history_visibility: opts.historyVisibility ?? 'shared' },
      },
    ];
    if (opts.encrypted) {
      steps.push({ type: 'm.room.encryption', sender: userId, state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2', rotation_period_ms: 604_800_000, rotation_period_msgs: 100 } });
    }
    if (opts.name) steps.push({ type: 'm.room.name', sender: userId, state_key: '', content: { name: opts.name } });
    if (opts.topic) steps.push({ type: 'm.room.topic', sender: userId, state_key: '', content: { topic: opts.topic } });
    for (const s of opts.initialState ?? []) {
      const t: EventTemplate = { type: s.type, sender: userId, state_key: s.stateKey ?? '', content: s.content };
      const same = steps.findIndex((x) => x.type === t.type && x.state_key === t.state_key);
      if (same > 0) steps[same] = t;
      else steps.push(t);
    }
    for (const t of steps) await this.send(room, t);
    this.hs.transport.subscribe(roomId);
    this.hs.emit({ kind: 'room', roomId });
    for (const u of invitees) await this.invite(userId, roomId, u);
    return roomId;
  }

  /** The profile fields a local user's join carries (display name, avatar). */
  private profile(userId: string): JsonObject {
    return profileOf(this.hs, userId);
  }

  async invite(userId: string, roomId: string, target: string): Promise<string> {
    Homeserver.checkUserId(target);
    const room = this.joinedRoom(userId, roomId);
    // A direct chat's invites say so (`is_direct`), so the invitee files it under direct messages too.
    const content: JsonObject = { membership: 'invite', ...(room.meta.is_direct === true ? { is_direct: true } : {}) };
    const t: EventTemplate = { type: 'm.room.member', sender: userId, state_key: target, content };
    const remote = serverOf(target) !== this.hs.serverName;
    const ev = await this.send(room, t, remote ? (e) => countersignInvite(this.hs, room, e) : undefined);
    if (!remote) this.hs.emit({ kind: 'invite', roomId, userId: target, sender: userId });
    return ev.event_id;
  }

  /** Joins a room: locally if this server is in it, else through `via` (or the room ID's server). */
  async join(userId: string, roomId: string, via: string[] = []): Promise<void> {
    this.hs.requireLocalUser(userId);
    const room = this.hs.rooms.get(roomId);
    if (room && room.currentGroup >= 0) {
      if (room.membership(userId) === 'join') return;
      await this.send(room, { type: 'm.room.member', sender: userId, state_key: userId, content: { membership: 'join', ...this.profile(userId) } });
      // An invite that also came over federation (the room is held here) is answered: it no longer counts as pending.
      await dropPending(this.hs, 'invites', roomId, userId);
      this.hs.emit({ kind: 'room', roomId });
      this.pushPresence(userId);
      return;
    }
    const invite = (await loadPending(this.hs, 'invites')).find((i) => i.room_id === roomId && i.user_id === userId);
    // A v12 room ID has no server in it: only `via` and the inviter's server can lead there.
    const servers = [...via, ...(invite ? [serverOf(invite.sender)] : []), ...roomIdServer(roomId)].filter((s) => s !== this.hs.serverName);
    if (servers.length === 0) throw notFound(`no server to join ${roomId} through`);
    await remoteJoin(this.hs, userId, roomId, servers, this.profile(userId));
    const joined = this.hs.rooms.get(roomId);
    if (joined && (invite?.event.content as JsonObject | undefined)?.is_direct === true) {
      joined.meta.is_direct = true;
      await this.hs.commit({ rooms: [joined.record()] });
      this.hs.emit({ kind: 'room', roomId });
    }
    // The room's other servers learn this user's presence now, not at their next change.
    this.pushPresence(userId);
  }

  /**
   * Upgrades a room (Client-Server "Room Upgrades"): a new room of `newVersion` continuing this
   * one (`predecessor`), with the transferable state and power levels copied (the upgrader able to
   * act; v12 creators translated, see upgrade.ts), a tombstone here naming it, this room's power
   * levels raised so members cannot talk here any more, and (with `inviteMembers`, the default)
   * the joined members invited — best effort: an unreachable member's server does not stop it.
   */
  async upgradeRoom(
    userId: string,
    roomId: string,
    newVersion: string,
    opts: { additionalCreators?: string[]; inviteMembers?: boolean } = {},
  ): Promise<UpgradeResult> {
    this.hs.requireLocalUser(userId);
    const old = this.hs.requireRoom(roomId);
    const rules = checkUpgrade(old, userId, newVersion);
    for (const u of opts.additionalCreators ?? []) Homeserver.checkUserId(u);
    const plan = planUpgrade(old, userId, rules, opts.additionalCreators);
    const replacementRoom = await this.createRoom(userId, {
      roomVersion: rules.id,
      ...(old.meta.is_direct === true ? { isDirect: true } : {}),
      creationContent: plan.creationContent,
      powerLevelContent: plan.powerLevels,
      initialState: plan.initialState,
    });
    await this.send(old, { type: 'm.room.tombstone', sender: userId, state_key: '', content: { body: TOMBSTONE_BODY, replacement_room: replacementRoom } });
    let oldRoomRestricted = false;
    const restricted = restrictedPowerLevels(old.stateEvent('m.room.power_levels')?.content);
    if (restricted) {
      try {
        await this.send(old, { type: 'm.room.power_levels', sender: userId, state_key: '', content: restricted });
        oldRoomRestricted = true;
      } catch {
        // The upgrader may send a tombstone but not change power levels: the old room stays as it is.
      }
    }
    const invited: string[] = [];
    const notInvited: UpgradeResult['notInvited'] = [];
    if (opts.inviteMembers !== false) {
      for (const member of plan.members) {
        try {
          await this.invite(userId, replacementRoom, member);
          invited.push(member);
        } catch (err) {
          notInvited.push({ userId: member, reason: err instanceof Error ? err.message : String(err) });
        }
      }
    }
    this.hs.emit({ kind: 'room', roomId });
    return { replacementRoom, invited, notInvited, oldRoomRestricted };
  }

  /**
   * Follows a room's tombstone: joins the room that replaced it, through the server that sent the
   * tombstone (a v12 room ID names no server) and the old room's other servers. Returns its ID.
   */
  async followUpgrade(userId: string, roomId: string): Promise<string> {
    this.hs.requireLocalUser(userId);
    const old = this.hs.requireRoom(roomId);
    const tomb = tombstoneOf(old);
    if (!tomb) throw notFound(`${roomId} has not been replaced (no m.room.tombstone)`);
    await this.join(userId, tomb.replacementRoom, this.upgradeVia(old, tomb.sender));
    return tomb.replacementRoom;
  }

  /** Servers to join a room's replacement through: the tombstone's sender's first, then the old room's. */
  private upgradeVia(old: Room, tombstoneSender: string): string[] {
    return [...new Set([serverOf(tombstoneSender), ...old.servers])].filter((s) => s !== this.hs.serverName);
  }

  async knock(userId: string, roomId: string, via: string[] = [], reason?: string): Promise<void> {
    this.hs.requireLocalUser(userId);
    const room = this.hs.rooms.get(roomId);
    if (room && room.currentGroup >= 0) {
      await this.send(room, { type: 'm.room.member', sender: userId, state_key: userId, content: { membership: 'knock', ...(reason ? { reason } : {}) } });
      return;
    }
    const servers = [...via, ...roomIdServer(roomId)].filter((s) => s !== this.hs.serverName);
    await remoteKnock(this.hs, userId, roomId, servers, reason);
  }

  /** Leaves a room, rejects an invite or withdraws a knock. */
  async leave(userId: string, roomId: string, reason?: string): Promise<void> {
    this.hs.requireLocalUser(userId);
    const room = this.hs.rooms.get(roomId);
    if (room && room.currentGroup >= 0) {
      const m = room.membership(userId);
      if (m === 'leave' || m === 'ban') throw forbidden(`${userId} is not in ${roomId} (membership ${m})`);
      await this.send(room, { type: 'm.room.member', sender: userId, state_key: userId, content: { membership: 'leave', ...(reason ? { reason } : {}) } });
      await dropPending(this.hs, 'invites', roomId, userId);
      await dropPending(this.hs, 'knocks', roomId, userId);
      this.hs.emit({ kind: 'room', roomId });
      return;
    }
    const invites = await loadPending(this.hs, 'invites');
    const knocks = await loadPending(this.hs, 'knocks');
    const pending = [...invites, ...knocks].find((i) => i.room_id === roomId && i.user_id === userId);
    if (!pending) throw notFound(`${userId} has no invite to, knock on or membership in ${roomId}`);
    await remoteLeave(this.hs, userId, roomId, [serverOf(pending.sender), ...roomIdServer(roomId)].filter((s) => s !== this.hs.serverName));
  }

  private async moderate(userId: string, roomId: string, target: string, membership: 'leave' | 'ban', reason?: string): Promise<string> {
    Homeserver.checkUserId(target);
    const room = this.joinedRoom(userId, roomId);
    const ev = await this.send(room, {
      type: 'm.room.member',
      sender: userId,
      state_key: target,
      content: { membership, ...(reason ? { reason } : {}) },
    });
    return ev.event_id;
  }

  kick(userId: string, roomId: string, target: string, reason?: string): Promise<string> {
    return this.moderate(userId, roomId, target, 'leave', reason);
  }

  ban(userId: string, roomId: string, target: string, reason?: string): Promise<string> {
    return this.moderate(userId, roomId, target, 'ban', reason);
  }

  async unban(userId: string, roomId: string, target: string): Promise<string> {
    const room = this.joinedRoom(userId, roomId);
    if (room.membership(target) !== 'ban') throw forbidden(`${target} is not banned from ${roomId}`);
    return this.moderate(userId, roomId, target, 'leave');
  }

  async setState(userId: string, roomId: string, type: string, stateKey: string, content: JsonObject): Promise<string> {
    if (typeof type !== 'string' || type.length === 0) throw invalidParam('state event type must be a non-empty string');
    if (!isJsonObject(content)) throw invalidParam('state content must be an object');
    const room = this.joinedRoom(userId, roomId);
    const ev = await this.send(room, { type, sender: userId, state_key: stateKey, content });
    return ev.event_id;
  }

  /** `alsoWrite`: records to commit in the event's transaction (the Client-Server API's transaction ID). */
  async sendEvent(userId: string, roomId: string, type: string, content: JsonObject, alsoWrite?: (eventId: string) => WriteBatch): Promise<string> {
    const room = this.joinedRoom(userId, roomId);
    const ev = await this.send(room, { type, sender: userId, content }, undefined, alsoWrite);
    return ev.event_id;
  }

  async sendMessage(
    userId: string,
    roomId: string,
    body: string,
    opts: { replyTo?: string; threadRoot?: string; html?: string; mentions?: string[]; echo?: string } = {},
  ): Promise<string> {
    if (typeof body !== 'string' || body.length === 0) throw invalidParam('a message needs a non-empty body');
    const room = this.joinedRoom(userId, roomId);
    const threadLatest = opts.threadRoot ? this.latestInThread(room, opts.threadRoot) : undefined;
    const draft = textMessage(room.rules.contentFormat, body, {
      ...(opts.replyTo ? { replyTo: opts.replyTo } : {}),
      ...(opts.threadRoot ? { threadRoot: opts.threadRoot } : {}),
      ...(threadLatest ? { threadLatest } : {}),
      ...(opts.html ? { html: opts.html } : {}),
    });
    // Who the message mentions (intentional mentions): what decides their notification, not the text.
    if (opts.mentions) draft.content['m.mentions'] = { user_ids: [...new Set(opts.mentions)] };
    const echo = opts.echo;
    let eventId: string | undefined;
    // Named as soon as the event exists, before its write (the timeline can show it from then on).
    const named =
      echo === undefined
        ? undefined
        : async (ev: RoomEvent): Promise<RoomEvent> => {
            eventId = ev.event_id;
            this.unstoredEchoes.set(eventId, echo);
            return ev;
          };
    try {
      return (await this.send(room, { type: draft.type, sender: userId, content: draft.content }, named)).event_id;
    } catch (err) {
      // A held write (a full disk) keeps the event in the room: it stays the echo's until stored.
      if (err instanceof HeldEventError && eventId) {
        const held = eventId;
        void err.stored.then(() => this.unstoredEchoes.delete(held));
        eventId = undefined;
      }
      throw err;
    } finally {
      if (eventId) this.unstoredEchoes.delete(eventId);
    }
  }

  private latestInThread(room: Room, rootId: string): string | undefined {
    let latest: RoomEvent | undefined;
    for (const s of room.events.values()) {
      const rel = (s.pdu.content as { 'm.relates_to'?: { rel_type?: unknown; event_id?: unknown } })['m.relates_to'];
      if (rel?.rel_type === 'm.thread' && rel.event_id === rootId && (!latest || s.pdu.depth > latest.depth)) latest = room.get(s.event_id);
    }
    return latest?.event_id ?? rootId;
  }

  async sendImage(
    userId: string,
    roomId: string,
    image: { url: string; mimetype: string; size: number; width?: number; height?: number; alt: string; name?: string; file?: JsonObject },
  ): Promise<string> {
    const room = this.joinedRoom(userId, roomId);
    const draft = imageMessage(room.rules.contentFormat, image);
    const ev = await this.send(room, { type: draft.type, sender: userId, content: draft.content });
    return ev.event_id;
  }

  /** Per event ID, how many servers have yet to receive it (events delivered everywhere are left out). */
  undelivered(eventIds: readonly string[]): Record<string, number> {
    return this.hs.outbox.pendingFor(eventIds);
  }

  /** Retries delivery to every server still owed an event, now rather than after the backoff. */
  retryDelivery(): void {
    this.hs.outbox.retryAll();
  }

  /** Posts a file already uploaded (`uploadMedia`) as an `m.file` message. */
  async sendFile(userId: string, roomId: string, file: { url: string; mimetype: string; size: number; name: string; file?: JsonObject }): Promise<string> {
    const room = this.joinedRoom(userId, roomId);
    const draft = fileMessage(room.rules.contentFormat, file);
    const ev = await this.send(room, { type: draft.type, sender: userId, content: draft.content });
    return ev.event_id;
  }

  /** Stores a blob on this server; returns its mxc:// URI. */
  uploadMedia(userId: string, bytes: Uint8Array, contentType: string): Promise<string> {
    this.hs.requireLocalUser(userId);
    return uploadMedia(this.hs, bytes, contentType);
  }

  /** A blob by mxc:// URI, from here or from any peer that has it. */
  downloadMedia(uri: string): Promise<Media> {
    return downloadMedia(this.hs, uri);
  }

  /** Replaces the text of `userId`'s message `targetId`; with `html`, the new text is formatted (Markdown rendered, as a new message is). */
  async edit(userId: string, roomId: string, targetId: string, newBody: string, opts: { html?: string } = {}): Promise<string> {
    const room = this.joinedRoom(userId, roomId);
    const target = room.get(targetId);
    if (!target) throw notFound(`event ${targetId} is not in ${roomId}`);
    if (target.sender !== userId) throw forbidden('only the sender of a message can edit it');
    const draft = editMessage(room.rules.contentFormat, targetId, newBody, opts.html ? { html: opts.html } : undefined);
    const ev = await this.send(room, { type: draft.type, sender: userId, content: draft.content });
    return ev.event_id;
  }

  async react(userId: string, roomId: string, targetId: string, key: string): Promise<string> {
    const room = this.joinedRoom(userId, roomId);
    if (!room.get(targetId)) throw notFound(`event ${targetId} is not in ${roomId}`);
    const draft = reaction(targetId, key);
    const ev = await this.send(room, { type: draft.type, sender: userId, content: draft.content });
    return ev.event_id;
  }

  /**
   * Takes back `userId`'s reaction `key` to `targetId`: redacts each of their
   * reaction events with that key (normally one). Returns the redactions' IDs;
   * none when there was nothing to take back.
   */
  async unreact(userId: string, roomId: string, targetId: string, key: string): Promise<string[]> {
    const room = this.joinedRoom(userId, roomId);
    const mine: string[] = [];
    for (const [id, stored] of room.events) {
      if (stored.status !== 'accepted' || stored.redacted_by !== undefined) continue;
      const ev = room.get(id);
      if (!ev || ev.type !== REACTION_TYPE || ev.sender !== userId) continue;
      const rel = relationOf(ev);
      if (rel?.rel_type === 'm.annotation' && rel.event_id === targetId && rel.key === key) mine.push(id);
    }
    const out: string[] = [];
    for (const id of mine) out.push(await this.redact(userId, roomId, id));
    return out;
  }

  async redact(userId: string, roomId: string, targetId: string, reason?: string, alsoWrite?: (eventId: string) => WriteBatch): Promise<string> {
    const room = this.joinedRoom(userId, roomId);
    const target = room.get(targetId);
    if (!target) throw notFound(`event ${targetId} is not in ${roomId}`);
    const state = room.currentState();
    const pl = room.stateEvent('m.room.power_levels', '', state);
    const create = room.stateEvent('m.room.create', '', state);
    if (target.sender !== userId && powerLevelOf(userId, pl, create, room.rules) < namedLevel('redact', pl)) {
      throw forbidden(`${userId} may not redact other people's events (needs power level ${namedLevel('redact', pl)})`);
    }
    const content: JsonObject = { ...(reason ? { reason } : {}) };
    const t: EventTemplate = { type: 'm.room.redaction', sender: userId, content };
    if (room.rules.redactsInContent) content.redacts = targetId;
    else t.redacts = targetId;
    const ev = await this.send(room, t, undefined, alsoWrite);
    return ev.event_id;
  }

  async setTyping(userId: string, roomId: string, typing: boolean): Promise<void> {
    const room = this.joinedRoom(userId, roomId);
    const users = setTyping(this.hs, roomId, userId, typing);
    this.hs.emit({ kind: 'typing', roomId, userIds: users });
    const edu = { edu_type: 'm.typing', content: { room_id: roomId, user_id: userId, typing } };
    const reached = new Set(this.hs.transport.broadcast({ room_id: roomId, origin: this.hs.serverName, edus: [edu] }));
    // Typing is ephemeral: best-effort, never queued. A server the broadcast did not reach gets it
    // directly; one it reached does not get it twice (a stream each way, and at the moment a
    // message sent with the typing change is on its way to the same server: bench/latency.ts).
    for (const server of room.servers) {
      if (reached.has(server) || server === this.hs.serverName) continue;
      void this.hs.transport
        .request(server, {
          kind: 'send',
          txn_id: `typing-${this.hs.clock.now()}-${Math.random().toString(36).slice(2)}`,
          body: { origin: this.hs.serverName, origin_server_ts: this.hs.clock.now(), pdus: [], edus: [edu] },
        })
        .catch(() => undefined);
    }
  }

  async sendReceipt(userId: string, roomId: string, eventId: string): Promise<void> {
    const room = this.joinedRoom(userId, roomId);
    if (!room.get(eventId)) throw notFound(`event ${eventId} is not in ${roomId}`);
    const ts = this.hs.clock.now();
    if (!recordReceipt(this.hs, roomId, userId, eventId, ts)) return;
    const edu = { edu_type: 'm.receipt', content: { [roomId]: { 'm.read': { [userId]: { event_ids: [eventId], data: { ts } } } } } };
    const entries = this.hs.outbox.entriesFor(room.servers, { edu: edu as unknown as JsonObject });
    await this.hs.commit({
      receipts: [{ room_id: roomId, user_id: userId, receipt_type: 'm.read', event_id: eventId, ts }],
      outboxPut: entries,
    });
    this.hs.outbox.added(entries);
    this.hs.emit({ kind: 'receipt', roomId, userId, eventId });
  }

  /**
   * Changes a local user's display name and/or avatar: the account record,
   * then a member event in every room they are joined to (one room refusing,
   * e.g. by power levels, does not undo the change elsewhere; those rooms are
   * returned). An empty display name resets it to the localpart; an empty
   * avatar URL removes the avatar.
   */
  async setProfile(
    userId: string,
    change: { displayname?: string; avatar_url?: string },
  ): Promise<{ failed: { roomId: string; error: string }[] }> {
    const account = this.hs.requireLocalUser(userId);
    const next = { ...account };
    if (change.displayname !== undefined) next.display_name = change.displayname || (userId.slice(1).split(':')[0] ?? userId);
    if (change.avatar_url !== undefined) {
      if (change.avatar_url) next.avatar_url = change.avatar_url;
      else delete next.avatar_url;
    }
    await this.hs.commit({ accounts: [next] });
    this.hs.accounts.set(userId, next);
    const failed: { roomId: string; error: string }[] = [];
    for (const room of [...this.hs.rooms.values()]) {
      if (room.currentGroup < 0 || room.membership(userId) !== 'join') continue;
      const current = room.stateEvent('m.room.member', userId)?.content ?? {};
      const content: JsonObject = { ...current, membership: 'join', displayname: next.display_name };
      if (next.avatar_url) content.avatar_url = next.avatar_url;
      else delete content.avatar_url;
      if (content.displayname === current.displayname && content.avatar_url === current.avatar_url) continue;
      try {
        await this.setState(userId, room.roomId, 'm.room.member', userId, content);
      } catch (err) {
        failed.push({ roomId: room.roomId, error: err instanceof Error ? err.message : String(err) });
      }
    }
    return { failed };
  }

  async setPresence(userId: string, presence: 'online' | 'offline' | 'unavailable', statusMsg?: string): Promise<void> {
    this.hs.requireLocalUser(userId);
    this.hs.ephemeral.presence.set(userId, { presence, lastActiveTs: this.hs.clock.now(), ...(statusMsg ? { statusMsg } : {}) });
    this.hs.emit({ kind: 'presence', userId, presence });
    this.pushPresence(userId);
  }

  /** Sends a local user's current presence to every server they share a room with (best effort). */
  private pushPresence(userId: string): void {
    const current = this.hs.ephemeral.presence.get(userId);
    if (!current) return;
    const { presence, statusMsg } = current;
    const edu = {
      edu_type: 'm.presence',
      content: { push: [{ user_id: userId, presence, last_active_ago: 0, currently_active: presence === 'online', ...(statusMsg ? { status_msg: statusMsg } : {}) }] },
    };
    const servers = new Set<string>();
    for (const room of this.hs.rooms.values()) if (room.membership(userId) === 'join') for (const s of room.servers) servers.add(s);
    for (const server of servers) {
      void this.hs.transport
        .request(server, {
          kind: 'send',
          txn_id: `presence-${this.hs.clock.now()}-${Math.random().toString(36).slice(2)}`,
          body: { origin: this.hs.serverName, origin_server_ts: this.hs.clock.now(), pdus: [], edus: [edu] },
        })
        .catch(() => undefined);
    }
  }

  // ---- read models ----------------------------------------------------------

  /** The rooms a local user is in, invited to or knocking on. */
  async rooms(userId: string): Promise<RoomSummary[]> {
    this.hs.requireLocalUser(userId);
    const out: RoomSummary[] = [];
    for (const room of this.hs.rooms.values()) {
      if (room.currentGroup < 0) continue;
      const membership = room.membership(userId);
      if (membership === 'leave' && !room.members().some((m) => m.userId === userId)) continue;
      out.push(this.summary(room, userId, membership));
    }
    for (const kind of ['invites', 'knocks'] as const) {
      for (const p of await loadPending(this.hs, kind)) {
        if (p.user_id !== userId) continue;
        const joined = this.hs.rooms.get(p.room_id);
        if (joined && joined.currentGroup >= 0 && joined.membership(userId) === 'join') continue;
        const name = p.invite_room_state.find((s) => s.type === 'm.room.name')?.content.name;
        const inviterName = p.invite_room_state.find((s) => s.type === 'm.room.member' && s.state_key === p.sender)?.content.displayname;
        const isDirect = kind === 'invites' && (p.event.content as JsonObject | undefined)?.is_direct === true;
        const who = typeof inviterName === 'string' && inviterName ? inviterName : localpartName(p.sender);
        out.push({
          roomId: p.room_id,
          // A room without a name is named after who asks (never its ID).
          name: typeof name === 'string' && name ? name : kind === 'invites' ? who : 'A room',
          roomVersion: p.room_version,
          membership: kind === 'invites' ? 'invite' : 'knock',
          isDirect,
          ...(isDirect ? { dmUserId: p.sender } : {}),
          memberCount: 0,
          unread: 0,
          inviter: p.sender,
          ...(typeof inviterName === 'string' && inviterName ? { inviterName } : {}),
        });
      }
    }
    return out.sort((a, b) => (b.lastMessage?.ts ?? 0) - (a.lastMessage?.ts ?? 0) || a.name.localeCompare(b.name));
  }

  private summary(room: Room, userId: string, membership: string): RoomSummary {
    const state = room.currentState();
    const content = (type: string) => room.stateEvent(type, '', state)?.content as Record<string, unknown> | undefined;
    const name = content('m.room.name')?.name;
    const topic = content('m.room.topic')?.topic;
    const joinRule = content('m.room.join_rules')?.join_rule;
    const members = room.members(state).filter((m) => m.membership === 'join');
    const candidates = room.topological(
      (s) => s.status === 'accepted' && (isMessageEvent(s.pdu) || s.pdu.type === ENCRYPTED_TYPE) && !s.redacted_by,
    );
    const receipt = this.hs.ephemeral.receipts.get(room.roomId)?.get(userId);
    const readDepth = receipt ? (room.get(receipt.eventId)?.depth ?? 0) : 0;
    // Messages as the timeline shows them (an edit is folded into its message, not one more to
    // read), but only as many as can be unread: those deeper than the read receipt are the last
    // ones (timeline order is by depth), and the room list is read again after every event.
    let deeper = 0;
    while (deeper < candidates.length && candidates[candidates.length - 1 - deeper]!.pdu.depth > readDepth) deeper++;
    const { items } = timelineWindow(
      this.windowSource(candidates, (s) => visibleToUser(room, s, userId), (s) => this.input({ event_id: s.event_id, pdu: s.pdu })),
      candidates.length,
      Math.max(1, deeper),
    );
    const messages = items.filter((i) => i.kind === 'message' || i.kind === 'image');
    const last = messages[messages.length - 1];
    const nameOf = (u: string) => {
      const dn = room.stateEvent('m.room.member', u, state)?.content.displayname;
      return typeof dn === 'string' && dn ? dn : undefined;
    };
    const unread = messages.filter((i) => i.sender !== userId && (room.get(i.event_id)?.depth ?? 0) > readDepth).length;
    const others = members.filter((m) => m.userId !== userId).map((m) => m.userId);
    // Unnamed rooms are named after the other people in them, invited ones too (a new DM).
    const heroes = others.length ? others : room.members(state).filter((m) => m.membership === 'invite' && m.userId !== userId).map((m) => m.userId);
    const isDirect = room.meta.is_direct === true;
    const mine = room.stateEvent('m.room.member', userId, state);
    let removedBy: RoomSummary['removedBy'];
    if (mine && (membership === 'leave' || membership === 'ban') && mine.sender !== userId) {
      const by = room.stateEvent('m.room.member', mine.sender, state)?.content.displayname;
      const reason = mine.content.reason;
      removedBy = {
        userId: mine.sender,
        eventId: mine.event_id,
        ...(typeof by === 'string' && by ? { displayName: by } : {}),
        ...(typeof reason === 'string' && reason ? { reason } : {}),
      };
    }
    const tomb = tombstoneOf(room);
    const predecessor = predecessorOf(room);
    return {
      roomId: room.roomId,
      name: typeof name === 'string' && name ? name : heroes.length ? heroes.map((u) => nameOf(u) ?? localpartName(u)).join(', ') : 'Empty room',
      ...(typeof topic === 'string' ? { topic } : {}),
      roomVersion: room.rules.id,
      membership,
      isDirect,
      ...(isEncryptedRoom(room) ? { encrypted: true } : {}),
      ...(isDirect && heroes.length === 1 ? { dmUserId: heroes[0] } : {}),
      ...(typeof joinRule === 'string' ? { joinRule } : {}),
      memberCount: members.length,
      unread,
      ...(last ? { lastMessage: this.preview(last, nameOf(last.sender)) } : {}),
      ...(removedBy ? { removedBy } : {}),
      ...(tomb ? { replacement: { roomId: tomb.replacementRoom, via: this.upgradeVia(room, tomb.sender) } } : {}),
      ...(predecessor ? { predecessor: predecessor.roomId } : {}),
    };
  }

  private preview(item: TimelineItem, senderName: string | undefined): NonNullable<RoomSummary['lastMessage']> {
    return {
      sender: item.sender,
      ...(senderName ? { senderName } : {}),
      body: item.body ?? (item.kind === 'image' ? 'sent an image' : ''),
      ...(item.formatted_body && item.format === 'org.matrix.custom.html' ? { formattedBody: item.formatted_body } : {}),
      ts: item.ts,
    };
  }

  /**
   * The timeline as the user sees it: accepted events in causal order, aggregated, only those
   * history visibility lets this user see (nothing after their leave or ban but that event).
   */
  timeline(userId: string, roomId: string, opts: { limit?: number; before?: string } = {}): { items: TimelineItem[]; hasMore: boolean } {
    this.hs.requireLocalUser(userId);
    const room = this.hs.requireRoom(roomId);
    // Visibility is checked only for what the window reads (timeline-window.ts): the app reads
    // the timeline after every event, and a read of the whole history grew with the room.
    const events = room.topological((s) => s.status === 'accepted');
    const visible = (s: StoredEvent) => visibleToUser(room, s, userId);
    let end = events.length;
    if (opts.before) {
      const i = events.findIndex((s) => s.event_id === opts.before);
      if (i >= 0 && visible(events[i]!)) end = i;
    }
    const { items: window, hasMore } = timelineWindow(
      this.windowSource(events, visible, (s) => this.input(s)),
      end,
      opts.limit ?? 50,
    );
    const shown =
      this.unstoredEchoes.size === 0
        ? window
        : window.map((i) => {
            const echo = this.unstoredEchoes.get(i.event_id);
            return echo === undefined ? i : { ...i, echo };
          });
    return { items: shown, hasMore };
  }

  /** Bodies of the message events the user sees, in timeline order (for tools and checks). */
  messageBodies(userId: string, roomId: string): string[] {
    return this.timeline(userId, roomId, { limit: Number.MAX_SAFE_INTEGER })
      .items.filter((i) => i.kind === 'message' && !i.inThread)
      .map((i) => i.body ?? '');
  }

  /** Current state as {type: {state_key: content}}. */
  state(roomId: string): Record<string, Record<string, JsonObject>> {
    const room = this.hs.requireRoom(roomId);
    const out: Record<string, Record<string, JsonObject>> = {};
    for (const [k, id] of room.currentState()) {
      const [type, sk] = splitStateKey(k);
      const ev = room.get(id);
      if (!ev) continue;
      out[type] ??= {};
      out[type][sk] = ev.content;
    }
    return out;
  }

  /** Current state as {type: {state_key: event_id}}: what convergence compares. */
  stateIds(roomId: string): Record<string, Record<string, string>> {
    const room = this.hs.requireRoom(roomId);
    const out: Record<string, Record<string, string>> = {};
    for (const [k, id] of room.currentState()) {
      const [type, sk] = splitStateKey(k);
      out[type] ??= {};
      out[type][sk] = id;
    }
    return out;
  }

  /**
   * The room's creators when they are privileged (room version 12: the create event's sender and
   * `additional_creators`, with infinite power — `members()` gives them `Infinity`); none before v12.
   */
  creators(roomId: string): string[] {
    const room = this.hs.requireRoom(roomId);
    return room.rules.auth.privilegedCreators ? [...creatorsOf(room.stateEvent('m.room.create'), room.rules)] : [];
  }

  /** Members with their power level: `Infinity` for a v12 room's creators (CREATOR_POWER). */
  members(roomId: string): { userId: string; membership: string; displayName?: string; avatarUrl?: string; powerLevel: number }[] {
    const room = this.hs.requireRoom(roomId);
    const state = room.currentState();
    const pl = room.stateEvent('m.room.power_levels', '', state);
    const create = room.stateEvent('m.room.create', '', state);
    return room.members(state).map((m) => {
      const content = room.get(m.eventId)?.content as { displayname?: unknown; avatar_url?: unknown } | undefined;
      const dn = content?.displayname;
      const avatar = content?.avatar_url;
      return {
        userId: m.userId,
        membership: m.membership,
        ...(typeof dn === 'string' ? { displayName: dn } : {}),
        ...(typeof avatar === 'string' && avatar.startsWith('mxc://') ? { avatarUrl: avatar } : {}),
        powerLevel: powerLevelOf(m.userId, pl, create, room.rules),
      };
    });
  }

  /**
   * `userId`'s membership in the room's current state, or with `as`, in the state the local
   * user `as` sees: the current state while joined (or when the room is world_readable), else
   * the state after their own latest membership event (their leave, ban or invite) — nothing
   * later — and none at all if they never had one.
   */
  membership(userId: string, roomId: string, as?: string): string {
    const room = this.hs.rooms.get(roomId);
    if (!room || room.currentGroup < 0) return 'leave';
    return membershipOf(userId, room.lookup(as === undefined ? room.currentState() : this.stateSeenBy(room, as)));
  }

  private stateSeenBy(room: Room, viewer: string): StateMap {
    const current = room.currentState();
    if (room.membership(viewer, current) === 'join' || historyVisibility(room, current) === 'world_readable') return current;
    const own = room.events.get(current.get(stateKey('m.room.member', viewer)) ?? '');
    return own?.state_group === undefined ? new Map() : room.groups.get(own.state_group);
  }

  typing(roomId: string): string[] {
    return typingUsers(this.hs, roomId);
  }

  receipts(roomId: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [u, r] of this.hs.ephemeral.receipts.get(roomId) ?? []) out[u] = r.eventId;
    return out;
  }

  presence(userId: string): string {
    return this.hs.ephemeral.presence.get(userId)?.presence ?? 'offline';
  }

  /** The room's DAG for the event-graph view and the simulator's checker. */
  dag(roomId: string): DagNode[] {
    const room = this.hs.requireRoom(roomId);
    return [...room.events.values()]
      .filter((s) => s.state_group !== undefined)
      .map((s) => ({
        eventId: s.event_id,
        type: s.pdu.type,
        sender: s.pdu.sender,
        ...(typeof s.pdu.state_key === 'string' ? { stateKey: s.pdu.state_key } : {}),
        depth: s.pdu.depth,
        prevEvents: s.pdu.prev_events,
        authEvents: s.pdu.auth_events,
        status: s.status,
        ...(s.reason ? { reason: s.reason } : {}),
        isState: typeof s.pdu.state_key === 'string',
        ts: s.pdu.origin_server_ts,
      }))
      .sort((a, b) => a.depth - b.depth || (a.eventId < b.eventId ? -1 : 1));
  }

  /** One stored event as JSON, with its status (for the event-graph inspector). */
  event(roomId: string, eventId: string): { event: JsonObject; status: string; reason?: string; redactedBy?: string } {
    const room = this.hs.requireRoom(roomId);
    const s = room.events.get(eventId);
    if (!s) throw notFound(`event ${eventId} is not in ${roomId}`);
    return {
      event: { ...(s.pdu as unknown as JsonObject), event_id: eventId },
      status: s.status,
      ...(s.reason ? { reason: s.reason } : {}),
      ...(s.redacted_by ? { redactedBy: s.redacted_by } : {}),
    };
  }

  /** IDs of accepted and soft-failed events: the replicated set convergence compares. */
  acceptedEventIds(roomId: string): string[] {
    return this.hs.requireRoom(roomId).acceptedIds().sort();
  }

  redactionTarget(roomId: string, eventId: string): string | undefined {
    const room = this.hs.requireRoom(roomId);
    const ev = room.get(eventId);
    return ev ? redactsOf(ev, room) : undefined;
  }

  /** Public rooms known to reachable peers (and our own). */
  async publicRooms(): Promise<{ roomId: string; name?: string; topic?: string; members: number; server: string }[]> {
    const out = new Map<string, { roomId: string; name?: string; topic?: string; members: number; server: string }>();
    const ask = [this.hs.serverName, ...this.hs.transport.reachablePeers()];
    for (const server of ask) {
      try {
        const res =
          server === this.hs.serverName
            ? await handleFederationRequest(this.hs, server, { kind: 'publicRooms' })
            : await this.hs.transport.request(server, { kind: 'publicRooms' });
        if (!res.ok || !Array.isArray(res.body.chunk)) continue;
        for (const r of res.body.chunk) {
          if (!isJsonObject(r) || typeof r.room_id !== 'string' || out.has(r.room_id)) continue;
          out.set(r.room_id, {
            roomId: r.room_id,
            ...(typeof r.name === 'string' ? { name: r.name } : {}),
            ...(typeof r.topic === 'string' ? { topic: r.topic } : {}),
            members: typeof r.num_joined_members === 'number' ? r.num_joined_members : 0,
            server,
          });
        }
      } catch {
        // an unreachable peer simply contributes nothing
      }
    }
    return [...out.values()];
  }

  network(): {
    serverName: string;
    peers: string[];
    outbox: Record<string, number>;
    outboxByRoom: Record<string, number>;
    stats: Homeserver['stats'];
  } {
    const roomOf = (eventId: string) => {
      for (const room of this.hs.rooms.values()) if (room.events.has(eventId)) return room.roomId;
      return undefined;
    };
    return {
      serverName: this.hs.serverName,
      peers: this.hs.transport.reachablePeers(),
      outbox: this.hs.outbox.depth(),
      outboxByRoom: this.hs.outbox.depthByRoom(roomOf),
      stats: this.hs.stats,
    };
  }
}

export { MatrixError };

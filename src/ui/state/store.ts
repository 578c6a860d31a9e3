/**
 * The UI's state as signals. Components read these; only the functions in
 * actions.ts write them (from user actions and the worker's live updates).
 */
import { computed, signal } from '@preact/signals';
import type { KnownHomeserver } from './directory.ts';
import type { Member, NetworkStatus, RoomState, RoomSummary, StartResult, TimelineItem } from '../api.ts';

/**
 * `elsewhere`: this profile's homeserver is open in another tab (the tab offers
 * to take it over or start another); `moved`: another tab took this tab's homeserver.
 */
export type Phase = 'starting' | 'onboarding' | 'ready' | 'failed' | 'elsewhere' | 'moved';
export type SidePanel = 'none' | 'members' | 'thread' | 'threads' | 'network';

export const phase = signal<Phase>('starting');
export const fatal = signal<string | null>(null);
export const session = signal<StartResult | null>(null);
/** The other homeservers of this browser profile (see directory.ts), and whether a tab has each open. */
export const otherHomeservers = signal<(KnownHomeserver & { inUse: boolean })[]>([]);
/** In phase `elsewhere`: the homeserver another tab has open. */
export const elsewhere = signal<KnownHomeserver | null>(null);

export const rooms = signal<RoomSummary[]>([]);
export const currentRoomId = signal<string | null>(null);
export const timeline = signal<TimelineItem[]>([]);
export const timelineHasMore = signal(false);
export const timelineLimit = signal(100);
/** The latest backfill report per room (history fetched from a peer after a join, or of a gap). */
export const backfills = signal<Record<string, { fetched: number; done: boolean; error?: string }>>({});
export const members = signal<Member[]>([]);
export const roomState = signal<RoomState>({});
export const typing = signal<string[]>([]);
export const receipts = signal<Record<string, string>>({});
export const presence = signal<Record<string, string>>({});
export const network = signal<NetworkStatus | null>(null);

export const sidePanel = signal<SidePanel>('none');
export const threadRoot = signal<string | null>(null);
export const replyTo = signal<TimelineItem | null>(null);
export const editing = signal<TimelineItem | null>(null);
/** The message being edited in place (its tile is the editor), by event ID; `editing` is the composer's edit (Up). */
export const editingInPlace = signal<string | null>(null);
/** The event whose JSON the "View source" dialog shows. */
export const sourceEvent = signal<string | null>(null);
/** An event a permalink points at: the timeline brings it into view and highlights it. */
export const focusEvent = signal<string | null>(null);
export const dialog = signal<'none' | 'create' | 'invite' | 'settings' | 'join' | 'explore' | 'dm' | 'graph' | 'clients' | 'profile'>('none');
/** The toast: a message, or an error with the raw failure kept in `detail`. */
export const notice = signal<{ text: string; error: boolean; detail?: string } | null>(null);
/** Bumped to bring the newest message into view (e.g. when the person sends one). */
export const jumpToLatest = signal(0);
/** A destructive action waiting for the person to confirm it (with an optional reason). */
export interface Confirmation {
  title: string;
  text: string;
  /** The confirming button's label, e.g. "Kick". */
  action: string;
  run: (reason: string) => Promise<unknown>;
  /** No reason field (the action sends none, e.g. a role change). */
  noReason?: boolean;
}
export const confirmation = signal<Confirmation | null>(null);
/** A user ID from a shared `#/chat/@user:server` link, waiting for one click. */
export const pendingChat = signal<string | null>(null);

export const myUserId = computed(() => session.value?.userId ?? '');
export const currentRoom = computed(() => rooms.value.find((r) => r.roomId === currentRoomId.value) ?? null);
/** My membership of the open room: a string, for the many components that need only that (each tile's actions). */
export const currentMembership = computed(() => currentRoom.value?.membership ?? null);
export const joinedRooms = computed(() => rooms.value.filter((r) => r.membership === 'join' && !r.isDirect));
export const directRooms = computed(() => rooms.value.filter((r) => r.membership === 'join' && r.isDirect));
/** Rooms the person was removed from (kicked or banned) and has not forgotten. */
export const formerRooms = computed(() => rooms.value.filter((r) => (r.membership === 'leave' || r.membership === 'ban') && r.removedBy));
export const invites = computed(() => rooms.value.filter((r) => r.membership === 'invite'));
export const knocks = computed(() => rooms.value.filter((r) => r.membership === 'knock'));

let shownNames = new Map<string, string>();
/**
 * Display names from the current room's member events. The same map while the names are the
 * same: every timeline tile reads it, so a new map re-renders them all (a membership or power
 * level change is not a name change).
 */
export const displayNames = computed(() => {
  const out = new Map<string, string>();
  for (const m of members.value) if (m.displayName) out.set(m.userId, m.displayName);
  const me = session.value;
  if (me?.userId && me.displayName && !out.has(me.userId)) out.set(me.userId, me.displayName);
  if (out.size === shownNames.size && [...out].every(([id, name]) => shownNames.get(id) === name)) return shownNames;
  shownNames = out;
  return out;
});

/** Power levels in the current room: mine and the thresholds the UI needs to decide what to offer. */
export const powers = computed(() => {
  const pl = (roomState.value['m.room.power_levels']?.[''] ?? {}) as Record<string, unknown>;
  const num = (v: unknown, d: number) => (typeof v === 'number' ? v : d);
  const events = (pl.events ?? {}) as Record<string, unknown>;
  const me = members.value.find((m) => m.userId === myUserId.value);
  const state = num(pl.state_default, 50);
  return {
    mine: me?.powerLevel ?? 0,
    invite: num(pl.invite, 0),
    kick: num(pl.kick, 50),
    ban: num(pl.ban, 50),
    redact: num(pl.redact, 50),
    state,
    event: (type: string) => num(events[type], state),
  };
});

/**
 * Everything that changes the UI's state: start-up, loading a room, the
 * worker's live updates and the user's actions. Reloads after updates are
 * coalesced so a burst of events costs one round trip per read model.
 */
import { batch, effect } from '@preact/signals';
import { parseRelayConfig, readRelayConfig } from '../../app/relay-config.ts';
import { installSwBridge } from '../../app/sw-bridge.ts';
import { type TraceMark, latencyTracing, setLatencyTracing, takeLatencyTrace, traceMark, traceNow } from '../../server/latency-trace.ts';
import { type Api, type StartResult, type TimelineItem, type TimelineRead, type Update, connectWorker, errorText, stopWorker, subscribe } from '../api.ts';
import { type PurgeSummary, forgetNotice } from '../durability.ts';
import { humanError } from '../errors.ts';
import { keepIfEqual, keepUnchanged } from './timeline-reuse.ts';
import { composeHtml } from '../markdown.tsx';
import { type KnownHomeserver, forget, readDirectory, remember } from './directory.ts';
import {
  backfills,
  currentRoomId,
  dialog,
  editing,
  elsewhere,
  fatal,
  jumpToLatest,
  members,
  network,
  notice,
  otherHomeservers,
  pendingChat,
  phase,
  presence,
  receipts,
  replyTo,
  roomState,
  rooms,
  session,
  sidePanel,
  threadRoot,
  timeline,
  timelineHasMore,
  timelineLimit,
  typing,
} from './store.ts';

const DB_KEY = 'hearth.dbName';
let api: Api | undefined;

export function service(): Api {
  if (!api) throw new Error('the homeserver worker is not started');
  return api;
}

/** Shows a short message; errors stay until dismissed or replaced (with the raw failure as `detail`). */
export function say(text: string, error = false, detail?: string): void {
  notice.value = { text, error, ...(detail ? { detail } : {}) };
  if (!error) {
    setTimeout(() => {
      if (notice.value?.text === text) notice.value = null;
    }, 4000);
  }
}

/** Runs a user action, reporting failures instead of throwing. Returns whether it succeeded. */
export async function attempt(what: string, fn: () => Promise<unknown>): Promise<boolean> {
  try {
    await fn();
    return true;
  } catch (err) {
    const e = humanError(err);
    say(`${what}. ${e.text}`, true, e.detail);
    return false;
  }
}

// ---- start-up -----------------------------------------------------------------

const RELAYS_KEY = 'hearth.relays';

/**
 * The relay the server that served this page runs (npm start serves
 * /hearth-config.json). When that server is down (the page came from the
 * Service Worker's cache), the last relays it named are tried; the worker
 * reads the config again until it answers (src/app/relay-link.ts).
 */
async function relayAddresses(): Promise<string[]> {
  const relays = await readRelayConfig();
  if (relays) {
    localStorage.setItem(RELAYS_KEY, JSON.stringify(relays));
    return relays;
  }
  try {
    return parseRelayConfig({ relays: JSON.parse(localStorage.getItem(RELAYS_KEY) ?? '[]') });
  } catch {
    return [];
  }
}

const CHANNEL = 'hearth-homeservers';
/** Tabs of this profile tell each other to let a homeserver go (one tab takes over another's). */
const channel: BroadcastChannel | undefined = typeof BroadcastChannel === 'function' ? new BroadcastChannel(CHANNEL) : undefined;
/** How long a tab taking over a homeserver waits for the other tab to let it go. */
const TAKE_OVER_MS = 15_000;

/**
 * Which homeserver this tab opens: the one it had (a reload), else the most
 * recently used one of this profile that no other tab has open; `busy` when
 * the person's homeserver is open in another tab; neither for a new person.
 */
async function chooseHomeserver(a: Api): Promise<{ dbName?: string; busy?: KnownHomeserver }> {
  const listed = await a.listHomeservers();
  const inUse = new Map(listed.map((h) => [h.dbName, h.inUse]));
  const known = readDirectory();
  for (const e of known) if (!inUse.has(e.dbName)) forget(e.dbName); // deleted (or evicted) since
  const wanted = sessionStorage.getItem(DB_KEY) ?? undefined;
  if (wanted && inUse.has(wanted)) {
    if (!inUse.get(wanted)) return { dbName: wanted };
    // A duplicated tab, or a reload racing the old page's worker: wait a moment before calling it busy.
    return { dbName: wanted, busy: known.find((e) => e.dbName === wanted) ?? { dbName: wanted, lastUsed: 0 } };
  }
  const byRecency = readDirectory().sort((x, y) => y.lastUsed - x.lastUsed);
  const free = byRecency.find((e) => !inUse.get(e.dbName));
  if (free) return { dbName: free.dbName };
  // Databases from before this browser kept a directory: the newest-named free one with an account.
  for (const h of listed) {
    if (h.inUse || known.some((e) => e.dbName === h.dbName)) continue;
    const who = await a.describeHomeserver(h.dbName).catch(() => null);
    if (who?.userId) {
      remember({ dbName: h.dbName, ...who });
      return { dbName: h.dbName };
    }
  }
  const busy = byRecency.find((e) => inUse.get(e.dbName) && e.userId);
  return busy ? { busy } : {};
}

export async function boot(): Promise<void> {
  try {
    api = connectWorker();
    const relays = await relayAddresses();
    const choice = await chooseHomeserver(api);
    if (choice.busy && choice.dbName && !(await claimedByAnotherTab(choice.dbName))) {
      // Our own homeserver (this tab had it) and no live tab claims it: the page before a reload is still letting it go.
      const again = await startOn({ dbName: choice.dbName, relays, waitForLockMs: TAKE_OVER_MS }).then(
        () => true,
        () => false,
      );
      if (again) return;
    }
    if (choice.busy) {
      elsewhere.value = choice.busy;
      phase.value = 'elsewhere';
      return;
    }
    await startOn({ ...(choice.dbName ? { dbName: choice.dbName } : {}), relays });
  } catch (err) {
    fatal.value = errorText(err);
    phase.value = 'failed';
  }
}

/** Whether a live tab of this profile answers that it has `dbName` open (a page being unloaded does not answer). */
function claimedByAnotherTab(dbName: string): Promise<boolean> {
  const ch = channel;
  if (!ch) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      ch.removeEventListener('message', onReply);
      resolve(false);
    }, 500);
    const onReply = (e: MessageEvent) => {
      const msg = e.data as { kind?: unknown; dbName?: unknown };
      if (msg?.kind !== 'mine' || msg.dbName !== dbName) return;
      clearTimeout(timer);
      ch.removeEventListener('message', onReply);
      resolve(true);
    };
    ch.addEventListener('message', onReply);
    ch.postMessage({ kind: 'who', dbName });
  });
}

/** Starts the homeserver worker on a database (or a fresh one) and enters the app. */
async function startOn(opts: { dbName?: string; relays: string[]; waitForLockMs?: number }): Promise<void> {
  const hs = service();
  const starting = hs.start(opts);
  // The Service Worker's requests (standard Matrix clients on this origin) go to this tab's homeserver.
  installSwBridge({ handleClientRequest: (req) => hs.handleClientRequest(req) }, starting);
  await started(await starting);
}

async function started(result: StartResult): Promise<void> {
  const hs = service();
  sessionStorage.setItem(DB_KEY, result.dbName);
  rememberSession(result);
  session.value = result;
  void navigator.storage?.persist?.().catch(() => false);
  await subscribe(hs, onUpdate);
  // The open room's 'placed' updates carry its timeline (HomeserverService.watchTimeline).
  shownVersion = 0;
  stopWatching?.();
  stopWatching = effect(() => {
    const roomId = currentRoomId.value;
    const limit = timelineLimit.value;
    void hs.watchTimeline(roomId, limit).catch(() => undefined);
  });
  await startLatencyTrace();
  await refreshOtherHomeservers();
  listenForTakeOver();
  window.addEventListener('pagehide', () => {
    if (session.value && phase.value !== 'moved') rememberSession(session.value);
  });
  readRoute();
  window.addEventListener('hashchange', readRoute);
  if (result.userId) await enterApp();
  else phase.value = 'onboarding';
}

/**
 * The latency benchmark (bench/latency.ts) sets `__hearthLatencyTrace` before the app loads: then the
 * page and its worker record the message path's stages, collected by `__hearthTakeLatencyTrace()`.
 */
async function startLatencyTrace(): Promise<void> {
  const w = globalThis as {
    __hearthLatencyTrace?: boolean;
    __hearthTakeLatencyTrace?: () => Promise<{ page: TraceMark[]; worker: TraceMark[] }>;
    __hearthLinks?: () => Promise<string[]>;
  };
  if (!w.__hearthLatencyTrace) return;
  setLatencyTracing(true);
  await service().setLatencyTracing(true);
  w.__hearthTakeLatencyTrace = async () => ({ page: takeLatencyTrace(), worker: await service().takeLatencyTrace() });
  w.__hearthLinks = async () => (await service().networkStatus()).peers.map((p) => p.link ?? 'unknown');
}

function rememberSession(s: StartResult): void {
  remember({
    dbName: s.dbName,
    serverName: s.serverName,
    ...(s.userId ? { userId: s.userId } : {}),
    ...(s.displayName ? { displayName: s.displayName } : {}),
  });
}

/** The other homeservers of this profile, for the picker. */
export async function refreshOtherHomeservers(): Promise<void> {
  const mine = session.value?.dbName;
  const listed = await service().listHomeservers();
  const known = readDirectory();
  otherHomeservers.value = listed
    .filter((h) => h.dbName !== mine)
    .map((h) => ({ ...(known.find((e) => e.dbName === h.dbName) ?? { dbName: h.dbName, lastUsed: 0 }), inUse: h.inUse }))
    .sort((x, y) => y.lastUsed - x.lastUsed);
}

/** When another tab takes this tab's homeserver over, this tab lets it go (its worker ends, and with it the lock). */
function listenForTakeOver(): void {
  if (!channel) return;
  channel.onmessage = (e: MessageEvent) => {
    const msg = e.data as { kind?: unknown; dbName?: unknown };
    if (!session.value || msg?.dbName !== session.value.dbName || phase.value === 'moved') return;
    if (msg.kind === 'who') {
      channel.postMessage({ kind: 'mine', dbName: msg.dbName });
      return;
    }
    if (msg.kind !== 'release') return;
    stopWorker();
    api = undefined;
    // The Service Worker's requests are no longer this tab's to answer.
    const gone = Promise.reject(new Error('the homeserver moved to another tab'));
    gone.catch(() => undefined);
    installSwBridge({ handleClientRequest: () => gone }, gone);
    sessionStorage.removeItem(DB_KEY);
    phase.value = 'moved';
  };
}

/** "Switch to it": the homeserver open in another tab moves to this tab. */
export async function takeOver(): Promise<void> {
  const target = elsewhere.value;
  if (!target) return;
  phase.value = 'starting';
  try {
    channel?.postMessage({ kind: 'release', dbName: target.dbName });
    await startOn({ dbName: target.dbName, relays: await relayAddresses(), waitForLockMs: TAKE_OVER_MS });
    elsewhere.value = null;
  } catch (err) {
    fatal.value = errorText(err);
    phase.value = 'failed';
  }
}

/** "Start another homeserver here (for demos)": a new, empty homeserver in this tab. */
export async function startAnother(): Promise<void> {
  elsewhere.value = null;
  phase.value = 'starting';
  try {
    sessionStorage.removeItem(DB_KEY);
    await startOn({ relays: await relayAddresses() });
  } catch (err) {
    fatal.value = errorText(err);
    phase.value = 'failed';
  }
}

/** Deletes another (closed) homeserver of this profile for good. */
export async function deleteHomeserver(dbName: string): Promise<boolean> {
  const ok = await attempt('Could not delete the homeserver', () => service().deleteHomeserver(dbName));
  if (ok) {
    forget(dbName);
    await refreshOtherHomeservers();
    say('Homeserver deleted');
  }
  return ok;
}

/** Switches this tab to another (unlocked) homeserver database: reloads the page on it. */
export function openHomeserver(dbName: string): void {
  sessionStorage.setItem(DB_KEY, dbName);
  location.reload();
}

/** Changes the person's display name and/or avatar (in every joined room too). */
export async function saveProfile(change: { displayname?: string; avatar_url?: string }): Promise<boolean> {
  return attempt('Could not change your profile', async () => {
    const next = await service().setProfile(change);
    session.value = next;
    rememberSession(next);
  });
}

/** Stores an image as the person's new avatar and sets it. */
export async function setAvatar(file: File): Promise<boolean> {
  if (!file.type.startsWith('image/')) {
    say('Choose an image file for your avatar', true);
    return false;
  }
  if (file.size > MAX_IMAGE_BYTES) {
    say(`That image is ${mib(file.size)}; an avatar can be at most ${mib(MAX_IMAGE_BYTES)}`, true);
    return false;
  }
  let uri = '';
  const uploaded = await attempt('Could not store the image', async () => {
    uri = await service().uploadMedia(new Uint8Array(await file.arrayBuffer()), file.type);
  });
  return uploaded && saveProfile({ avatar_url: uri });
}

export async function register(username: string, displayName: string): Promise<boolean> {
  const ok = await attempt('Could not create your account', async () => {
    await service().register(username, displayName);
    session.value = await service().whoami();
    rememberSession(session.value);
  });
  if (ok) await enterApp();
  return ok;
}

async function enterApp(): Promise<void> {
  phase.value = 'ready';
  void service()
    .setPresence('online')
    .catch(() => undefined);
  await Promise.all([loadRooms(), loadNetwork()]);
  if (pendingChat.value && openExistingChat(pendingChat.value)) pendingChat.value = null;
  if (currentRoomId.value) await loadRoom();
}

// ---- routing: #/room/<id>, #/chat/<user id> -------------------------------

/** The direct chat already held with `userId`, if any. */
function existingChat(userId: string): string | undefined {
  return rooms.value.find((r) => r.isDirect && r.membership === 'join' && r.dmUserId === userId)?.roomId;
}

/** Opens the direct chat with `userId` when there is one (a chat link then asks nothing). */
function openExistingChat(userId: string): boolean {
  const roomId = existingChat(userId);
  if (roomId) openRoom(roomId);
  return roomId !== undefined;
}

function readRoute(): void {
  const hash = decodeURIComponent(location.hash.slice(1));
  const room = /^\/room\/(!.+)$/.exec(hash);
  const chat = /^\/chat\/(@[^:]+:.+)$/.exec(hash);
  if (room?.[1] && room[1] !== currentRoomId.value) {
    currentRoomId.value = room[1];
    if (phase.value === 'ready') void loadRoom();
  } else if (chat?.[1]) {
    if (phase.value !== 'ready' || !openExistingChat(chat[1])) pendingChat.value = chat[1];
  } else if (!room && currentRoomId.value && hash === '') {
    currentRoomId.value = null;
  }
}

export function openRoom(roomId: string | null): void {
  if (roomId === currentRoomId.value) return;
  batch(() => {
    currentRoomId.value = roomId;
    replyTo.value = null;
    editing.value = null;
    threadRoot.value = null;
    if (sidePanel.value === 'thread') sidePanel.value = 'none';
    timeline.value = [];
    members.value = [];
    roomState.value = {};
    typing.value = [];
    receipts.value = {};
    timelineLimit.value = 100;
  });
  history.replaceState(null, '', roomId ? `#/room/${encodeURIComponent(roomId)}` : '#');
  if (roomId) void loadRoom();
}

// ---- read models -----------------------------------------------------------------

export async function loadRooms(): Promise<void> {
  try {
    rooms.value = await service().rooms();
  } catch {
    // no account yet
  }
}

export async function loadNetwork(): Promise<void> {
  try {
    network.value = await service().networkStatus();
  } catch {
    network.value = null;
  }
}

async function loadTimeline(roomId: string): Promise<void> {
  const askedAt = latencyTracing() ? traceNow() : 0;
  showTimeline(roomId, await service().timeline(roomId, timelineLimit.value), askedAt);
}

/** The latest timeline read shown (its `version`): the worker's counter, restarting with it. */
let shownVersion = 0;

/**
 * Shows a timeline read of `roomId` — asked for, or pushed with a 'placed' update — unless the
 * room is no longer open, it was read for another item count, or a later read is shown already
 * (the two arrive by different message ports, in either order).
 */
function showTimeline(roomId: string, t: TimelineRead, askedAt: number): boolean {
  if (currentRoomId.value !== roomId || t.limit !== timelineLimit.value || t.version <= shownVersion) return false;
  shownVersion = t.version;
  if (askedAt) traceTimeline(t.items, askedAt);
  batch(() => {
    timeline.value = keepUnchanged(t.items, timeline.peek());
    timelineHasMore.value = t.hasMore;
  });
  return true;
}

/** Latency breakdown (bench/latency.ts): when the page asked for, and got, the timeline that first held each event. */
function traceTimeline(items: readonly TimelineItem[], askedAt: number): void {
  const shown = new Set(timeline.peek().map((i) => i.event_id));
  for (const i of items) {
    if (shown.has(i.event_id)) continue;
    traceMark(i.event_id, 'page-timeline-asked', askedAt);
    traceMark(i.event_id, 'page-timeline');
  }
}

async function loadRoomMeta(roomId: string): Promise<void> {
  const [m, s, t, r] = await Promise.all([
    service().members(roomId),
    service().state(roomId),
    service().typing(roomId),
    service().receipts(roomId),
  ]);
  if (currentRoomId.value !== roomId) return;
  batch(() => {
    members.value = keepIfEqual(m, members.peek());
    roomState.value = keepIfEqual(s, roomState.peek());
    typing.value = keepIfEqual(t, typing.peek());
    receipts.value = keepIfEqual(r, receipts.peek());
  });
  // Presence of members not yet known; after that, presence updates keep it current.
  const unknown = m.filter((mm) => mm.membership === 'join' && !(mm.userId in presence.peek()));
  if (unknown.length === 0) return;
  const fetched = await Promise.all(unknown.map(async (mm) => [mm.userId, await service().presence(mm.userId)] as const));
  presence.value = { ...Object.fromEntries(fetched), ...presence.peek() };
}

export async function loadRoom(): Promise<void> {
  const roomId = currentRoomId.value;
  if (!roomId) return;
  const summary = rooms.value.find((r) => r.roomId === roomId);
  // Invites and knocks have no history here yet; after a leave, kick or ban the history the person was allowed to see stays readable.
  if (summary && summary.membership !== 'join' && summary.membership !== 'leave' && summary.membership !== 'ban') return;
  try {
    await Promise.all([loadTimeline(roomId), loadRoomMeta(roomId)]);
    markRead();
  } catch (err) {
    // a room we are invited to but have no DAG for, or not a room at all
    if (!summary) {
      const e = humanError(err);
      say(`Cannot open ${roomId}. ${e.text}`, true, e.detail);
    }
  }
}

let loadingOlder = false;
/** Shows 100 more items of the open room's timeline (read locally: the history is already here). */
export async function loadOlder(): Promise<void> {
  const roomId = currentRoomId.value;
  if (!roomId || !timelineHasMore.value || loadingOlder) return;
  loadingOlder = true;
  try {
    timelineLimit.value += 100;
    await loadTimeline(roomId);
  } catch {
    // the next live update reloads it
  } finally {
    loadingOlder = false;
  }
}

/** Sends a read receipt for the newest event of the open room, if it is not read yet. */
export function markRead(): void {
  const roomId = currentRoomId.value;
  const me = session.value?.userId;
  // The newest event shown, a thread reply included: the receipt covers everything up to it, so the
  // room's unread count clears while it is open (the thread's replies are summarized on their root).
  const last = timeline.value.at(-1);
  if (!roomId || !me || !last || document.visibilityState !== 'visible') return;
  if (rooms.value.find((r) => r.roomId === roomId)?.membership !== 'join') return;
  if (receipts.value[me] === last.event_id) return;
  receipts.value = { ...receipts.value, [me]: last.event_id };
  void service()
    .sendReceipt(roomId, last.event_id)
    .catch(() => undefined);
}

// ---- live updates ------------------------------------------------------------------

const dirty = new Set<'rooms' | 'timeline' | 'meta' | 'network' | 'receipts'>();
let flushTimer: ReturnType<typeof setTimeout> | undefined;
/** Listeners for the event-graph view (it reloads the DAG of its room). */
export const roomEventListeners = new Set<(roomId: string) => void>();

let timelineRead: Promise<void> | undefined;
/** Ends the watch of the open room's timeline set up when the app starts on a homeserver. */
let stopWatching: (() => void) | undefined;
let timelineAgain = false;

/**
 * Reads the open room's timeline again now — not after `mark`'s 30 ms: a new message is what
 * the person waits for, and the read is one worker round trip. Reads never overlap: one asked
 * for while another runs follows it, once, with everything that came meanwhile.
 */
function refreshTimeline(): Promise<void> {
  if (timelineRead) {
    timelineAgain = true;
    return timelineRead;
  }
  const roomId = currentRoomId.value;
  if (!roomId) return Promise.resolve();
  const read = loadTimeline(roomId)
    .then(markRead)
    .catch(() => undefined)
    .finally(() => {
      timelineRead = undefined;
      if (timelineAgain) {
        timelineAgain = false;
        void refreshTimeline();
      }
    });
  timelineRead = read;
  return read;
}

function mark(...what: ('rooms' | 'timeline' | 'meta' | 'network' | 'receipts')[]): void {
  for (const w of what) dirty.add(w);
  if (flushTimer === undefined) flushTimer = setTimeout(flush, 30);
}

async function flush(): Promise<void> {
  flushTimer = undefined;
  const what = new Set(dirty);
  dirty.clear();
  const roomId = currentRoomId.value;
  const jobs: Promise<unknown>[] = [];
  if (what.has('rooms')) jobs.push(loadRooms());
  if (what.has('network')) jobs.push(loadNetwork());
  if (roomId && what.has('timeline')) jobs.push(refreshTimeline());
  if (roomId && what.has('meta')) jobs.push(loadRoomMeta(roomId));
  else if (roomId && what.has('receipts')) {
    jobs.push(
      service()
        .receipts(roomId)
        .then((r) => {
          if (currentRoomId.value === roomId) receipts.value = keepIfEqual(r, receipts.peek());
        }),
    );
  }
  await Promise.allSettled(jobs);
}

function onUpdate(u: Update): void {
  // While the person picks a name, the status line already follows the relay connection.
  if (u.kind === 'network' && phase.value === 'onboarding') mark('network');
  if (phase.value !== 'ready') return;
  const current = currentRoomId.value;
  switch (u.kind) {
    case 'placed':
      // Received and placed, not yet stored: the timeline can show them now; 'event' follows.
      for (const id of u.eventIds) traceMark(id, 'page-update');
      if (u.roomId !== current) break;
      // The worker read the open room's timeline as it placed them (watchTimeline), unless encrypted.
      if (u.timeline && showTimeline(u.roomId, u.timeline, latencyTracing() ? traceNow() : 0)) void markRead();
      else if (!u.timeline) void refreshTimeline();
      break;
    case 'event':
      traceMark(u.eventId, 'page-update');
      if (u.roomId === current) void refreshTimeline();
      // The room list, network panel and members follow together a little later.
      mark('rooms', 'network');
      if (u.roomId === current) mark('meta');
      for (const l of roomEventListeners) l(u.roomId);
      break;
    case 'room':
      mark('rooms');
      if (u.roomId === current) mark('timeline', 'meta');
      break;
    case 'invite':
      mark('rooms');
      break;
    case 'typing':
      if (u.roomId === current) typing.value = keepIfEqual(u.userIds, typing.peek());
      break;
    case 'receipt':
      mark('rooms');
      if (u.roomId === current) mark('receipts');
      break;
    case 'presence':
      if (presence.peek()[u.userId] !== u.presence) presence.value = { ...presence.peek(), [u.userId]: u.presence };
      break;
    case 'network':
      mark('network', 'rooms');
      break;
    case 'backfill':
      backfills.value = {
        ...backfills.value,
        [u.roomId]: { fetched: u.fetched, done: u.done, ...(u.error !== undefined ? { error: u.error } : {}) },
      };
      // The history is placed all at once at the end: show it then.
      if (u.done) {
        mark('rooms');
        if (u.roomId === current) mark('timeline', 'meta');
      }
      break;
  }
}

// ---- user actions -----------------------------------------------------------------

export async function createRoom(opts: {
  name: string;
  topic: string;
  isPublic: boolean;
  roomVersion: string;
  /** End-to-end encryption (private rooms only; the worker's default for them is on). */
  encrypted?: boolean;
}): Promise<boolean> {
  let roomId = '';
  const ok = await attempt('Could not create the room', async () => {
    roomId = await service().createRoom({
      name: opts.name,
      ...(opts.topic ? { topic: opts.topic } : {}),
      preset: opts.isPublic ? 'public_chat' : 'private_chat',
      roomVersion: opts.roomVersion,
      ...(opts.isPublic ? { encrypted: false } : opts.encrypted !== undefined ? { encrypted: opts.encrypted } : {}),
    });
  });
  if (ok) {
    await loadRooms();
    openRoom(roomId);
  }
  return ok;
}

/** Opens the existing DM with `userId` or creates one and invites them. */
export async function startChat(userId: string): Promise<boolean> {
  const me = session.value?.userId;
  if (userId === me) {
    say('That is your own user ID: share it with someone else.', true);
    return false;
  }
  if (openExistingChat(userId)) return true;
  for (const r of rooms.value.filter((x) => x.isDirect && x.membership === 'join')) {
    const m = await service().members(r.roomId);
    if (m.some((x) => x.userId === userId && (x.membership === 'join' || x.membership === 'invite'))) {
      openRoom(r.roomId);
      return true;
    }
  }
  let roomId = '';
  const ok = await attempt(`Could not start a chat with ${userId}`, async () => {
    roomId = await service().createRoom({ isDirect: true, invite: [userId] });
  });
  if (ok) {
    await loadRooms();
    openRoom(roomId);
  }
  return ok;
}

export async function acceptInvite(roomId: string): Promise<void> {
  if (await attempt('Could not join', () => service().join(roomId))) {
    await loadRooms();
    openRoom(roomId);
    await loadRoom();
  }
}

export async function declineInvite(roomId: string): Promise<void> {
  if (await attempt('Could not decline', () => service().leave(roomId))) await loadRooms();
}

export async function leaveRoom(roomId: string, reason?: string): Promise<void> {
  if (await attempt('Could not leave', () => service().leave(roomId, reason || undefined))) {
    openRoom(null);
    await loadRooms();
  }
}

/** Removes a room the person is no longer in from their list (its history goes with it). */
export async function forgetRoom(roomId: string): Promise<void> {
  let freed: PurgeSummary | undefined;
  const forgot = await attempt('Could not forget the room', async () => {
    freed = await service().forget(roomId);
  });
  if (forgot) {
    say(forgetNotice(freed));
    if (currentRoomId.value === roomId) openRoom(null);
    await loadRooms();
  }
}

/** Sends to the open room: the main timeline (with the pending reply, if any) or a thread. */
export async function sendMessage(
  body: string,
  thread?: string,
  html?: string,
  report: { mentions?: string[]; echo?: string; sent?: (eventId: string) => void; failed?: (err: unknown) => void } = {},
): Promise<boolean> {
  const roomId = currentRoomId.value;
  if (!roomId) return false;
  const reply = thread ? undefined : replyTo.value?.event_id;
  // What you send is brought into view, wherever the timeline was scrolled to.
  if (!thread) jumpToLatest.value++;
  const sentAt = latencyTracing() ? traceNow() : 0;
  const ok = await attempt('Could not send', () =>
    service()
      .sendMessage(roomId, body, {
        ...(reply ? { replyTo: reply } : {}),
        ...(thread ? { threadRoot: thread } : {}),
        ...(html !== undefined ? { html } : {}),
        ...(report.mentions?.length ? { mentions: report.mentions } : {}),
        ...(report.echo ? { echo: report.echo } : {}),
      })
      .then((eventId) => {
        if (sentAt) {
          traceMark(eventId, 'page-send', sentAt, body);
          traceMark(eventId, 'page-reply');
        }
        report.sent?.(eventId);
      }, (err: unknown) => {
        report.failed?.(err);
        throw err;
      }),
  );
  if (ok && !thread) replyTo.value = null;
  return ok;
}

/** The worker's media cap (src/server/media.ts MAX_MEDIA_BYTES), checked here first to say so clearly. */
export const MAX_IMAGE_BYTES = 2 * 1024 * 1024;

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** An image's pixel size, when the browser can decode it (not e.g. SVG). */
async function imageSize(file: Blob): Promise<{ width?: number; height?: number }> {
  try {
    const bitmap = await createImageBitmap(file);
    const size = { width: bitmap.width, height: bitmap.height };
    bitmap.close();
    return size;
  } catch {
    return {};
  }
}

/** Uploads an image file to this homeserver and posts it to the open room, its file name as alt text. */
/** With a `caption`, it is the message's body (and alt text) and the file name goes in `filename`. */
export async function sendImage(file: File, caption?: string): Promise<boolean> {
  const roomId = currentRoomId.value;
  if (!roomId) return false;
  const name = file.name || 'image';
  if (!file.type.startsWith('image/')) {
    say(`${name} is not an image: only images can be attached.`, true);
    return false;
  }
  if (file.size > MAX_IMAGE_BYTES) {
    say(`${name} is too large to send (${mib(file.size)}): images can be at most ${mib(MAX_IMAGE_BYTES)}.`, true);
    return false;
  }
  return attempt(`Could not send ${name}`, async () => {
    const [bytes, size] = await Promise.all([file.arrayBuffer().then((b) => new Uint8Array(b)), imageSize(file)]);
    const image = { mimetype: file.type, size: file.size, ...size, alt: caption?.trim() || name, name };
    if (rooms.value.find((r) => r.roomId === roomId)?.encrypted) {
      // An encrypted room: the worker encrypts the file, and only ciphertext is stored and sent.
      const enc = await service().uploadEncryptedMedia(bytes);
      await service().sendImage(roomId, { ...image, url: enc.url, file: { ...enc } });
    } else {
      await service().sendImage(roomId, { ...image, url: await service().uploadMedia(bytes, file.type) });
    }
  });
}

export function openThread(rootId: string): void {
  threadRoot.value = rootId;
  sidePanel.value = 'thread';
}

/** Edits my message: the new text goes through the same Markdown rendering as a new message (`m.new_content` with `formatted_body`). */
export async function editMessage(item: TimelineItem, body: string): Promise<boolean> {
  const roomId = currentRoomId.value;
  if (!roomId) return false;
  const html = composeHtml(body);
  const ok = await attempt('Could not edit', () => service().edit(roomId, item.event_id, body, html));
  if (ok) editing.value = null;
  return ok;
}

export async function react(eventId: string, key: string): Promise<void> {
  const roomId = currentRoomId.value;
  if (roomId) await attempt('Could not react', () => service().react(roomId, eventId, key));
}

export async function unreact(eventId: string, key: string): Promise<void> {
  const roomId = currentRoomId.value;
  if (roomId) await attempt('Could not remove the reaction', () => service().unreact(roomId, eventId, key));
}

export async function redact(eventId: string, reason?: string): Promise<void> {
  const roomId = currentRoomId.value;
  if (roomId) await attempt('Could not delete', () => service().redact(roomId, eventId, reason || undefined));
}

let typingSent = false;
let typingTimer: ReturnType<typeof setTimeout> | undefined;
/** Tells the room we are typing (at most one call per state change; stops after 5 s idle). */
export function setTyping(now: boolean): void {
  const roomId = currentRoomId.value;
  if (!roomId) return;
  clearTimeout(typingTimer);
  if (now) typingTimer = setTimeout(() => setTyping(false), 5000);
  if (now === typingSent) return;
  typingSent = now;
  void service()
    .setTyping(roomId, now)
    .catch(() => undefined);
}

export function closeDialog(): void {
  dialog.value = 'none';
}

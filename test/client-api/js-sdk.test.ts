/**
 * A real client against real servers: matrix-js-sdk (the library Element is
 * built on) talking HTTP to two `hearth serve --client-port` processes that
 * federate over libp2p through a `hearth relay`. Everything goes through the
 * SDK's own methods and its /sync loop; raw fetch only where the SDK has no
 * method (downloading media bytes).
 *
 * The cases run in order and share one conversation (alice on server A, bob
 * on server B); a failure early on makes the later ones fail too.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ClientEvent,
  Direction,
  EventType,
  KnownMembership,
  Preset,
  Visibility,
  MsgType,
  NotificationCountType,
  RelationType,
  type MatrixClient,
  type MatrixEvent,
  type Room,
  RoomEvent,
  RoomMemberEvent,
  SyncState,
  ThreadFilterType,
  createClient,
} from 'matrix-js-sdk';
import type { RoomMessageEventContent } from 'matrix-js-sdk/lib/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HearthProcess, freePort, startHearth as start, stopHearth as stop } from '../helpers/hearth-process.ts';
import { muteConsole, realConsole, sdkLog, waitFor } from '../helpers/js-sdk-console.ts';

const PASSWORD = 'correct horse battery staple';

interface Person {
  client: MatrixClient;
  userId: string;
  token: string;
  deviceId: string;
  /** Every event RoomEvent.Timeline delivered on the live timeline, in order. */
  seen: MatrixEvent[];
}

const clients: MatrixClient[] = [];

function sdkClient(baseUrl: string, auth?: { userId: string; accessToken: string; deviceId: string }): MatrixClient {
  const c = createClient({ baseUrl, timelineSupport: true, ...(auth ?? {}) });
  clients.push(c);
  return c;
}

/** Registers `username` (dummy auth), then logs in with the password: the login's token is the one used. */
async function signUp(baseUrl: string, username: string): Promise<{ userId: string; token: string; deviceId: string }> {
  const anon = sdkClient(baseUrl);
  const reg = await anon.registerRequest({ username, password: PASSWORD, auth: { type: 'm.login.dummy' } });
  expect(reg.user_id).toMatch(new RegExp(`^@${username}:`));
  expect(reg.access_token).toBeTruthy();
  const login = await anon.loginRequest({ type: 'm.login.password', identifier: { type: 'm.id.user', user: username }, password: PASSWORD });
  expect(login.user_id).toBe(reg.user_id);
  expect(login.access_token).not.toBe(reg.access_token);
  return { userId: login.user_id, token: login.access_token, deviceId: login.device_id };
}

/** A client for an account, syncing; resolves once the first sync is PREPARED. */
async function syncing(baseUrl: string, who: { userId: string; token: string; deviceId: string }, initialSyncLimit = 20, lazyLoadMembers = false): Promise<Person> {
  const client = sdkClient(baseUrl, { userId: who.userId, accessToken: who.token, deviceId: who.deviceId });
  const seen: MatrixEvent[] = [];
  client.on(RoomEvent.Timeline, (event, _room, toStartOfTimeline, _removed, data) => {
    if (!toStartOfTimeline && data?.liveEvent !== false) seen.push(event);
  });
  const prepared = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${who.userId}: no PREPARED sync in 20 s (${sdkLog.slice(-5).join(' | ')})`)), 20_000);
    client.on(ClientEvent.Sync, (state) => {
      if (state === SyncState.Prepared) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  // Threads and (for some) lazy-loaded members, as Element runs the SDK.
  await client.startClient({ initialSyncLimit, threadSupport: true, lazyLoadMembers });
  await prepared;
  return { client, ...who, seen };
}

/** The first event `p`'s sync delivered that matches. */
function seenEvent(p: Person, match: (e: MatrixEvent) => boolean): MatrixEvent | undefined {
  return p.seen.find(match);
}

function body(e: MatrixEvent): unknown {
  return e.getContent().body;
}

// ---- the suite -------------------------------------------------------------------

const root = mkdtempSync(join(tmpdir(), 'hearth-js-sdk-'));
const bobData = join(root, 'bob-server');
let relay: HearthProcess;
let serverA: HearthProcess;
let serverB: HearthProcess;
let bobPort: number;
let aliceServer: string;
let bobServer: string;
let urlA: string;
let urlB: string;
let alice: Person;
let bob: Person;
let roomId: string;

async function startBobServer(): Promise<HearthProcess> {
  return start(['serve', '--relay', relay.info.tcp_multiaddr, '--data', bobData, '--client-port', String(bobPort)]);
}

beforeAll(async () => {
  muteConsole();
  relay = await start(['relay', '--port', '0', '--tcp-port', '0', '--key-file', join(root, 'relay.key')]);
  bobPort = await freePort();
  [serverA, serverB] = await Promise.all([start(['serve', '--relay', relay.info.tcp_multiaddr, '--client-port', '0']), startBobServer()]);
  aliceServer = serverA.info.server_name;
  bobServer = serverB.info.server_name;
  urlA = serverA.info.client_url;
  urlB = serverB.info.client_url;
  expect(urlB).toBe(`http://127.0.0.1:${bobPort}`);
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.stopClient();
  await Promise.all([relay, serverA, serverB].filter((p) => p !== undefined).map((p) => stop(p)));
  Object.assign(console, realConsole);
  rmSync(root, { recursive: true, force: true });
}, 30_000);

/** Prints the SDK's warnings and the servers' stderr when a case fails. */
function explain(err: unknown): never {
  const tail = (s: string) => s.split('\n').slice(-15).join('\n');
  throw new Error(
    `${(err as Error)?.stack ?? String(err)}\n--- js-sdk warnings ---\n${sdkLog.slice(-20).join('\n')}\n--- server A stderr ---\n${tail(serverA?.stderr() ?? '')}\n--- server B stderr ---\n${tail(serverB?.stderr() ?? '')}`,
  );
}

function step(name: string, timeout: number, fn: () => Promise<void>): void {
  it(name, { timeout }, () => fn().catch(explain));
}

describe('matrix-js-sdk against two hearth serve processes', () => {
  step('registers (m.login.dummy) and logs in (m.login.password) on each server; the first sync is PREPARED', 30_000, async () => {
    const [a, b] = await Promise.all([signUp(urlA, 'alice'), signUp(urlB, 'bob')]);
    expect(a.userId).toBe(`@alice:${aliceServer}`);
    expect(b.userId).toBe(`@bob:${bobServer}`);
    [alice, bob] = await Promise.all([syncing(urlA, a), syncing(urlB, b)]);
    expect(await alice.client.whoami()).toMatchObject({ user_id: a.userId, device_id: a.deviceId });
    const caps = await bob.client.getCapabilities();
    expect(caps['m.room_versions']?.default).toBe('12');
    expect(await bob.client.isVersionSupported('v1.11')).toBe(true);
  });

  step('alice creates a room (version 12, the default) and invites bob on the other server; bob sees the invite and joins', 40_000, async () => {
    const invited = new Promise<Room>((resolve) => {
      bob.client.on(ClientEvent.Room, (room) => {
        if (room.getMyMembership() === KnownMembership.Invite) resolve(room);
      });
    });
    ({ room_id: roomId } = await alice.client.createRoom({ name: 'Tea', topic: 'Darjeeling' }));
    const aRoom = await waitFor('alice sees the new room in her sync', () => alice.client.getRoom(roomId));
    expect(aRoom.getVersion()).toBe('12');
    await alice.client.invite(roomId, bob.userId);

    const bRoom = await Promise.race([
      invited,
      waitFor('bob invited to the room', () => bob.client.getRoom(roomId)?.getMyMembership() === KnownMembership.Invite && bob.client.getRoom(roomId)),
    ]);
    expect(bRoom.roomId).toBe(roomId);
    expect(bRoom.getMember(bob.userId)?.membership).toBe(KnownMembership.Invite);
    expect(bRoom.name).toBe('Tea'); // from the invite's stripped state

    await bob.client.joinRoom(roomId, { viaServers: [aliceServer] });
    await waitFor('bob joined, in his own sync', () => bob.client.getRoom(roomId)?.getMyMembership() === KnownMembership.Join);
    await waitFor('bob joined, in alice’s sync', () => alice.client.getRoom(roomId)?.getMember(bob.userId)?.membership === KnownMembership.Join);
    const bJoined = bob.client.getRoom(roomId)!;
    expect(bJoined.currentState.getStateEvents(EventType.RoomTopic, '')?.getContent().topic).toBe('Darjeeling');
    expect(bJoined.getVersion()).toBe('12');
  });

  step('messages both ways arrive through sync (RoomEvent.Timeline)', 30_000, async () => {
    const a1 = await alice.client.sendTextMessage(roomId, 'hello bob');
    const seenByBob = await waitFor('bob sees "hello bob"', () => seenEvent(bob, (e) => e.getId() === a1.event_id));
    expect(seenByBob.getSender()).toBe(alice.userId);
    expect(body(seenByBob)).toBe('hello bob');

    const b1 = await bob.client.sendMessage(roomId, { msgtype: MsgType.Text, body: 'hi *alice*', format: 'org.matrix.custom.html', formatted_body: 'hi <em>alice</em>' });
    const seenByAlice = await waitFor('alice sees bob’s reply', () => seenEvent(alice, (e) => e.getId() === b1.event_id));
    expect(seenByAlice.getContent()).toMatchObject({ msgtype: 'm.text', body: 'hi *alice*', formatted_body: 'hi <em>alice</em>' });
    // Bob's own message came back down his sync as a remote echo of the local one.
    await waitFor('bob’s own message confirmed by his sync', () => bob.client.getRoom(roomId)?.findEventById(b1.event_id)?.status === null);
  });

  step('an edit (m.replace), a reaction (m.annotation), a reply (m.in_reply_to) and a redaction reach the other side', 40_000, async () => {
    const orig = await alice.client.sendTextMessage(roomId, 'teh kettle');
    const edit = await alice.client.sendMessage(roomId, {
      msgtype: MsgType.Text,
      body: '* the kettle',
      'm.new_content': { msgtype: MsgType.Text, body: 'the kettle' },
      'm.relates_to': { rel_type: RelationType.Replace, event_id: orig.event_id },
    });
    const reaction = await bob.client.sendEvent(roomId, EventType.Reaction, {
      'm.relates_to': { rel_type: RelationType.Annotation, event_id: orig.event_id, key: '👍' },
    });
    const reply = await bob.client.sendMessage(roomId, {
      msgtype: MsgType.Text,
      body: '> <@alice> the kettle\n\nboiling',
      'm.relates_to': { 'm.in_reply_to': { event_id: orig.event_id } },
    });

    const bEdit = await waitFor('bob sees the edit', () => seenEvent(bob, (e) => e.getId() === edit.event_id));
    expect(bEdit.isRelation('m.replace')).toBe(true);
    expect(bEdit.getRelation()?.event_id).toBe(orig.event_id);
    // The SDK applied it: the original now shows the new content.
    await waitFor('bob’s copy of the original shows the edit', () => bob.client.getRoom(roomId)?.findEventById(orig.event_id)?.replacingEventId() === edit.event_id);
    expect(bob.client.getRoom(roomId)!.findEventById(orig.event_id)!.getContent().body).toBe('the kettle');

    const aReaction = await waitFor('alice sees the reaction', () => seenEvent(alice, (e) => e.getId() === reaction.event_id));
    expect(aReaction.getRelation()).toMatchObject({ rel_type: 'm.annotation', event_id: orig.event_id, key: '👍' });
    const annotations = alice.client.getRoom(roomId)!.relations.getChildEventsForEvent(orig.event_id, 'm.annotation', EventType.Reaction);
    expect(annotations?.getSortedAnnotationsByKey()?.[0]?.[0]).toBe('👍');

    const aReply = await waitFor('alice sees the reply', () => seenEvent(alice, (e) => e.getId() === reply.event_id));
    expect(aReply.replyEventId).toBe(orig.event_id);

    // Alice redacts her original; bob's copy is redacted (content stripped).
    const doomed = await alice.client.sendTextMessage(roomId, 'something regrettable');
    await waitFor('bob sees the message to be redacted', () => seenEvent(bob, (e) => e.getId() === doomed.event_id));
    await alice.client.redactEvent(roomId, doomed.event_id, undefined, { reason: 'oops' });
    await waitFor('bob sees the message redacted', () => bob.client.getRoom(roomId)?.findEventById(doomed.event_id)?.isRedacted());
    const redacted = bob.client.getRoom(roomId)!.findEventById(doomed.event_id)!;
    expect(redacted.getContent()).toEqual({});
    expect(redacted.getUnsigned().redacted_because?.content).toMatchObject({ reason: 'oops' });
  });

  step('threads (m.thread): a reply in a thread reaches the other side as a Thread; the thread list (/threads) has it', 30_000, async () => {
    const root = await alice.client.sendTextMessage(roomId, 'thread root: biscuits?');
    await waitFor('bob sees the thread root', () => seenEvent(bob, (e) => e.getId() === root.event_id));
    const inThread = await bob.client.sendMessage(roomId, root.event_id, {
      msgtype: MsgType.Text,
      body: 'ginger nuts',
      'm.relates_to': { rel_type: RelationType.Thread, event_id: root.event_id },
    });
    const aRoom = alice.client.getRoom(roomId)!;
    const thread = await waitFor('alice has the thread with bob’s reply', () => {
      const t = aRoom.getThread(root.event_id);
      return t?.timeline.some((e) => e.getId() === inThread.event_id) && t;
    });
    expect(thread.rootEvent?.getId()).toBe(root.event_id);
    expect(thread.length).toBeGreaterThanOrEqual(1);
    // The thread list, as Element's thread panel loads it.
    await aRoom.createThreadsTimelineSets();
    await aRoom.fetchRoomThreads();
    const [all, mine] = aRoom.threadsTimelineSets;
    expect(all?.getLiveTimeline().getEvents().map((e) => e.getId())).toContain(root.event_id);
    expect(mine?.getLiveTimeline().getEvents().map((e) => e.getId())).toContain(root.event_id);
    // The list's roots carry the thread's summary (the bundled m.thread aggregation).
    const list = await bob.client.createThreadListMessagesRequest(roomId, null, 10, Direction.Backward, ThreadFilterType.My);
    const summary = list.chunk.find((e) => e.event_id === root.event_id)?.unsigned?.['m.relations']?.['m.thread'];
    expect(summary).toMatchObject({ count: 1, current_user_participated: true, latest_event: { event_id: inThread.event_id } });
  });

  step('read receipts: bob’s receipt shows on alice’s side', 30_000, async () => {
    const m = await alice.client.sendTextMessage(roomId, 'read me');
    const ev = await waitFor('bob sees "read me"', () => seenEvent(bob, (e) => e.getId() === m.event_id));
    await bob.client.sendReadReceipt(ev);
    const aRoom = alice.client.getRoom(roomId)!;
    await waitFor('alice sees bob’s read receipt', () => aRoom.getUsersReadUpTo(aRoom.findEventById(m.event_id)!).includes(bob.userId));
    const receipts = aRoom.getReceiptsForEvent(aRoom.findEventById(m.event_id)!);
    expect(receipts.some((r) => r.userId === bob.userId && r.type === 'm.read')).toBe(true);
    expect(aRoom.getEventReadUpTo(bob.userId)).toBe(m.event_id);
  });

  step('unread counts: bob’s sync counts alice’s new messages and highlights his mentions; his read receipt clears them', 40_000, async () => {
    const bRoom = bob.client.getRoom(roomId)!;
    const counts = () => [bRoom.getUnreadNotificationCount(NotificationCountType.Total), bRoom.getUnreadNotificationCount(NotificationCountType.Highlight)];
    const reach = (total: number, highlight: number) =>
      waitFor(`bob’s counts at [${total}, ${highlight}]`, () => counts()[0] === total && counts()[1] === highlight, 10_000).catch((err) => {
        throw new Error(`${(err as Error).message}; counts ${JSON.stringify(counts())}`);
      });
    await alice.client.sendTextMessage(roomId, 'one');
    await alice.client.sendTextMessage(roomId, 'two');
    await reach(2, 0);
    await alice.client.sendMessage(roomId, { msgtype: MsgType.Text, body: `bob: kettle's on`, 'm.mentions': { user_ids: [bob.userId] } });
    await reach(3, 1);
    // Without m.mentions, the legacy rule: his display name as a word in the body.
    await alice.client.sendTextMessage(roomId, `more tea, ${bRoom.getMember(bob.userId)!.rawDisplayName}?`);
    await reach(4, 2);
    const last = await alice.client.sendTextMessage(roomId, 'bobbing along'); // not a word match
    await reach(5, 2);
    await bob.client.sendReadReceipt(await waitFor('bob sees the last message', () => bRoom.findEventById(last.event_id)));
    await reach(0, 0);
  });

  step('typing: alice types, bob gets RoomMemberEvent.Typing; then she stops', 30_000, async () => {
    const typing: boolean[] = [];
    bob.client.on(RoomMemberEvent.Typing, (_e, member) => {
      if (member.userId === alice.userId && member.roomId === roomId) typing.push(member.typing);
    });
    await alice.client.sendTyping(roomId, true, 20_000);
    await waitFor('bob sees alice typing', () => typing.includes(true));
    expect(bob.client.getRoom(roomId)!.getMember(alice.userId)!.typing).toBe(true);
    await alice.client.sendTyping(roomId, false, 0);
    await waitFor('bob sees alice stop typing', () => typing.at(-1) === false);
  });

  step('presence: alice sets herself online with a status; bob’s User shows it', 30_000, async () => {
    await alice.client.setPresence({ presence: 'online', status_msg: 'brewing' });
    await waitFor('bob sees alice’s presence', () => {
      const u = bob.client.getUser(alice.userId);
      return u?.presence === 'online' && u.presenceStatusMsg === 'brewing';
    });
    expect(await alice.client.getPresence(alice.userId)).toMatchObject({ presence: 'online', status_msg: 'brewing' });
  });

  step('profile: alice’s new display name reaches bob as a member event', 30_000, async () => {
    await alice.client.setDisplayName('Alice Liddell');
    await waitFor('bob sees alice’s new name', () => bob.client.getRoom(roomId)?.getMember(alice.userId)?.name === 'Alice Liddell');
    const ev = bob.client.getRoom(roomId)!.currentState.getStateEvents(EventType.RoomMember, alice.userId)!;
    expect(ev.getContent()).toMatchObject({ membership: 'join', displayname: 'Alice Liddell' });
    expect(ev.getPrevContent().membership).toBe('join');
    expect((await bob.client.getProfileInfo(alice.userId)).displayname).toBe('Alice Liddell');
  });

  step('avatar: alice uploads one and sets it; bob sees it on her member event and fetches its thumbnail through his server', 30_000, async () => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4]);
    const { content_uri: mxc } = await alice.client.uploadContent(Buffer.from(png), { name: 'me.png', type: 'image/png' });
    await alice.client.setAvatarUrl(mxc);
    await waitFor('bob sees alice’s avatar', () => bob.client.getRoom(roomId)?.getMember(alice.userId)?.getMxcAvatarUrl() === mxc);
    const thumb = bob.client.mxcUrlToHttp(mxc, 32, 32, 'crop', false, true, true)!;
    expect(thumb.startsWith(`${urlB}/_matrix/client/v1/media/thumbnail/`)).toBe(true);
    const res = await fetch(thumb, { headers: { authorization: `Bearer ${bob.token}` } });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(png);
  });

  // `as never`: js-sdk types account data by known event types only.
  step('account data: a global setting and per-room data (a float, as Element writes) come back through alice’s sync', 20_000, async () => {
    await alice.client.setAccountData('im.vector.setting.breadcrumbs' as never, { recent_rooms: [roomId] } as never);
    await waitFor('alice’s global account data', () => alice.client.getAccountData('im.vector.setting.breadcrumbs' as never)?.getContent().recent_rooms?.[0] === roomId);
    await alice.client.setRoomAccountData(roomId, 'org.example.order' as never, { order: 0.5 } as never);
    await waitFor('alice’s room account data', () => alice.client.getRoom(roomId)?.getAccountData('org.example.order' as never)?.getContent().order === 0.5);
  });

  step('room tags: setRoomTag / deleteRoomTag show in room.tags through sync (m.tag room account data)', 20_000, async () => {
    await alice.client.setRoomTag(roomId, 'm.favourite', { order: 0.5 });
    await waitFor('the favourite tag in alice’s sync', () => alice.client.getRoom(roomId)?.tags['m.favourite']?.order === 0.5);
    const got = await alice.client.getRoomTags(roomId);
    expect(got.tags).toEqual({ 'm.favourite': { order: 0.5 } });
    await alice.client.deleteRoomTag(roomId, 'm.favourite');
    await waitFor('the tag gone from alice’s sync', () => alice.client.getRoom(roomId)?.tags['m.favourite'] === undefined);
  });

  step('room state: a new name, topic and power level set by alice reach bob', 30_000, async () => {
    const bRoom = () => bob.client.getRoom(roomId)!;
    await alice.client.setRoomName(roomId, 'Tea & Biscuits');
    await alice.client.setRoomTopic(roomId, 'Assam');
    await waitFor('bob sees the new name', () => bRoom().name === 'Tea & Biscuits');
    await waitFor('bob sees the new topic', () => bRoom().currentState.getStateEvents(EventType.RoomTopic, '')?.getContent().topic === 'Assam');
    // setPowerLevel reads the current m.room.power_levels (GET /state) and writes it back changed.
    await alice.client.setPowerLevel(roomId, bob.userId, 50);
    await waitFor('bob sees his power level', () => bRoom().getMember(bob.userId)?.powerLevel === 50);
    // A version 12 room: the SDK, too, gives its creator infinite power (not listed in the power levels).
    expect(bRoom().getMember(alice.userId)?.powerLevel).toBe(Number.POSITIVE_INFINITY);
    expect(bRoom().currentState.getStateEvents(EventType.RoomPowerLevels, '')?.getContent().users?.[alice.userId]).toBeUndefined();
    expect(bRoom().currentState.maySendStateEvent(EventType.RoomName, bob.userId)).toBe(true);
  });

  step('a retried transaction ID answers the same event', 20_000, async () => {
    const content: RoomMessageEventContent = { msgtype: MsgType.Text, body: 'only once' };
    const first = await alice.client.sendEvent(roomId, EventType.RoomMessage, content, 'hearth-txn-1');
    // The SDK refuses to reuse a transaction ID while its event is pending: retry once alice's sync confirmed it.
    await waitFor('alice’s own message confirmed by her sync', () => alice.client.getRoom(roomId)?.findEventById(first.event_id)?.status === null);
    const again = await alice.client.sendEvent(roomId, EventType.RoomMessage, content, 'hearth-txn-1');
    expect(again.event_id).toBe(first.event_id);
    await waitFor('bob sees "only once"', () => seenEvent(bob, (e) => e.getId() === first.event_id));
    const marker = await alice.client.sendTextMessage(roomId, 'after only once');
    await waitFor('bob sees the marker', () => seenEvent(bob, (e) => e.getId() === marker.event_id));
    expect(bob.seen.filter((e) => body(e) === 'only once')).toHaveLength(1);
  });

  step('history: scrollback and /messages page backwards; /context opens a timeline around an old event', 60_000, async () => {
    const ids: string[] = [];
    for (let i = 0; i < 25; i++) ids.push((await alice.client.sendTextMessage(roomId, `history ${i}`)).event_id);
    await waitFor('bob has the last history message', () => seenEvent(bob, (e) => e.getId() === ids[24]));

    // A second device for bob, with a short initial timeline, pages back.
    const second = await bob.client.loginRequest({ type: 'm.login.password', identifier: { type: 'm.id.user', user: 'bob' }, password: PASSWORD });
    const late = await syncing(urlB, { userId: second.user_id, token: second.access_token, deviceId: second.device_id }, 5, true);
    const room = late.client.getRoom(roomId)!;
    // Lazy-loaded members: the sync's timeline senders first, everyone from /members on demand.
    expect(await room.loadMembersIfNeeded()).toBe(true);
    expect(room.getMember(alice.userId)).toMatchObject({ membership: KnownMembership.Join, name: 'Alice Liddell' });
    expect(room.getJoinedMemberCount()).toBe(2);
    const bodies = () => room.getLiveTimeline().getEvents().map(body);
    expect(bodies()).not.toContain('history 0');
    for (let i = 0; i < 10 && !bodies().includes('history 0'); i++) await late.client.scrollback(room, 10);
    const got = bodies().filter((b) => typeof b === 'string' && b.startsWith('history '));
    expect(got).toEqual(Array.from({ length: 25 }, (_, i) => `history ${i}`));

    // The raw /messages request, newest first, and on from its `end`.
    const page1 = await late.client.createMessagesRequest(roomId, null, 5, Direction.Backward);
    expect(page1.chunk.map((e) => e.event_id)).toEqual(ids.slice(20).reverse());
    expect(page1.end).toBeTruthy();
    const page2 = await late.client.createMessagesRequest(roomId, page1.end!, 5, Direction.Backward);
    expect(page2.chunk.map((e) => e.event_id)).toEqual(ids.slice(15, 20).reverse());

    // /context: a timeline around "history 3".
    const tl = await late.client.getEventTimeline(room.getUnfilteredTimelineSet(), ids[3]!);
    expect(tl).toBeTruthy();
    const around = tl!.getEvents().map((e) => e.getId());
    expect(around).toContain(ids[3]);
    expect(around).toContain(ids[2]);
    expect(around).toContain(ids[4]);
    late.client.stopClient();
  });

  step('media: uploaded on alice’s server, downloaded through bob’s (authenticated /_matrix/client/v1/media)', 30_000, async () => {
    const bytes = new TextEncoder().encode('a small text file, carried over libp2p\n');
    const up = await alice.client.uploadContent(Buffer.from(bytes), { name: 'note.txt', type: 'text/plain' });
    expect(up.content_uri).toMatch(new RegExp(`^mxc://${aliceServer}/`));
    await alice.client.sendMessage(roomId, { msgtype: MsgType.File, body: 'note.txt', url: up.content_uri, info: { mimetype: 'text/plain', size: bytes.length } });

    const url = bob.client.mxcUrlToHttp(up.content_uri, undefined, undefined, undefined, false, true, true);
    expect(url).toBeTruthy();
    expect(url!.startsWith(`${urlB}/_matrix/client/v1/media/download/${aliceServer}/`)).toBe(true);
    const res = await waitFor('bob’s server serves alice’s upload', async () => {
      const r = await fetch(url!, { headers: { authorization: `Bearer ${bob.token}` } });
      if (r.status !== 200) throw new Error(`${r.status} ${await r.text()}`);
      return r;
    });
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytes);
    // Without the token, the authenticated endpoint refuses.
    const anon = await fetch(url!);
    expect(anon.status).toBe(401);
  });

  step('directory: alice’s public room is in the public room list of bob’s server; bob joins it without an invite', 30_000, async () => {
    const { room_id: lobby } = await alice.client.createRoom({ name: 'Lobby', visibility: Visibility.Public, preset: Preset.PublicChat, room_alias_name: 'lobby' });
    expect(await alice.client.getRoomIdForAlias(`#lobby:${aliceServer}`)).toMatchObject({ room_id: lobby });
    const listed = await waitFor('the lobby in bob’s server’s public room list', async () =>
      (await bob.client.publicRooms({ limit: 50 })).chunk.find((r) => r.room_id === lobby),
    );
    expect(listed).toMatchObject({ name: 'Lobby', join_rule: 'public', num_joined_members: 1 });
    await bob.client.joinRoom(lobby, { viaServers: [aliceServer] });
    await waitFor('alice sees bob in the lobby', () => alice.client.getRoom(lobby)?.getMember(bob.userId)?.membership === KnownMembership.Join);
  });

  // Not yet: a room listed from another server carries no canonical_alias (the remote summary has name,
  // topic and member count only: {"room_id":…,"name":"Lobby","num_joined_members":1,…,"join_rule":"public"}).
  it.todo('directory: the public room list shows a remote room’s canonical_alias');
  // Not yet: aliases resolve only in the local directory. Bob's GET /_matrix/client/v3/directory/room/%23lobby%3A<alice's server>
  // answers 404 {"errcode":"M_NOT_FOUND","error":"room alias #lobby:… not found"}: there is no federation directory query.
  it.todo('directory: bob resolves #lobby:<alice’s server> through his own server and joins by alias');

  step('bob’s server restarts on the same --data DIR: the conversation continues, messages sent while it was down arrive', 60_000, async () => {
    const before = await bob.client.sendTextMessage(roomId, 'going down');
    await waitFor('alice sees "going down"', () => seenEvent(alice, (e) => e.getId() === before.event_id));
    const t0 = Date.now();
    const laps: string[] = [];
    const lap = (what: string) => laps.push(`${what} ${Date.now() - t0} ms`);
    await stop(serverB);
    lap('stopped');
    const whileDown = await alice.client.sendTextMessage(roomId, 'sent while you were away');
    serverB = await startBobServer();
    lap('restarted');
    expect(serverB.info.server_name).toBe(bobServer);
    expect(serverB.info.client_url).toBe(urlB);
    await waitFor('bob’s client notices its server is down', () => bob.client.getSyncState() === SyncState.Reconnecting || bob.client.getSyncState() === SyncState.Error);
    lap(`client ${bob.client.getSyncState()}`);
    // What a client does when its network comes back (Element on the browser's "online" event).
    bob.client.retryImmediately();
    // Bob's client keeps its token and its sync position and picks up where it left off.
    await waitFor('bob’s client syncing again', () => bob.client.getSyncState() === SyncState.Syncing, 30_000);
    lap('client syncing');
    await waitFor('bob sees the message sent while his server was down', () => seenEvent(bob, (e) => e.getId() === whileDown.event_id), 40_000);
    lap('missed message arrived');
    realConsole.log(`[js-sdk] restart: ${laps.join(', ')}`);
    const after = await bob.client.sendTextMessage(roomId, 'back again');
    await waitFor('alice sees "back again"', () => seenEvent(alice, (e) => e.getId() === after.event_id));
  });

  step('devices and sessions: list, rename, delete with password UIA, change password, log out', 40_000, async () => {
    // carol, so alice's and bob's login rate limits stay untouched.
    const anon = sdkClient(urlA);
    const reg = await anon.registerRequest({ username: 'carol', password: PASSWORD, auth: { type: 'm.login.dummy' }, initial_device_display_name: 'Phone' });
    const carol = sdkClient(urlA, { userId: reg.user_id, accessToken: reg.access_token!, deviceId: reg.device_id! });
    const laptop = await anon.loginRequest({ type: 'm.login.password', identifier: { type: 'm.id.user', user: 'carol' }, password: PASSWORD, device_id: 'LAPTOP', initial_device_display_name: 'Laptop' });
    expect(laptop.device_id).toBe('LAPTOP');
    const { devices } = await carol.getDevices();
    expect(devices.map((d) => [d.device_id, d.display_name]).sort()).toEqual([[reg.device_id, 'Phone'], ['LAPTOP', 'Laptop']].sort());
    await carol.setDeviceDetails('LAPTOP', { display_name: 'Old laptop' });
    expect((await carol.getDevice('LAPTOP')).display_name).toBe('Old laptop');

    // Deleting a device: first a 401 with the UIA flows, then again with the password.
    const challenge = await carol.deleteDevice('LAPTOP').then(
      () => undefined,
      (err) => err,
    );
    expect(challenge?.httpStatus).toBe(401);
    expect(challenge?.data?.flows).toEqual([{ stages: ['m.login.password'] }]);
    await carol.deleteDevice('LAPTOP', { type: 'm.login.password', identifier: { type: 'm.id.user', user: reg.user_id }, password: PASSWORD, session: challenge.data.session });
    const laptopClient = sdkClient(urlA, { userId: reg.user_id, accessToken: laptop.access_token, deviceId: 'LAPTOP' });
    await expect(laptopClient.whoami()).rejects.toMatchObject({ httpStatus: 401, errcode: 'M_UNKNOWN_TOKEN' });

    // A new password (keeping this device); the old one stops working.
    await carol.setPassword({ type: 'm.login.password', identifier: { type: 'm.id.user', user: reg.user_id }, password: PASSWORD }, 'a new kettle', false);
    const tablet = await anon.loginRequest({ type: 'm.login.password', identifier: { type: 'm.id.user', user: 'carol' }, password: 'a new kettle' });
    await expect(anon.loginRequest({ type: 'm.login.password', identifier: { type: 'm.id.user', user: 'carol' }, password: PASSWORD })).rejects.toMatchObject({
      httpStatus: 403,
      errcode: 'M_FORBIDDEN',
    });
    expect(await carol.whoami()).toMatchObject({ user_id: reg.user_id, device_id: reg.device_id });

    // Logging out ends that device's token only.
    const tabletClient = sdkClient(urlA, { userId: reg.user_id, accessToken: tablet.access_token, deviceId: tablet.device_id });
    await tabletClient.logout();
    await expect(sdkClient(urlA, { userId: reg.user_id, accessToken: tablet.access_token, deviceId: tablet.device_id }).whoami()).rejects.toMatchObject({
      errcode: 'M_UNKNOWN_TOKEN',
    });
    expect((await carol.getDevices()).devices.map((d) => d.device_id)).toEqual([reg.device_id]);
  });

  step('leave, kick, ban and unban: the other side’s sync shows each; a forgotten room stays out of sync', 60_000, async () => {
    const aRoom = () => alice.client.getRoom(roomId)!;
    const bRoom = () => bob.client.getRoom(roomId)!;
    await bob.client.leave(roomId);
    await waitFor('alice sees bob leave', () => aRoom().getMember(bob.userId)?.membership === KnownMembership.Leave);
    await waitFor('bob’s sync shows the room left', () => bRoom()?.getMyMembership() === KnownMembership.Leave);

    await alice.client.invite(roomId, bob.userId);
    await waitFor('bob invited again', () => bRoom()?.getMyMembership() === KnownMembership.Invite);
    await bob.client.joinRoom(roomId, { viaServers: [aliceServer] });
    await waitFor('alice sees bob back', () => aRoom().getMember(bob.userId)?.membership === KnownMembership.Join);

    await alice.client.kick(roomId, bob.userId, 'tidying up');
    await waitFor('bob sees himself kicked', () => bRoom()?.getMyMembership() === KnownMembership.Leave);
    const kick = bRoom().currentState.getStateEvents(EventType.RoomMember, bob.userId)!;
    expect(kick.getSender()).toBe(alice.userId);
    expect(kick.getContent()).toMatchObject({ membership: 'leave', reason: 'tidying up' });

    await alice.client.ban(roomId, bob.userId, 'enough');
    await waitFor('bob sees himself banned', () => bRoom()?.getMyMembership() === KnownMembership.Ban);
    expect(aRoom().getMember(bob.userId)?.membership).toBe(KnownMembership.Ban);
    await expect(bob.client.joinRoom(roomId, { viaServers: [aliceServer] })).rejects.toMatchObject({ errcode: 'M_FORBIDDEN' });

    await alice.client.unban(roomId, bob.userId);
    await waitFor('bob sees himself unbanned', () => bRoom()?.getMyMembership() === KnownMembership.Leave);
    await bob.client.forget(roomId, true);
    expect(bob.client.getRoom(roomId)).toBeNull();
    // A forgotten room stays out of a new device's sync.
    const again = await bob.client.loginRequest({ type: 'm.login.password', identifier: { type: 'm.id.user', user: 'bob' }, password: PASSWORD });
    const fresh = await syncing(urlB, { userId: again.user_id, token: again.access_token, deviceId: again.device_id });
    expect(fresh.client.getRoom(roomId)).toBeNull();
    fresh.client.stopClient();
  });
});

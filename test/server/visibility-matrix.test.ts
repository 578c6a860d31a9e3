/**
 * Who may read a room, for every history_visibility setting × the reader's
 * membership (joined, invited, left, banned, never joined): what a *user*
 * sees through the app API (`client.timeline` / `messageBodies`) and what a
 * *server* is served over federation (`event`, `backfill`): full, redacted
 * or refused. Also: a stranger whose only link is a rejected PDU is refused
 * by every read handler, and a server whose users left or were banned gets
 * nothing queued after its leave or ban.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { computeEventId, signEvent } from '../../src/core/hashing.ts';
import type { JsonObject } from '../../src/core/json.ts';
import type { Pdu } from '../../src/core/pdu.ts';
import { SERVER_KEY_ID } from '../../src/core/peer-id.ts';
import { handleFederationRequest } from '../../src/server/federation-server.ts';
import type { FederationRequest, FederationResponse } from '../../src/server/federation/types.ts';
import { buildEvent, choosePrevEvents } from '../../src/server/local-events.ts';
import { Cluster, type ClusterServer } from '../../src/sim/cluster.ts';
import { converge, waitFor } from './engine-helpers.ts';

let cluster: Cluster;
afterEach(() => cluster?.stopAll());

const VISIBILITIES = ['world_readable', 'shared', 'invited', 'joined'] as const;
type Visibility = (typeof VISIBILITIES)[number];
const READERS = ['joined', 'invited', 'left', 'banned', 'never'] as const;
type Reader = (typeof READERS)[number];

/** The three messages: m1 before the reader's membership changes, m_in while joined/invited, m2 after a leave/ban. */
const MESSAGES = ['m1', 'm_in', 'm2'] as const;

/** What each user (all on server b, which a joined keeper keeps in the room) sees of [m1, m_in, m2]. */
const USER_SEES: Record<Visibility, Record<Reader, string[]>> = {
  world_readable: {
    joined: ['m1', 'm_in', 'm2'],
    invited: ['m1', 'm_in', 'm2'],
    left: ['m1', 'm_in', 'm2'],
    banned: ['m1', 'm_in', 'm2'],
    never: ['m1', 'm_in', 'm2'],
  },
  // shared: everything while joined now; otherwise what was sent before the user's last join, or
  // while joined ("the user joined the room at any point after the event was sent")
  shared: { joined: ['m1', 'm_in', 'm2'], invited: [], left: ['m1', 'm_in'], banned: ['m1', 'm_in'], never: [] },
  invited: { joined: ['m_in', 'm2'], invited: ['m_in', 'm2'], left: ['m_in'], banned: ['m_in'], never: [] },
  joined: { joined: ['m_in', 'm2'], invited: [], left: ['m_in'], banned: ['m_in'], never: [] },
};

type Served = 'full' | 'redacted' | 'refused';
const F: Served = 'full';
const R: Served = 'redacted';
const X: Served = 'refused';

/** What a server whose only user has that membership is served of [m1, m_in, m2] (`event` and `backfill`). */
const SERVER_GETS: Record<Visibility, Record<Reader, Served[]>> = {
  world_readable: { joined: [F, F, F], invited: [F, F, F], left: [F, F, F], banned: [X, X, X], never: [X, X, X] },
  // a server with a user joined or invited now reads the shared history
  shared: { joined: [F, F, F], invited: [F, F, F], left: [R, F, R], banned: [X, X, X], never: [X, X, X] },
  invited: { joined: [R, F, F], invited: [R, F, F], left: [R, F, R], banned: [X, X, X], never: [X, X, X] },
  joined: { joined: [R, F, F], invited: [R, R, R], left: [R, F, R], banned: [X, X, X], never: [X, X, X] },
};

interface Scene {
  a: ClusterServer;
  b: ClusterServer;
  alice: string;
  roomId: string;
  ids: Record<(typeof MESSAGES)[number], string>;
  /** Users on b, by reader kind. */
  users: Record<Reader, string>;
  /** Servers with one user each, by reader kind. */
  servers: Record<Reader, ClusterServer>;
  /** Destinations a queued each event for. */
  queued: Map<string, string[]>;
}

/**
 * alice@a creates a public room with the visibility; kim@b (a keeper, so b
 * holds the room) joins; m1; the readers (users on b, and one server each)
 * join / are invited / join and later leave / join and later get banned;
 * m_in; the leaves and bans; m2.
 */
async function scene(visibility: Visibility): Promise<Scene> {
  cluster = new Cluster();
  const a = await cluster.add('a');
  const b = await cluster.add('b');
  const servers = {} as Record<Reader, ClusterServer>;
  for (const r of READERS) servers[r] = await cluster.add(`s-${r}`);
  const alice = await a.hs.register('alice');
  const kim = await b.hs.register('kim');
  const users = {} as Record<Reader, string>;
  for (const r of READERS) users[r] = await b.hs.register(`bob-${r}`);
  const remote = {} as Record<Reader, string>;
  for (const r of READERS) remote[r] = await servers[r].hs.register('carol');
  const queued = new Map<string, string[]>();
  const entriesFor = a.hs.outbox.entriesFor.bind(a.hs.outbox);
  a.hs.outbox.entriesFor = (d, item) => {
    if (item.eventId) queued.set(item.eventId, [...d].sort());
    return entriesFor(d, item);
  };

  const roomId = await a.client.createRoom(alice, { preset: 'public_chat', name: 'Matrix' });
  await a.client.setState(alice, roomId, 'm.room.history_visibility', '', { history_visibility: visibility });
  await b.client.join(kim, roomId, [a.hs.serverName]);
  await converge(cluster, roomId, ['a', 'b']);
  const m1 = await a.client.sendMessage(alice, roomId, 'm1');
  for (const [srv, user] of [
    [b, users],
    [null, remote],
  ] as const) {
    for (const r of ['joined', 'left', 'banned'] as const) {
      const s = srv ?? servers[r];
      await s.client.join(user[r], roomId, [a.hs.serverName]);
      await waitFor(cluster, () => a.client.membership(user[r], roomId) === 'join', `${user[r]} joined on a`);
    }
    await a.client.invite(alice, roomId, user.invited);
  }
  await converge(cluster, roomId, ['a', 'b', 's-joined', 's-left', 's-banned']);
  const mIn = await a.client.sendMessage(alice, roomId, 'm_in');
  await converge(cluster, roomId, ['a', 'b', 's-joined', 's-left', 's-banned']);
  for (const [srv, user] of [
    [b, users],
    [servers.left, remote],
  ] as const) {
    await srv.client.leave(user.left, roomId);
    await waitFor(cluster, () => a.client.membership(user.left, roomId) === 'leave', `${user.left} left on a`);
    await a.client.ban(alice, roomId, user.banned, 'matrix test');
  }
  // The banned server learns of its ban (and so stops following the room's gossip) before m2:
  // gossip already in flight to it cannot be called back.
  await waitFor(cluster, () => servers.banned.client.membership(remote.banned, roomId) === 'ban', 'the banned server to learn of the ban');
  const m2 = await a.client.sendMessage(alice, roomId, 'm2');
  await converge(cluster, roomId, ['a', 'b', 's-joined']);
  return { a, b, alice, roomId, ids: { m1, m_in: mIn, m2 }, users, servers, queued };
}

function served(res: FederationResponse, eventId: string, roomRules: Parameters<typeof computeEventId>[1]): Served | 'absent' {
  if (!res.ok) {
    expect(res.body.errcode).toBe('M_FORBIDDEN');
    return 'refused';
  }
  const pdus = ((res.body.pdus ?? []) as JsonObject[]).filter((p) => computeEventId(p as unknown as Pdu, roomRules) === eventId);
  if (pdus.length === 0) return 'absent';
  // A message's content is all gone in its redacted form.
  return Object.keys(pdus[0]!.content as JsonObject).length > 0 ? 'full' : 'redacted';
}

describe.each(VISIBILITIES)('history_visibility %s', (visibility) => {
  it('users see by their membership; servers are served full, redacted or refused', async () => {
    const s = await scene(visibility);
    const room = s.a.hs.rooms.get(s.roomId)!;
    // Users, through the app API on b (b holds every event: kim is joined).
    for (const r of READERS) {
      expect(s.b.client.messageBodies(s.users[r], s.roomId), `${r} user`).toEqual(USER_SEES[visibility][r]);
    }
    // The app never shows an empty message for an event it may not show.
    for (const r of READERS) {
      const items = s.b.client.timeline(s.users[r], s.roomId, { limit: 1000 }).items;
      expect(items.filter((i) => i.kind === 'message' && !i.body)).toEqual([]);
    }
    // The room list's last message and unread count go by the same rules.
    for (const r of READERS) {
      const summary = (await s.b.client.rooms(s.users[r])).find((x) => x.roomId === s.roomId);
      if (!summary) continue; // never joined nor invited: not in the user's list
      const sees = USER_SEES[visibility][r];
      expect(summary.lastMessage?.body, `${r} user, last message`).toBe(sees[sees.length - 1]);
      expect(summary.unread, `${r} user, unread`).toBe(sees.length);
    }
    // Servers, over federation from a.
    for (const r of READERS) {
      const origin = s.servers[r].hs.serverName;
      const expected = SERVER_GETS[visibility][r];
      const byEvent: Served[] = [];
      for (const m of MESSAGES) {
        const res = await handleFederationRequest(s.a.hs, origin, { kind: 'event', event_id: s.ids[m] });
        byEvent.push(served(res, s.ids[m], room.rules) as Served);
      }
      expect(byEvent, `${r} server, event`).toEqual(expected);
      const page = await handleFederationRequest(s.a.hs, origin, { kind: 'backfill', room_id: s.roomId, v: [s.ids.m2], limit: 1000 });
      expect(
        MESSAGES.map((m) => served(page, s.ids[m], room.rules)),
        `${r} server, backfill`,
      ).toEqual(expected);
    }
    // Fan-out of m2: only servers with a joined user (b, s-joined); the left and banned
    // servers got their leave / ban and nothing after it.
    expect(s.queued.get(s.ids.m2)).toEqual([s.b.hs.serverName, s.servers.joined.hs.serverName].sort());
    for (const r of ['left', 'banned'] as const) {
      const held = s.servers[r].hs.rooms.get(s.roomId);
      expect(held?.events.has(s.ids.m2) ?? false, `${r} server holds m2`).toBe(false);
    }
  });
});

describe('a server whose only link to the room is a rejected PDU', () => {
  it('is refused by state, state_ids, event_auth, backfill, get_missing_events, event and extremities', async () => {
    cluster = new Cluster();
    const a = await cluster.add('a');
    const eve = await cluster.add('eve');
    const alice = await a.hs.register('alice');
    const roomId = await a.client.createRoom(alice, { preset: 'private_chat', name: 'Invite only' });
    const hello = await a.client.sendMessage(alice, roomId, 'secret');
    const room = a.hs.rooms.get(roomId)!;
    // eve's server, never in the room, sends one message built on the room's real DAG.
    const proto = buildEvent(
      a.hs,
      room,
      { type: 'm.room.message', sender: `@eve:${eve.hs.serverName}`, content: { msgtype: 'm.text', body: 'let me read' } },
      choosePrevEvents(room),
      room.currentState(),
    );
    const pdu = signEvent(proto as unknown as JsonObject, room.rules, eve.hs.serverName, SERVER_KEY_ID, eve.hs.identity.seed) as unknown as Pdu;
    const eventId = computeEventId(pdu, room.rules);
    const sent = await handleFederationRequest(a.hs, eve.hs.serverName, {
      kind: 'send',
      txn_id: 't1',
      body: { origin: eve.hs.serverName, origin_server_ts: Date.now(), pdus: [pdu], edus: [] } as never,
    });
    expect(sent.ok).toBe(true);
    expect(room.events.get(eventId)?.status).toBe('rejected');

    const origin = eve.hs.serverName;
    const requests: FederationRequest[] = [
      { kind: 'state', room_id: roomId, event_id: hello },
      { kind: 'state_ids', room_id: roomId, event_id: hello },
      { kind: 'event_auth', room_id: roomId, event_id: hello },
      { kind: 'backfill', room_id: roomId, v: [hello], limit: 10 },
      { kind: 'get_missing_events', room_id: roomId, body: { earliest_events: [], latest_events: [hello], limit: 10 } } as FederationRequest,
      { kind: 'event', event_id: hello },
      { kind: 'event', event_id: eventId },
    ];
    for (const req of requests) {
      const res = await handleFederationRequest(a.hs, origin, req);
      expect({ kind: req.kind, ok: res.ok, errcode: res.body.errcode }).toEqual({ kind: req.kind, ok: false, errcode: 'M_FORBIDDEN' });
    }
    const ext = await handleFederationRequest(a.hs, origin, { kind: 'extremities', room_ids: [roomId] });
    expect(ext.ok && (ext.body.rooms as JsonObject)[roomId]).toBeUndefined();
  });
});

describe('events a server received redacted because it could not see them', () => {
  it('are not shown to its user as empty messages', async () => {
    cluster = new Cluster();
    const a = await cluster.add('a');
    const b = await cluster.add('b');
    const alice = await a.hs.register('alice');
    const bob = await b.hs.register('bob');
    const roomId = await a.client.createRoom(alice, { preset: 'public_chat' });
    await a.client.setState(alice, roomId, 'm.room.history_visibility', '', { history_visibility: 'joined' });
    const before = await a.client.sendMessage(alice, roomId, 'before bob');
    await b.client.join(bob, roomId, [a.hs.serverName]);
    await a.client.sendMessage(alice, roomId, 'after bob');
    await converge(cluster, roomId);
    // b holds the earlier message only in its redacted form (a served it so)
    await waitFor(cluster, () => b.hs.rooms.get(roomId)!.events.get(before)?.state_group !== undefined, 'b to hold the earlier message');
    expect(b.hs.rooms.get(roomId)!.events.get(before)!.pdu.content).toEqual({});
    expect(b.client.messageBodies(bob, roomId)).toEqual(['after bob']);
    const shown = b.client.timeline(bob, roomId).items.map((i) => i.event_id);
    expect(shown).not.toContain(before);
  });
});

describe('a server whose only user is knocking', () => {
  it('may ask, but reads the shared history only redacted until its user is invited', async () => {
    cluster = new Cluster();
    const a = await cluster.add('a');
    const k = await cluster.add('k');
    const alice = await a.hs.register('alice');
    const kay = await k.hs.register('kay');
    const roomId = await a.client.createRoom(alice, { preset: 'private_chat', joinRule: 'knock' });
    const secret = await a.client.sendMessage(alice, roomId, 'members only');
    await k.client.knock(kay, roomId, [a.hs.serverName], 'let me in');
    await waitFor(cluster, () => a.client.membership(kay, roomId) === 'knock', 'a to see the knock');
    const rules = a.hs.rooms.get(roomId)!.rules;
    const read = async () => served(await handleFederationRequest(a.hs, k.hs.serverName, { kind: 'event', event_id: secret }), secret, rules);
    expect(await read()).toBe('redacted');
    await a.client.invite(alice, roomId, kay);
    expect(await read()).toBe('full');
  });
});

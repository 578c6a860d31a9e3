/**
 * Edges of the receipt pipeline and the membership endpoints: duplicates,
 * unfetchable prev_events, events citing rejected auth events, tampered
 * state events, hostile send_join/send_leave, history by backfill, joins
 * through a server other than the room's creator, unreachable invitees.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { computeEventId, signEvent } from '../../src/core/hashing.ts';
import type { JsonObject } from '../../src/core/json.ts';
import type { Pdu } from '../../src/core/pdu.ts';
import { SERVER_KEY_ID } from '../../src/core/peer-id.ts';
import { handleFederationRequest } from '../../src/server/federation-server.ts';
import { type FederationResponse, HISTORY_PENDING } from '../../src/server/federation/types.ts';
import { type EventTemplate, buildEvent, choosePrevEvents } from '../../src/server/local-events.ts';
import { Cluster, type ClusterServer } from '../../src/sim/cluster.ts';
import { addThreeServers, converge, expectRefused, waitFor } from './engine-helpers.ts';

let cluster: Cluster;
afterEach(() => cluster?.stopAll());

interface Pair {
  a: ClusterServer;
  b: ClusterServer;
  alice: string;
  bob: string;
  roomId: string;
}

async function pair(): Promise<Pair> {
  cluster = new Cluster();
  const a = await cluster.add('a');
  const b = await cluster.add('b');
  const alice = await a.hs.register('alice');
  const bob = await b.hs.register('bob');
  const roomId = await a.client.createRoom(alice, { roomVersion: '10', preset: 'public_chat' });
  await b.client.join(bob, roomId);
  await converge(cluster, roomId);
  return { a, b, alice, bob, roomId };
}

/** An event signed by b, built on b's view of the room unless `prevs`/`edit` say otherwise. */
function craft(p: Pair, t: EventTemplate, opts: { prevs?: string[]; edit?: (pdu: JsonObject) => void; resign?: boolean } = {}) {
  const room = p.b.hs.rooms.get(p.roomId)!;
  const proto = buildEvent(p.b.hs, room, t, opts.prevs ?? choosePrevEvents(room), room.currentState()) as unknown as JsonObject;
  if (opts.resign) opts.edit?.(proto);
  const signed = signEvent(proto, room.rules, p.b.hs.serverName, SERVER_KEY_ID, p.b.hs.identity.seed) as unknown as Pdu;
  if (!opts.resign) opts.edit?.(signed as unknown as JsonObject);
  return { pdu: signed, eventId: computeEventId(signed, room.rules) };
}

function send(p: Pair, pdus: unknown[]): Promise<FederationResponse> {
  return handleFederationRequest(p.a.hs, p.b.hs.serverName, {
    kind: 'send',
    txn_id: `t${Math.random()}`,
    body: { origin: p.b.hs.serverName, origin_server_ts: Date.now(), pdus: pdus as Pdu[], edus: [] },
  });
}

function results(res: FederationResponse): Record<string, { error?: string }> {
  expect(res.ok, JSON.stringify(res.body)).toBe(true);
  return (res.body as { pdus: Record<string, { error?: string }> }).pdus;
}

describe('the receipt pipeline', () => {
  it('a duplicate PDU is recognised and changes nothing', async () => {
    const p = await pair();
    const id = await p.b.client.sendMessage(p.bob, p.roomId, 'once');
    await converge(cluster, p.roomId);
    const before = p.a.client.acceptedEventIds(p.roomId);
    const dups = p.a.hs.stats.duplicates;
    const pdu = p.b.client.event(p.roomId, id).event;
    expect(results(await send(p, [pdu]))[id]).toEqual({});
    expect(p.a.hs.stats.duplicates).toBe(dups + 1);
    expect(p.a.client.acceptedEventIds(p.roomId)).toEqual(before);
    expect(p.a.client.messageBodies(p.alice, p.roomId)).toEqual(['once']);
  });

  it('a known event is not verified again: a copy with a forged signature or altered body is acknowledged and ours kept', async () => {
    const p = await pair();
    const id = await p.b.client.sendMessage(p.bob, p.roomId, 'original');
    await converge(cluster, p.roomId);
    const pdu = structuredClone(p.b.client.event(p.roomId, id).event) as unknown as JsonObject;
    delete pdu.event_id;
    const sigs = pdu.signatures as Record<string, Record<string, string>>;
    sigs[p.b.hs.serverName]![SERVER_KEY_ID] = 'A'.repeat(86);
    (pdu.content as JsonObject).body = 'altered';
    const verifier = p.a.hs.identity.verifier;
    let verifications = 0;
    const spy = {
      ...verifier,
      verify: (...args: Parameters<typeof verifier.verify>) => {
        verifications++;
        return verifier.verify(...args);
      },
    };
    (p.a.hs.identity as { verifier: typeof verifier }).verifier = spy;
    try {
      const dups = p.a.hs.stats.duplicates;
      expect(results(await send(p, [pdu]))[id]).toEqual({});
      expect(verifications).toBe(0);
      expect(p.a.hs.stats.duplicates).toBe(dups + 1);
      expect(p.a.client.messageBodies(p.alice, p.roomId)).toEqual(['original']);
    } finally {
      (p.a.hs.identity as { verifier: typeof verifier }).verifier = verifier;
    }
  });

  it('an event whose prev_events nobody can supply is dropped with a reason, and the room is unchanged', async () => {
    const p = await pair();
    const before = p.a.client.acceptedEventIds(p.roomId);
    const ghost = '$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
    const { pdu, eventId } = craft(p, { type: 'm.room.message', sender: p.bob, content: { msgtype: 'm.text', body: 'orphan' } }, { prevs: [ghost] });
    // Answered at once as pending while a asks for the history; sent again once that failed, refused.
    expect(results(await send(p, [pdu]))[eventId]?.error).toMatch(new RegExp(`^${HISTORY_PENDING}`));
    let r = results(await send(p, [pdu]));
    const start = Date.now();
    while (r[eventId]?.error?.startsWith(HISTORY_PENDING)) {
      expect(Date.now() - start, 'the history fetch to end').toBeLessThan(20_000);
      await new Promise((resolve) => setTimeout(resolve, 20));
      r = results(await send(p, [pdu]));
    }
    expect(r[eventId]?.error).toMatch(/missing prev_events .* could not be fetched/);
    expect(p.a.client.acceptedEventIds(p.roomId)).toEqual(before);
    await p.a.client.sendMessage(p.alice, p.roomId, 'fine');
    await converge(cluster, p.roomId);
  });

  it('an event citing a rejected auth event is rejected too', async () => {
    const p = await pair();
    // bob grants himself power: rejected
    const pl = p.a.client.state(p.roomId)['m.room.power_levels']![''] as { users: Record<string, number> };
    const grab = craft(p, { type: 'm.room.power_levels', sender: p.bob, state_key: '', content: { ...pl, users: { ...pl.users, [p.bob]: 100 } } });
    expect(results(await send(p, [grab.pdu]))[grab.eventId]?.error).toBeTruthy();
    expect(p.a.client.event(p.roomId, grab.eventId).status).toBe('rejected');
    // then sets the room name citing that power levels event as his authority
    const rename = craft(
      p,
      { type: 'm.room.name', sender: p.bob, state_key: '', content: { name: 'pwned' } },
      {
        resign: true,
        edit: (ev) => {
          const oldPl = p.a.client.stateIds(p.roomId)['m.room.power_levels']!['']!;
          ev.auth_events = (ev.auth_events as string[]).map((id) => (id === oldPl ? grab.eventId : id));
        },
      },
    );
    const r = results(await send(p, [rename.pdu]));
    expect(r[rename.eventId]?.error).toBeTruthy();
    expect(p.a.client.event(p.roomId, rename.eventId).status).toBe('rejected');
    expect(p.a.client.event(p.roomId, rename.eventId).reason).toMatch(/rejected|auth/);
    expect(p.a.client.state(p.roomId)['m.room.name']).toBeUndefined();
  });

  it('a state event with a wrong content hash is stored redacted, keeping the keys redaction keeps', async () => {
    const p = await pair();
    const pl = p.a.client.state(p.roomId)['m.room.power_levels']![''] as Record<string, unknown>;
    await p.a.client.setState(p.alice, p.roomId, 'm.room.power_levels', '', { ...pl, users: { ...(pl.users as object), [p.bob]: 50 } });
    await converge(cluster, p.roomId);
    const { pdu, eventId } = craft(
      p,
      { type: 'm.room.topic', sender: p.bob, state_key: '', content: { topic: 'honest' } },
      {
        edit: (ev) => {
          (ev.content as JsonObject).topic = 'tampered';
        },
      },
    );
    expect(results(await send(p, [pdu]))[eventId]).toEqual({});
    expect(p.a.client.event(p.roomId, eventId).event.content).toEqual({});
    expect(p.a.client.stateIds(p.roomId)['m.room.topic']?.['']).toBe(eventId);
    expect(p.a.client.state(p.roomId)['m.room.topic']?.['']).toEqual({});
  });
});

describe('hostile membership endpoints', () => {
  it('send_join refuses joins for other servers’ users, wrong memberships and mismatched IDs', async () => {
    const p = await pair();
    const carol = await p.b.hs.register('carol');
    const room = p.b.hs.rooms.get(p.roomId)!;
    const make = (sender: string, membership: string) =>
      craft(p, { type: 'm.room.member', sender, state_key: sender, content: { membership } }, {});
    const ask = (kind: 'send_join' | 'send_leave' | 'send_knock', eventId: string, body: Pdu, origin = p.b.hs.serverName) =>
      handleFederationRequest(p.a.hs, origin, { kind, room_id: p.roomId, event_id: eventId, body });
    // a join for b's user, sent by a third server
    const c = await cluster.add('c');
    const j = make(carol, 'join');
    const viaC = await ask('send_join', j.eventId, j.pdu, c.hs.serverName);
    expect(viaC).toMatchObject({ ok: false, body: { errcode: 'M_FORBIDDEN' } });
    // a knock sent to send_join
    const k = make(carol, 'knock');
    expect(await ask('send_join', k.eventId, k.pdu)).toMatchObject({ ok: false, body: { errcode: 'M_BAD_JSON' } });
    // an event ID that does not match
    expect(await ask('send_join', '$wrong', j.pdu)).toMatchObject({ ok: false, body: { errcode: 'M_BAD_JSON' } });
    // a leave for a user who was never in the room
    const l = make(carol, 'leave');
    const leave = await ask('send_leave', l.eventId, l.pdu);
    expect(leave).toMatchObject({ ok: false, body: { errcode: 'M_FORBIDDEN' } });
    expect(p.a.client.membership(carol, p.roomId)).toBe('leave');
    expect(room.rules.id).toBe('10');
    // the genuine join still works
    expect((await ask('send_join', j.eventId, j.pdu)).ok).toBe(true);
    expect(p.a.client.membership(carol, p.roomId)).toBe('join');
  });

  it('an invite for a user of another server is refused by the invitee server', async () => {
    const p = await pair();
    const room = p.a.hs.rooms.get(p.roomId)!;
    const c = await cluster.add('c');
    const proto = buildEvent(
      p.a.hs,
      room,
      { type: 'm.room.member', sender: p.alice, state_key: `@x:${c.hs.serverName}`, content: { membership: 'invite' } },
      choosePrevEvents(room),
      room.currentState(),
    );
    const signed = signEvent(proto as unknown as JsonObject, room.rules, p.a.hs.serverName, SERVER_KEY_ID, p.a.hs.identity.seed) as unknown as Pdu;
    const eventId = computeEventId(signed, room.rules);
    const res = await handleFederationRequest(p.b.hs, p.a.hs.serverName, {
      kind: 'invite',
      room_id: p.roomId,
      event_id: eventId,
      body: { event: signed, invite_room_state: [], room_version: '10' },
    });
    expect(res).toMatchObject({ ok: false, body: { errcode: 'M_FORBIDDEN' } });
    // and an invite from a server impersonating the inviter's server
    const res2 = await handleFederationRequest(p.b.hs, c.hs.serverName, {
      kind: 'invite',
      room_id: p.roomId,
      event_id: eventId,
      body: { event: signed, invite_room_state: [], room_version: '10' },
    });
    expect(res2.ok).toBe(false);
  });

  it('inviting a user whose server is unreachable fails clearly and stores nothing', async () => {
    const p = await pair();
    const c = await cluster.add('c');
    const carol = await c.hs.register('carol');
    await cluster.crash('c');
    const before = p.a.client.acceptedEventIds(p.roomId);
    await expectRefused(p.a.client.invite(p.alice, p.roomId, carol), 'M_UNAVAILABLE');
    expect(p.a.client.acceptedEventIds(p.roomId)).toEqual(before);
    expect(p.a.client.membership(carol, p.roomId)).toBe('leave');
  });
});

describe('joins and history', () => {
  it('a late joiner gets the whole history by backfill (more than one page)', async () => {
    cluster = new Cluster();
    const a = await cluster.add('a');
    const b = await cluster.add('b');
    const alice = await a.hs.register('alice');
    const bob = await b.hs.register('bob');
    const roomId = await a.client.createRoom(alice, { preset: 'public_chat' });
    const n = 230;
    for (let i = 0; i < n; i++) await a.client.sendMessage(alice, roomId, `h${i}`);
    await b.client.join(bob, roomId, [a.hs.serverName]);
    await waitFor(cluster, () => b.client.messageBodies(bob, roomId).length === n, `b to backfill ${n} messages`, 8000);
    await converge(cluster, roomId);
    expect(b.client.messageBodies(bob, roomId)).toEqual(a.client.messageBodies(alice, roomId));
  });

  it('a third server joins through a member server while the creator is partitioned from it', async () => {
    cluster = new Cluster();
    const { a, b, c, alice, bob, carol } = await addThreeServers(cluster);
    const roomId = await a.client.createRoom(alice, { preset: 'public_chat' });
    await b.client.join(bob, roomId, [a.hs.serverName]);
    await a.client.sendMessage(alice, roomId, 'early');
    await converge(cluster, roomId, ['a', 'b']);
    cluster.net.cut(a.hs.serverName, c.hs.serverName);
    await c.client.join(carol, roomId, [b.hs.serverName]);
    expect(c.client.membership(carol, roomId)).toBe('join');
    await waitFor(cluster, () => a.client.membership(carol, roomId) === 'join', 'a to learn of carol via b');
    await c.client.sendMessage(carol, roomId, 'hi via b');
    await waitFor(cluster, () => b.client.messageBodies(bob, roomId).includes('hi via b'), 'b to get carol’s message');
    await waitFor(cluster, () => c.client.messageBodies(carol, roomId).includes('early'), 'c to backfill');
    cluster.net.healAll();
    await a.client.sendMessage(alice, roomId, 'welcome carol');
    await converge(cluster, roomId);
    expect(a.client.messageBodies(alice, roomId)).toEqual(expect.arrayContaining(['early', 'hi via b', 'welcome carol']));
    // 'hi via b' and 'welcome carol' are concurrent: the timeline order between them is local
    expect(c.client.messageBodies(carol, roomId).sort()).toEqual(a.client.messageBodies(alice, roomId).sort());
  });
});

describe('redactions that arrive before their target', () => {
  async function redactionFirst(restartBetween: boolean) {
    const p = await pair();
    // bob's message and his own redaction of it; the redaction does not descend from the message
    const target = craft(p, { type: 'm.room.message', sender: p.bob, content: { msgtype: 'm.text', body: 'regret' } });
    const redaction = craft(p, { type: 'm.room.redaction', sender: p.bob, content: {}, redacts: target.eventId });
    expect(results(await send(p, [redaction.pdu]))[redaction.eventId]).toEqual({});
    if (restartBetween) {
      await cluster.crash('a');
      p.a = await cluster.restart('a');
    }
    expect(results(await send(p, [target.pdu]))[target.eventId]).toEqual({});
    expect(p.a.client.event(p.roomId, target.eventId).redactedBy).toBe(redaction.eventId);
    expect(p.a.client.messageBodies(p.alice, p.roomId)).not.toContain('regret');
  }

  it('is applied when the target arrives', () => redactionFirst(false));
  it('is applied when the target arrives after a restart', () => redactionFirst(true));
});

describe('restricted joins forged by the joining server', () => {
  it('a join naming an authoriser whose server did not sign it is rejected', async () => {
    const p = await pair();
    const other = await p.a.client.createRoom(p.alice, { roomVersion: '10', preset: 'private_chat' });
    await p.a.client.setState(p.alice, p.roomId, 'm.room.join_rules', '', {
      join_rule: 'restricted',
      allow: [{ type: 'm.room_membership', room_id: other }],
    });
    await converge(cluster, p.roomId);
    const mallory = await p.b.hs.register('mallory');
    const forged = craft(p, {
      type: 'm.room.member',
      sender: mallory,
      state_key: mallory,
      content: { membership: 'join', join_authorised_via_users_server: p.alice },
    });
    const r = results(await send(p, [forged.pdu]));
    expect(r[forged.eventId]?.error).toBeTruthy();
    expect(p.a.client.event(p.roomId, forged.eventId).status).toBe('rejected');
    expect(p.a.client.membership(mallory, p.roomId)).toBe('leave');
    // nor will a countersign it through send_join
    const res = await handleFederationRequest(p.a.hs, p.b.hs.serverName, {
      kind: 'send_join',
      room_id: p.roomId,
      event_id: forged.eventId,
      body: forged.pdu,
    });
    expect(res).toMatchObject({ ok: false, body: { errcode: 'M_FORBIDDEN' } });
    expect(p.a.client.membership(mallory, p.roomId)).toBe('leave');
  });
});

describe('protocol checks on the membership and state endpoints', () => {
  it('make_join for a room version the joining server does not support is refused as incompatible', async () => {
    const p = await pair();
    const res = await handleFederationRequest(p.a.hs, p.b.hs.serverName, {
      kind: 'make_join',
      room_id: p.roomId,
      user_id: `@new:${p.b.hs.serverName}`,
      ver: ['1', '2'],
    });
    expect(res).toMatchObject({ ok: false, body: { errcode: 'M_INCOMPATIBLE_ROOM_VERSION' } });
  });

  it('a second m.room.create is rejected', async () => {
    const p = await pair();
    const before = JSON.stringify(p.a.client.stateIds(p.roomId));
    const second = craft(p, { type: 'm.room.create', sender: p.bob, state_key: '', content: { room_version: '10', creator: p.bob } });
    expect(results(await send(p, [second.pdu]))[second.eventId]?.error).toBeTruthy();
    expect(p.a.client.event(p.roomId, second.eventId).status).toBe('rejected');
    expect(JSON.stringify(p.a.client.stateIds(p.roomId))).toBe(before);
  });
});

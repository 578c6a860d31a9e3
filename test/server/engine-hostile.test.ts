/**
 * Hostile federation input, driven straight at the federation handler
 * (`handleFederationRequest`) or through another server's transport: forged
 * signatures, wrong content hashes (stored redacted, per spec), auth
 * violations (rejected, with a reason), oversize events, an impersonated
 * origin, and garbage bodies. Every answer is a clear error body, never a
 * thrown exception, and afterwards the room is intact and still works.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { keyPairFromSeed } from '../../src/core/ed25519.ts';
import { computeEventId, signEvent } from '../../src/core/hashing.ts';
import type { JsonObject } from '../../src/core/json.ts';
import type { Pdu } from '../../src/core/pdu.ts';
import { SERVER_KEY_ID, peerIdFromPublicKey } from '../../src/core/peer-id.ts';
import { handleFederationRequest } from '../../src/server/federation-server.ts';
import type { FederationRequest, FederationResponse } from '../../src/server/federation/types.ts';
import { type EventTemplate, buildEvent, choosePrevEvents } from '../../src/server/local-events.ts';
import { Cluster, type ClusterServer } from '../../src/sim/cluster.ts';
import { converge } from './engine-helpers.ts';

let cluster: Cluster;
let a: ClusterServer;
let b: ClusterServer;
let alice: string;
let bob: string;
let roomId: string;
let snapshot: { accepted: string[]; state: string };

beforeEach(async () => {
  cluster = new Cluster();
  a = await cluster.add('a');
  b = await cluster.add('b');
  alice = await a.hs.register('alice');
  bob = await b.hs.register('bob');
  // Version 11 pinned: these cases cite v11's rule numbers and the create event among auth events (v12 implies it).
  roomId = await a.client.createRoom(alice, { roomVersion: '11', preset: 'public_chat', name: 'Target' });
  await b.client.join(bob, roomId, [a.hs.serverName]);
  await a.client.sendMessage(alice, roomId, 'hello');
  await converge(cluster, roomId);
  snapshot = take();
});
afterEach(() => cluster?.stopAll());

function take(): { accepted: string[]; state: string } {
  return { accepted: a.client.acceptedEventIds(roomId), state: JSON.stringify(a.client.stateIds(roomId)) };
}

/** An event built on b's view of the room (proper prev/auth events), signed as `serverName` with `seed`. */
function craft(
  t: EventTemplate,
  opts: { seed?: Uint8Array; serverName?: string; edit?: (pdu: JsonObject) => void; beforeSigning?: (pdu: JsonObject) => void } = {},
): { pdu: Pdu; eventId: string } {
  const room = b.hs.rooms.get(roomId)!;
  const proto = buildEvent(b.hs, room, t, choosePrevEvents(room), room.currentState());
  opts.beforeSigning?.(proto as unknown as JsonObject);
  const signed = signEvent(
    proto as unknown as JsonObject,
    room.rules,
    opts.serverName ?? b.hs.serverName,
    SERVER_KEY_ID,
    opts.seed ?? b.hs.identity.seed,
  ) as unknown as Pdu;
  opts.edit?.(signed as unknown as JsonObject);
  return { pdu: signed, eventId: computeEventId(signed, room.rules) };
}

function message(sender: string, body: string): EventTemplate {
  return { type: 'm.room.message', sender, content: { msgtype: 'm.text', body } };
}

function sendTxn(pdus: unknown[], origin = b.hs.serverName, txnOrigin: unknown = origin): Promise<FederationResponse> {
  return handleFederationRequest(a.hs, origin, {
    kind: 'send',
    txn_id: `t${Math.random()}`,
    body: { origin: txnOrigin, origin_server_ts: Date.now(), pdus, edus: [] } as never,
  });
}

function pduResults(res: FederationResponse): Record<string, { error?: string }> {
  expect(res.ok, JSON.stringify(res.body)).toBe(true);
  return (res.body as { pdus: Record<string, { error?: string }> }).pdus;
}

/** The room is as it was (modulo `added` accepted events) and still carries traffic both ways. */
async function expectIntactAndWorking(added: string[] = []): Promise<void> {
  const now = take();
  expect(now.state).toBe(snapshot.state);
  expect(now.accepted).toEqual([...snapshot.accepted, ...added].sort());
  await b.client.sendMessage(bob, roomId, 'still works from b');
  await a.client.sendMessage(alice, roomId, 'still works from a');
  await converge(cluster, roomId, ['a', 'b']);
  expect(a.client.messageBodies(alice, roomId)).toEqual(expect.arrayContaining(['still works from b', 'still works from a']));
}

describe('hostile PDUs', () => {
  it('a forged signature (another key under b’s name) is dropped', async () => {
    const otherSeed = new Uint8Array(32).fill(7);
    expect(peerIdFromPublicKey(keyPairFromSeed(otherSeed).publicKey)).not.toBe(b.hs.serverName);
    const { pdu, eventId } = craft(message(bob, 'forged'), { seed: otherSeed });
    const results = pduResults(await sendTxn([{ ...pdu, event_id: eventId }]));
    expect(results[eventId]?.error).toMatch(/not validly signed by/);
    expect(a.client.dag(roomId).some((n) => n.eventId === eventId)).toBe(false);
    await expectIntactAndWorking();
  });

  it('an event signed by the relaying server for a user of another server is dropped', async () => {
    const c = await cluster.add('c');
    const carol = `@carol:${c.hs.serverName}`;
    const { pdu, eventId } = craft(message(carol, 'I am carol'));
    const results = pduResults(await sendTxn([{ ...pdu, event_id: eventId }]));
    expect(results[eventId]?.error).toMatch(new RegExp(`not validly signed by ${c.hs.serverName}`));
    await expectIntactAndWorking();
  });

  it('a wrong content hash: the event is stored redacted', async () => {
    // The signature covers the redacted form, so it still verifies after tampering with the content.
    const { pdu, eventId } = craft(message(bob, 'original'), {
      edit: (p) => {
        (p.content as JsonObject).body = 'tampered';
      },
    });
    const results = pduResults(await sendTxn([pdu]));
    expect(results[eventId]?.error).toBeUndefined();
    const stored = a.client.event(roomId, eventId);
    expect(stored.status).toBe('accepted');
    expect(stored.event.content).toEqual({});
    expect(a.client.messageBodies(alice, roomId)).not.toContain('tampered');
    expect(a.client.messageBodies(alice, roomId)).not.toContain('original');
    await expectIntactAndWorking([eventId]);
  });

  it('a member event for another user is rejected and recorded with a reason', async () => {
    const victim = await b.hs.register('victim');
    const { pdu, eventId } = craft({ type: 'm.room.member', sender: bob, state_key: victim, content: { membership: 'join' } });
    const results = pduResults(await sendTxn([pdu]));
    expect(results[eventId]?.error).toMatch(/cannot join on behalf of/);
    const stored = a.client.event(roomId, eventId);
    expect(stored.status).toBe('rejected');
    expect(stored.reason).toMatch(/rule 4\.3\.2/);
    expect(a.client.membership(victim, roomId)).toBe('leave');
    await expectIntactAndWorking();
  });

  it('a message from a non-member is rejected and recorded with a reason', async () => {
    const stranger = await b.hs.register('stranger');
    const { pdu, eventId } = craft(message(stranger, 'let me in'));
    const results = pduResults(await sendTxn([pdu]));
    expect(results[eventId]?.error).toMatch(/not joined|not in the room|membership/);
    const stored = a.client.event(roomId, eventId);
    expect(stored.status).toBe('rejected');
    expect(stored.reason).toBeTruthy();
    expect(a.client.messageBodies(alice, roomId)).not.toContain('let me in');
    await expectIntactAndWorking();
  });

  it('a power-level change by a user without the power is rejected', async () => {
    const pl = a.client.state(roomId)['m.room.power_levels']![''] as { users: Record<string, number> };
    const { pdu, eventId } = craft({
      type: 'm.room.power_levels',
      sender: bob,
      state_key: '',
      content: { ...pl, users: { ...pl.users, [bob]: 100 } },
    });
    const results = pduResults(await sendTxn([pdu]));
    expect(results[eventId]?.error).toBeTruthy();
    expect(a.client.event(roomId, eventId).status).toBe('rejected');
    expect(a.client.members(roomId).find((m) => m.userId === bob)?.powerLevel).toBe(0);
    await expectIntactAndWorking();
  });

  it('an oversize event (> 65,536 bytes) is dropped with an error naming the limit', async () => {
    const { pdu, eventId } = craft(message(bob, 'x'.repeat(70_000)));
    const results = pduResults(await sendTxn([{ ...pdu, event_id: eventId }]));
    expect(results[eventId]?.error).toMatch(/65536/);
    expect(a.client.dag(roomId).some((n) => n.eventId === eventId)).toBe(false);
    await expectIntactAndWorking();
  });

  it('an event for another room, or one with missing/wrong-typed fields, is dropped with a reason', async () => {
    const { pdu } = craft(message(bob, 'ok'));
    const variants: [string, unknown, RegExp][] = [
      ['no sender', { ...pdu, sender: undefined }, /sender must be a string/],
      ['depth as a string', { ...pdu, depth: '3' }, /depth must be an integer/],
      ['negative depth', { ...pdu, depth: -1 }, /depth/],
      ['content as an array', { ...pdu, content: [] }, /content must be an object/],
      ['prev_events not an array', { ...pdu, prev_events: 'x' }, /prev_events must be an array/],
      ['a bad event ID in auth_events', { ...pdu, auth_events: ['nope'] }, /invalid event ID/],
      ['signatures as a string', { ...pdu, signatures: 'sig' }, /signatures must be an object/],
    ];
    for (const [what, raw, why] of variants) {
      const results = pduResults(await sendTxn([{ ...(raw as object), event_id: `$${what.replace(/\W/g, '')}` }]));
      const r = Object.values(results)[0];
      expect(r?.error, what).toMatch(why);
    }
    const results = pduResults(await sendTxn([42, null, 'pdu', []]));
    expect(Object.keys(results)).toHaveLength(4);
    for (const r of Object.values(results)) expect(r.error).toBeTruthy();
    await expectIntactAndWorking();
  });
});

describe('hostile transactions and requests', () => {
  it('a transaction whose origin is not the authenticated origin is refused', async () => {
    const { pdu } = craft(message(bob, 'whose?'));
    const res = await sendTxn([pdu], b.hs.serverName, a.hs.serverName);
    expect(res.ok).toBe(false);
    expect(res.body).toMatchObject({ errcode: 'M_FORBIDDEN' });
    expect((res.body as { error: string }).error).toMatch(/claims origin/);
    // the same through b's transport: the network authenticates b, whatever the body says
    const viaTransport = await b.hs.transport.request(a.hs.serverName, {
      kind: 'send',
      txn_id: 'spoof',
      body: { origin: 'someone-else', origin_server_ts: 0, pdus: [pdu], edus: [] },
    });
    expect(viaTransport.ok).toBe(false);
    expect(viaTransport.body).toMatchObject({ errcode: 'M_FORBIDDEN' });
    await expectIntactAndWorking();
  });

  it('garbage requests get clear error bodies, never an exception or an internal error', async () => {
    const garbage: [string, unknown][] = [
      ['null request', null],
      ['a number', 42],
      ['a string', 'send'],
      ['no kind', { body: {} }],
      ['unknown kind', { kind: 'explode' }],
      ['send with a null body', { kind: 'send', txn_id: 'x', body: null }],
      ['send with a string body', { kind: 'send', txn_id: 'x', body: 'txn' }],
      ['send with too many PDUs', { kind: 'send', txn_id: 'x', body: { origin: '@b', pdus: new Array(51).fill({}) } }],
      ['make_join with a numeric room', { kind: 'make_join', room_id: 5, user_id: bob, ver: ['10'] }],
      ['make_join for an unknown room', { kind: 'make_join', room_id: '!nope:x', user_id: bob, ver: ['10'] }],
      ['make_join for another server’s user', { kind: 'make_join', room_id: 'ROOM', user_id: alice, ver: ['10'] }],
      ['make_leave without user', { kind: 'make_leave', room_id: 'ROOM' }],
      ['send_join with no body', { kind: 'send_join', room_id: 'ROOM', event_id: '$x' }],
      ['send_join with a string body', { kind: 'send_join', room_id: 'ROOM', event_id: '$x', body: 'join me' }],
      ['send_knock with an empty body', { kind: 'send_knock', room_id: 'ROOM', event_id: '$x', body: {} }],
      ['send_leave with a numeric event_id', { kind: 'send_leave', room_id: 'ROOM', event_id: 3, body: {} }],
      ['invite without a body', { kind: 'invite', room_id: 'ROOM', event_id: '$x' }],
      ['invite with a bad version', { kind: 'invite', room_id: 'ROOM', event_id: '$x', body: { event: {}, room_version: 99 } }],
      ['invite with a garbage event', { kind: 'invite', room_id: 'ROOM', event_id: '$x', body: { event: { type: 1 }, room_version: '10' } }],
      ['event with a numeric id', { kind: 'event', event_id: 12 }],
      ['event unknown', { kind: 'event', event_id: '$nothing' }],
      ['state with no event', { kind: 'state', room_id: 'ROOM' }],
      ['state_ids with an object event_id', { kind: 'state_ids', room_id: 'ROOM', event_id: {} }],
      ['event_auth with nulls', { kind: 'event_auth', room_id: null, event_id: null }],
      ['backfill with v a string', { kind: 'backfill', room_id: 'ROOM', v: 'x', limit: 'ten' }],
      ['get_missing_events with no body', { kind: 'get_missing_events', room_id: 'ROOM' }],
      ['get_missing_events with latest a string', { kind: 'get_missing_events', room_id: 'ROOM', body: { latest_events: 'x' } }],
      ['extremities with a string', { kind: 'extremities', room_ids: 'ROOM' }],
    ];
    for (const [what, raw] of garbage) {
      const req = JSON.parse(JSON.stringify(raw ?? null).replaceAll('"ROOM"', JSON.stringify(roomId)));
      let res: FederationResponse | undefined;
      let thrown: unknown;
      try {
        res = await handleFederationRequest(a.hs, b.hs.serverName, req as FederationRequest);
      } catch (err) {
        thrown = err;
      }
      expect(thrown, what).toBeUndefined();
      expect(res, what).toBeDefined();
      if (res!.ok) {
        // only read requests may answer "nothing": never by accepting something
        expect(['extremities'], what).toContain((req as { kind: string }).kind);
        continue;
      }
      const body = res!.body as { errcode?: unknown; error?: unknown };
      expect(typeof body.errcode, what).toBe('string');
      expect(typeof body.error, what).toBe('string');
      expect(body.errcode, `${what}: ${String(body.error)}`).not.toBe('M_UNKNOWN');
      expect(res!.status, `${what}: ${String(body.error)}`).toBeLessThan(500);
    }
    await expectIntactAndWorking();
  });

  it('garbage EDUs are ignored and the transaction still succeeds', async () => {
    const res = await handleFederationRequest(a.hs, b.hs.serverName, {
      kind: 'send',
      txn_id: 'edus',
      body: {
        origin: b.hs.serverName,
        origin_server_ts: 0,
        pdus: [],
        edus: [
          null,
          7,
          { edu_type: 'm.typing' },
          { edu_type: 'm.typing', content: { room_id: roomId, user_id: alice, typing: true } },
          { edu_type: 'm.receipt', content: { [roomId]: 'x' } },
          { edu_type: 'm.receipt', content: { [roomId]: { 'm.read': { [alice]: { event_ids: ['$x'] } } } } },
          { edu_type: 'm.presence', content: { push: 'x' } },
          { edu_type: 'm.presence', content: { push: [{ user_id: alice, presence: 'online' }] } },
          { edu_type: 'm.unknown', content: {} },
        ] as never,
      },
    });
    expect(res.ok).toBe(true);
    // b may not speak for alice (a user of a)
    expect(a.client.typing(roomId)).toEqual([]);
    expect(a.client.receipts(roomId)[alice]).toBeUndefined();
    expect(a.client.presence(alice)).toBe('offline');
    await expectIntactAndWorking();
  });
});

describe('auth events and soft failure', () => {
  it('an event without the create event among its auth events is rejected', async () => {
    const createId = a.client.stateIds(roomId)['m.room.create']!['']!;
    const { pdu, eventId } = craft(message(bob, 'no create'), {
      beforeSigning: (p) => {
        p.auth_events = (p.auth_events as string[]).filter((id) => id !== createId);
      },
    });
    expect(pduResults(await sendTxn([pdu]))[eventId]?.error).toBeTruthy();
    expect(a.client.event(roomId, eventId).status).toBe('rejected');
    await expectIntactAndWorking();
  });

  it('an event citing an auth event the selection would not choose is rejected', async () => {
    const hello = a.client.dag(roomId).find((n) => n.type !== 'm.room.member' && !n.isState)!.eventId;
    const { pdu, eventId } = craft(message(bob, 'odd auth'), {
      beforeSigning: (p) => {
        p.auth_events = [...(p.auth_events as string[]), hello];
      },
    });
    expect(pduResults(await sendTxn([pdu]))[eventId]?.error).toBeTruthy();
    expect(a.client.event(roomId, eventId).status).toBe('rejected');
    await expectIntactAndWorking();
  });

  it('one bad PDU does not spoil the rest of its transaction', async () => {
    const bad = craft(message(bob, 'forged'), { seed: new Uint8Array(32).fill(9) });
    const good = craft(message(bob, 'genuine'));
    const results = pduResults(await sendTxn([{ ...bad.pdu, event_id: bad.eventId }, good.pdu]));
    expect(results[bad.eventId]?.error).toBeTruthy();
    expect(results[good.eventId]).toEqual({});
    expect(a.client.messageBodies(alice, roomId)).toContain('genuine');
    await expectIntactAndWorking([good.eventId]);
  });

  it('a message allowed by the state before it but not by the current state is soft-failed', async () => {
    // b has not heard of the ban when bob speaks
    cluster.net.cut(a.hs.serverName, b.hs.serverName);
    const ban = await a.client.ban(alice, roomId, bob);
    const stale = await b.client.sendMessage(bob, roomId, 'sent from before the ban');
    cluster.net.healAll();
    await converge(cluster, roomId, ['a', 'b']);
    const stored = a.client.event(roomId, stale);
    expect(stored.status).toBe('soft_failed');
    expect(stored.reason).toMatch(/banned|not joined|membership/);
    expect(a.client.messageBodies(alice, roomId)).not.toContain('sent from before the ban');
    for (const s of [a, b]) expect(s.client.stateIds(roomId)['m.room.member']![bob]).toBe(ban);
    // b's only user is banned: b got the ban and gets nothing after it — not queued, not served.
    const queued = new Map<string, string[]>();
    const entriesFor = a.hs.outbox.entriesFor.bind(a.hs.outbox);
    a.hs.outbox.entriesFor = (d, item) => {
      if (item.eventId) queued.set(item.eventId, [...d]);
      return entriesFor(d, item);
    };
    const after = await a.client.sendMessage(alice, roomId, 'after the ban');
    expect(queued.get(after)).not.toContain(b.hs.serverName);
    const res = await handleFederationRequest(a.hs, b.hs.serverName, { kind: 'event', event_id: after });
    expect(res.ok).toBe(false);
    await new Promise((r) => setTimeout(r, 300));
    expect(b.hs.rooms.get(roomId)!.events.has(after)).toBe(false);
  });
});

/**
 * The room's compact in-memory forms (issue 16, memory per server): copies
 * of held events are recognised by signature only when they are the same
 * event; interned strings and the one-ID child edges change nothing a
 * reader sees; a PDU's own "__proto__" member survives the in-memory copy.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/core/json.ts';
import { handleFederationRequest } from '../../src/server/federation-server.ts';
import { Cluster, type ClusterServer } from '../../src/sim/cluster.ts';
import { converge } from './engine-helpers.ts';

let cluster: Cluster;
let a: ClusterServer;
let b: ClusterServer;
let alice: string;
let bob: string;
let roomId: string;

beforeEach(async () => {
  cluster = new Cluster();
  a = await cluster.add('a');
  b = await cluster.add('b');
  alice = await a.hs.register('alice');
  bob = await b.hs.register('bob');
  roomId = await a.client.createRoom(alice, { preset: 'public_chat', name: 'Compact' });
  await b.client.join(bob, roomId, [a.hs.serverName]);
  await converge(cluster, roomId);
});

afterEach(async () => {
  await cluster.stopAll();
});

/** The PDU as b holds it, as it would come off the wire (a fresh JSON copy without event_id). */
function wireCopy(id: string): JsonObject {
  const stored = b.hs.rooms.get(roomId)!.events.get(id)!;
  return JSON.parse(JSON.stringify(stored.pdu)) as JsonObject;
}

describe('recognising a copy of a held event', () => {
  it('names an identical copy, whatever its unsigned or given event_id say', async () => {
    const id = await a.client.sendMessage(alice, roomId, 'hello');
    await converge(cluster, roomId);
    const room = b.hs.rooms.get(roomId)!;
    const copy = wireCopy(id);
    expect(room.recognise(copy)).toBe(id);
    expect(room.recognise({ ...copy, unsigned: { age: 5 }, event_id: '$whatever' })).toBe(id);
  });

  it('does not name a copy that differs anywhere an event ID covers, or is not a PDU', async () => {
    const id = await a.client.sendMessage(alice, roomId, 'hello');
    await converge(cluster, roomId);
    const room = b.hs.rooms.get(roomId)!;
    const copy = wireCopy(id);
    const changedContent = { ...copy, content: { ...(copy.content as JsonObject), body: 'hellO' } };
    const extraMember = { ...copy, extra: 1 };
    const missingMember = { ...copy };
    delete missingMember.origin_server_ts;
    const otherDepth = { ...copy, depth: (copy.depth as number) + 1 };
    const nestedExtra = { ...copy, content: { ...(copy.content as JsonObject), body: 'hello', more: [] } };
    for (const variant of [changedContent, extraMember, missingMember, otherDepth, nestedExtra]) expect(room.recognise(variant)).toBeUndefined();
    for (const junk of [null, 'x', 5, [], {}, { sender: 5 }, { sender: bob, signatures: 'x' }]) expect(room.recognise(junk)).toBeUndefined();
  });

  it('a forged copy with a held signature but other content is still refused by the full checks', async () => {
    const id = await a.client.sendMessage(alice, roomId, 'original');
    await converge(cluster, roomId);
    const forged = wireCopy(id);
    (forged.content as JsonObject).body = 'forged';
    forged.origin_server_ts = (forged.origin_server_ts as number) + 1;
    const res = await handleFederationRequest(b.hs, a.hs.serverName, {
      kind: 'send',
      txn_id: 't-forged',
      body: { origin: a.hs.serverName, origin_server_ts: Date.now(), pdus: [forged], edus: [] } as never,
    });
    expect(res.ok).toBe(true);
    const results = ((res as { body: unknown }).body as { pdus: Record<string, { error?: string }> }).pdus;
    const [only] = Object.values(results);
    expect(only?.error).toMatch(/not validly signed/);
    expect(b.client.acceptedEventIds(roomId)).not.toContain(Object.keys(results)[0]);
  });
});

describe('compact forms change nothing a reader sees', () => {
  it('children, prev/auth references and the copy with its event ID', async () => {
    const first = await a.client.sendMessage(alice, roomId, 'one');
    const second = await a.client.sendMessage(alice, roomId, 'two');
    await converge(cluster, roomId);
    const room = b.hs.rooms.get(roomId)!;
    expect(room.childrenOf(first)).toEqual([second]);
    expect(room.childrenOf(second)).toEqual([]);
    const ev = room.get(second)!;
    expect(ev.event_id).toBe(second);
    expect(ev.prev_events).toEqual([first]);
    // Interned: the very string the room keys the event by, equal to what was received.
    expect(ev.prev_events[0]).toBe(room.events.get(first)!.event_id);
    const { event_id: _id, ...rest } = ev;
    expect(rest).toEqual(room.events.get(second)!.pdu);
  });

  it('an own "__proto__" member stays a member of the in-memory copy', async () => {
    const room = b.hs.rooms.get(roomId)!;
    const [someId] = room.acceptedIds();
    const stored = room.events.get(someId!)!;
    const pdu = JSON.parse(`{"__proto__": {"polluted": true}, ${JSON.stringify(stored.pdu).slice(1)}`);
    room.put({ ...stored, event_id: '$proto-test', pdu });
    const copy = room.get('$proto-test') as unknown as Record<string, unknown>;
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(Object.hasOwn(copy, '__proto__')).toBe(true);
    expect((copy as { polluted?: unknown }).polluted).toBeUndefined();
  });
});

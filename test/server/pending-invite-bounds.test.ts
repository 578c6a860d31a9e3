/**
 * Issue 14, item 3: pending invites from peers are bounded (per sending
 * server, in all, and for servers sharing no room with us), carry capped
 * stripped state, are stored one record each (an invite writes one record,
 * not the whole list again) and read from memory; the list an older version
 * kept in the store's meta is moved to records at start.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { keyPairFromSeed } from '../../src/core/ed25519.ts';
import { computeEventId, signEvent } from '../../src/core/hashing.ts';
import type { JsonObject } from '../../src/core/json.ts';
import type { Pdu } from '../../src/core/pdu.ts';
import { SERVER_KEY_ID, peerIdFromPublicKey } from '../../src/core/peer-id.ts';
import { roomVersion } from '../../src/core/room-versions/registry.ts';
import { handleFederationRequest } from '../../src/server/federation-server.ts';
import type { FederationResponse } from '../../src/server/federation/types.ts';
import {
  MAX_INVITES_FROM_STRANGERS,
  MAX_INVITES_PER_SERVER,
  MAX_STRIPPED_BYTES,
  MAX_STRIPPED_EVENT_BYTES,
  MAX_STRIPPED_EVENTS,
  loadPending,
} from '../../src/server/membership.ts';
import type { Homeserver } from '../../src/server/homeserver.ts';
import type { WriteBatch } from '../../src/server/store/types.ts';
import { Cluster, type ClusterServer } from '../../src/sim/cluster.ts';
import { converge } from './engine-helpers.ts';

interface Peer {
  name: string;
  seed: Uint8Array;
}

/** A server that is not in the cluster: just a key (its name is the key's PeerId). */
function peer(n: number): Peer {
  const seed = new Uint8Array(32);
  seed[0] = n & 0xff;
  seed[1] = n >> 8;
  seed[31] = 0x5a;
  return { seed, name: peerIdFromPublicKey(keyPairFromSeed(seed).publicKey) };
}

const ID = (c: string) => `$${c.repeat(43)}`;

/** A validly signed invite of `target` from `from` to a room of its own. */
function signedInvite(from: Peer, target: string, i: number): { roomId: string; eventId: string; pdu: Pdu } {
  const rules = roomVersion('10');
  const roomId = `!room${i}x:${from.name}`;
  const pdu = signEvent(
    {
      room_id: roomId,
      sender: `@mallory:${from.name}`,
      type: 'm.room.member',
      state_key: target,
      content: { membership: 'invite' },
      origin_server_ts: 1_700_000_000_000 + i,
      depth: 4,
      prev_events: [ID('p')],
      auth_events: [ID('a')],
    },
    rules,
    from.name,
    SERVER_KEY_ID,
    from.seed,
  ) as unknown as Pdu;
  return { roomId, eventId: computeEventId(pdu, rules), pdu };
}

function sendInvite(hs: Homeserver, from: Peer, target: string, i: number, state: JsonObject[] = []): Promise<FederationResponse> {
  const { roomId, eventId, pdu } = signedInvite(from, target, i);
  return handleFederationRequest(hs, from.name, {
    kind: 'invite',
    room_id: roomId,
    event_id: eventId,
    body: { event: pdu, invite_room_state: state, room_version: '10' },
  });
}

let cluster: Cluster;
let a: ClusterServer;
let alice: string;

beforeEach(async () => {
  cluster = new Cluster();
  a = await cluster.add('a');
  alice = await a.hs.register('alice');
});
afterEach(() => cluster?.stopAll());

describe('an invite flood from a server sharing no room with us', () => {
  it('keeps at most the per-server bound, refuses the rest with M_LIMIT_EXCEEDED, and writes one record per invite', async () => {
    const mallory = peer(1);
    const writes: WriteBatch[] = [];
    const write = a.store.write.bind(a.store);
    vi.spyOn(a.store, 'write').mockImplementation((b) => {
      writes.push(b);
      return write(b);
    });
    const getMeta = vi.spyOn(a.store, 'getMeta');
    const listClientData = vi.spyOn(a.store, 'listClientData');
    /** Bytes written to the store by each accepted invite. */
    const written: number[] = [];
    const refusals: Extract<FederationResponse, { ok: false }>[] = [];
    for (let i = 0; i < 60; i++) {
      const before = writes.length;
      const res = await sendInvite(a.hs, mallory, alice, i);
      if (res.ok) written.push(writes.slice(before).reduce((n, b) => n + JSON.stringify(b).length, 0));
      else {
        refusals.push(res);
        expect(writes.length, 'a refused invite writes nothing').toBe(before);
      }
    }
    expect(written).toHaveLength(MAX_INVITES_PER_SERVER);
    expect(refusals).toHaveLength(60 - MAX_INVITES_PER_SERVER);
    expect(refusals[0]!.status).toBe(429);
    expect(refusals[0]!.body).toMatchObject({ errcode: 'M_LIMIT_EXCEEDED' });
    expect(String(refusals[0]!.body.error)).toMatch(new RegExp(`${mallory.name} already has ${MAX_INVITES_PER_SERVER} invites pending`));
    expect(await loadPending(a.hs, 'invites')).toHaveLength(MAX_INVITES_PER_SERVER);
    // Flat cost: the last invite kept writes no more than the first (the whole list was rewritten each time).
    expect(Math.max(...written)).toBeLessThan(Math.min(...written) * 1.3);
    // Reading the pending list (as every /sync does) reads nothing from the store.
    await loadPending(a.hs, 'invites');
    await loadPending(a.hs, 'knocks');
    expect(getMeta).not.toHaveBeenCalled();
    expect(listClientData).not.toHaveBeenCalled();
    // Stored one record each, and loaded again after a restart.
    const records = (await a.store.listClientData()).filter((r) => r.kind === 'pending_invite');
    expect(records).toHaveLength(MAX_INVITES_PER_SERVER);
    expect(records.every((r) => r.user_id === alice && r.key.startsWith('!room'))).toBe(true);
    await cluster.crash('a');
    a = await cluster.restart('a');
    expect(await loadPending(a.hs, 'invites')).toHaveLength(MAX_INVITES_PER_SERVER);
    expect((await sendInvite(a.hs, mallory, alice, 1000)).ok).toBe(false);
  });

  it('many stranger servers hold at most their share; a server sharing a room still invites, and a re-invite replaces', async () => {
    const b = await cluster.add('b');
    const bob = await b.hs.register('bob');
    const shared = await a.client.createRoom(alice, { preset: 'public_chat' });
    await b.client.join(bob, shared, [a.hs.serverName]);
    await converge(cluster, shared);
    let accepted = 0;
    let last: FederationResponse | undefined;
    for (let n = 0; n < MAX_INVITES_FROM_STRANGERS + 10; n++) {
      const res = await sendInvite(a.hs, peer(100 + n), alice, n);
      if (res.ok) accepted++;
      else last = res;
    }
    expect(accepted).toBe(MAX_INVITES_FROM_STRANGERS);
    expect(String(last?.body.error)).toMatch(/shares no room with this server/);
    // A re-invite to a room already pending is not a new one.
    expect((await sendInvite(a.hs, peer(100), alice, 0)).ok).toBe(true);
    // b shares a room with a: its invite goes through, the whole way (countersigned, shown to alice).
    const roomId = await b.client.createRoom(bob, { preset: 'private_chat', name: 'Legit' });
    await b.client.invite(bob, roomId, alice);
    const pending = await loadPending(a.hs, 'invites');
    expect(pending).toHaveLength(MAX_INVITES_FROM_STRANGERS + 1);
    expect(pending.find((p) => p.room_id === roomId)?.sender).toBe(bob);
    expect((await a.client.rooms(alice)).find((r) => r.roomId === roomId)?.membership).toBe('invite');
    await a.client.join(alice, roomId);
    expect(a.client.stateIds(roomId)['m.room.member']?.[alice]).toBeDefined();
    expect((await loadPending(a.hs, 'invites')).some((p) => p.room_id === roomId)).toBe(false);
  });
});

describe('the stripped state an invite carries', () => {
  it('keeps well-formed entries only, each and all within their byte caps, the room’s name first', async () => {
    const mallory = peer(2);
    const entry = (type: string, content: JsonObject, stateKey = ''): JsonObject => ({ type, state_key: stateKey, sender: `@m:${mallory.name}`, content });
    const state: JsonObject[] = [
      entry('m.room.topic', { topic: 'x'.repeat(MAX_STRIPPED_EVENT_BYTES + 100) }),
      ...Array.from({ length: 40 }, (_, i) => entry('m.room.member', { membership: 'join', pad: 'y'.repeat(1000) }, `@u${i}:${mallory.name}`)),
      { type: 'm.room.join_rules', content: 'not an object' } as unknown as JsonObject,
      { type: 'm.room.avatar', state_key: '', sender: 'x', content: {}, extra: 'z'.repeat(3000) },
      entry('m.room.name', { name: 'Spam' }),
      entry('m.room.create', { room_version: '10' }),
    ];
    const res = await sendInvite(a.hs, mallory, alice, 1, state);
    expect(res.ok, JSON.stringify(res.body)).toBe(true);
    const [p] = await loadPending(a.hs, 'invites');
    const kept = p!.invite_room_state;
    expect(kept.length).toBeLessThanOrEqual(MAX_STRIPPED_EVENTS);
    const sizes = kept.map((s) => new TextEncoder().encode(JSON.stringify(s)).length);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(MAX_STRIPPED_EVENT_BYTES);
    expect(sizes.reduce((x, y) => x + y, 0)).toBeLessThanOrEqual(MAX_STRIPPED_BYTES);
    expect(kept.slice(0, 3).map((s) => s.type)).toEqual(['m.room.create', 'm.room.name', 'm.room.avatar']);
    expect(kept.some((s) => s.type === 'm.room.join_rules' || s.type === 'm.room.topic')).toBe(false);
    expect(JSON.stringify(kept)).not.toContain('zzz');
    const name = (await a.client.rooms(alice)).find((r) => r.roomId === p!.room_id)?.name;
    expect(name).toBe('Spam');
  });
});

describe('the pending list an older version kept in the store’s meta', () => {
  it('is moved to one record each at start (within the bounds) and the meta keys deleted', async () => {
    const mallory = peer(3);
    const old = (i: number, userId = alice) => ({
      room_id: `!old${i}x:${mallory.name}`,
      user_id: userId,
      sender: `@mallory:${mallory.name}`,
      room_version: '10',
      event: { type: 'm.room.member', state_key: userId, sender: `@mallory:${mallory.name}`, content: { membership: 'invite' } },
      invite_room_state: [{ type: 'm.room.name', state_key: '', sender: `@mallory:${mallory.name}`, content: { name: `Old ${i}` } }],
      ts: 1000 + i,
    });
    const invites = Array.from({ length: MAX_INVITES_PER_SERVER + 5 }, (_, i) => old(i));
    const knock = { ...old(99), sender: alice };
    await a.store.write({ meta: { invites: invites as unknown as JsonObject[], knocks: [knock] as unknown as JsonObject[] } });
    await cluster.crash('a');
    a = await cluster.restart('a');
    const pending = await loadPending(a.hs, 'invites');
    // Oldest first within the per-server bound.
    expect(pending.map((p) => p.room_id).sort()).toEqual(invites.slice(0, MAX_INVITES_PER_SERVER).map((p) => p.room_id).sort());
    expect((await loadPending(a.hs, 'knocks')).map((p) => p.room_id)).toEqual([knock.room_id]);
    expect(await a.store.getMeta('invites')).toBeUndefined();
    expect(await a.store.getMeta('knocks')).toBeUndefined();
    const records = await a.store.listClientData();
    expect(records.filter((r) => r.kind === 'pending_invite')).toHaveLength(MAX_INVITES_PER_SERVER);
    expect(records.filter((r) => r.kind === 'pending_knock').map((r) => r.key)).toEqual([knock.room_id]);
    expect((await a.client.rooms(alice)).filter((r) => r.membership === 'invite')).toHaveLength(MAX_INVITES_PER_SERVER);
    // And it stays moved: a second start finds the records and no meta list.
    await cluster.crash('a');
    a = await cluster.restart('a');
    expect(await loadPending(a.hs, 'invites')).toHaveLength(MAX_INVITES_PER_SERVER);
  });
});

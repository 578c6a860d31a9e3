/**
 * The Store acceptance suite (as automerge-repo's adapter suite and
 * matrix-rust-sdk's store macro): every Store implementation runs these same
 * tests — fake-indexeddb under Node here, native IndexedDB in Chromium later.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Pdu } from '../../src/core/pdu.ts';
import {
  type AccountRecord,
  type MediaRecord,
  type OutboxEntry,
  type ReceiptRecord,
  type RoomRecord,
  type StateGroupRecord,
  type Store,
  StoreError,
  type StoredEvent,
} from '../../src/server/store/types.ts';

const ROOM_A = '!a:hs1.example';
const ROOM_B = '!b:hs1.example';
/** Shares ROOM_A as a string prefix: range queries must not leak across it. */
const ROOM_A2 = '!a:hs1.example2';

function pdu(roomId: string, depth: number, extra: Partial<Pdu> = {}): Pdu {
  return {
    room_id: roomId,
    sender: '@alice:hs1.example',
    type: 'm.room.message',
    content: { msgtype: 'm.text', body: `message ${depth}`, nested: { list: [1, 'two', null, true] } },
    origin_server_ts: 1_700_000_000_000 + depth,
    depth,
    prev_events: depth > 1 ? [`$prev${depth - 1}`] : [],
    auth_events: ['$create', '$power'],
    hashes: { sha256: 'aGFzaA' },
    signatures: { 'hs1.example': { 'ed25519:a': 'c2ln' } },
    ...extra,
  };
}

function event(roomId: string, stream: number, extra: Partial<StoredEvent> = {}): StoredEvent {
  return {
    event_id: `$${roomId.slice(1, 3)}-${stream}`,
    room_id: roomId,
    stream,
    status: 'accepted',
    state_group: stream,
    pdu: pdu(roomId, stream),
    ...extra,
  };
}

function stateGroup(roomId: string, id: number, prev?: number): StateGroupRecord {
  return prev === undefined
    ? { id, room_id: roomId, delta: { 'm.room.create\u0000': '$create' }, chain: 0 }
    : { id, room_id: roomId, prev, delta: { 'm.room.member\u0000@bob:hs2.example': `$join${id}` }, chain: 1 };
}

const account: AccountRecord = {
  user_id: '@alice:hs1.example',
  display_name: 'Alice',
  devices: [{ device_id: 'DEV1', display_name: 'Firefox', created_ts: 1 }],
  created_ts: 1,
};

function room(roomId: string, extremities: string[] = ['$x']): RoomRecord {
  return {
    room_id: roomId,
    room_version: '10',
    extremities,
    state_group: 1,
    servers: ['hs2.example'],
    meta: { membership: 'join', is_direct: false },
  };
}

function receipt(roomId: string, userId: string, eventId: string, threadId?: string): ReceiptRecord {
  const r: ReceiptRecord = { room_id: roomId, user_id: userId, receipt_type: 'm.read', event_id: eventId, ts: 5 };
  if (threadId !== undefined) r.thread_id = threadId;
  return r;
}

async function expectStoreError(p: Promise<unknown>, database: string, objectStore: string): Promise<StoreError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StoreError);
  const se = err as StoreError;
  expect(se.name).toBe('StoreError');
  expect(se.database).toBe(database);
  expect(se.objectStore).toBe(objectStore);
  expect(se.message).toContain(database);
  expect(se.message).toContain(objectStore);
  return se;
}

export interface SuiteOptions {
  /**
   * The `name` a store opened as `dbName` reports, which its StoreErrors name
   * (default: `dbName` itself; a directory-based store reports the path it made of it).
   */
  nameOf?: (dbName: string) => string;
}

export function storeAcceptanceSuite(
  name: string,
  open: (dbName: string) => Promise<Store>,
  { nameOf = (dbName) => dbName }: SuiteOptions = {},
): void {
  describe(`Store acceptance: ${name}`, () => {
    const opened: Store[] = [];
    let seq = 0;
    /** A fresh database name per test, so suites that share a factory (a real browser) do not collide. */
    const freshName = () => `hearth-suite-${Date.now().toString(36)}-${seq++}`;
    const openTracked = async (dbName: string) => {
      const s = await open(dbName);
      opened.push(s);
      return s;
    };

    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close();
    });

    it('round-trips every record type', async () => {
      const store = await openTracked(freshName());
      const ev = event(ROOM_A, 1, { status: 'rejected', reason: 'not allowed', redacted_by: '$redaction' });
      const outlier: StoredEvent = { event_id: '$outlier', room_id: ROOM_A, stream: 2, status: 'outlier', pdu: pdu(ROOM_A, 0) };
      const media: MediaRecord = {
        media_id: 'abc',
        content_type: 'image/png',
        bytes: new Uint8Array([0, 1, 2, 254, 255]),
        created_ts: 3,
      };
      const pduEntry: OutboxEntry = { destination: 'hs2.example', seq: 1, kind: 'pdu', event_id: ev.event_id };
      const eduEntry: OutboxEntry = {
        destination: 'hs2.example',
        seq: 2,
        kind: 'edu',
        edu: { edu_type: 'm.typing', content: { typing: true } },
      };
      const unthreaded = receipt(ROOM_A, '@bob:hs2.example', '$e1');
      const threaded = receipt(ROOM_A, '@bob:hs2.example', '$e2', '$thread');
      await store.write({
        meta: { server_name: 'hs1.example', next_stream: 3, keys: { a: [1, 2] }, nothing: null, flag: false },
        accounts: [account],
        rooms: [room(ROOM_A)],
        events: [ev, outlier],
        stateGroups: [stateGroup(ROOM_A, 1), stateGroup(ROOM_A, 2, 1)],
        outboxPut: [pduEntry, eduEntry],
        receipts: [unthreaded, threaded],
        media: [media],
      });

      expect(await store.getMeta('server_name')).toBe('hs1.example');
      expect(await store.getMeta('next_stream')).toBe(3);
      expect(await store.getMeta('keys')).toEqual({ a: [1, 2] });
      expect(await store.getMeta('nothing')).toBeNull();
      expect(await store.getMeta('flag')).toBe(false);
      expect(await store.getMeta('missing')).toBeUndefined();
      expect(await store.listAccounts()).toEqual([account]);
      expect(await store.listRooms()).toEqual([room(ROOM_A)]);
      expect(await store.getRoom(ROOM_A)).toEqual(room(ROOM_A));
      expect(await store.getRoom(ROOM_B)).toBeUndefined();
      expect(await store.getEvent(ev.event_id)).toEqual(ev);
      expect(await store.getEvent('$outlier')).toEqual(outlier);
      expect(await store.getEvent('$missing')).toBeUndefined();
      expect(await store.roomStateGroups(ROOM_A)).toEqual([stateGroup(ROOM_A, 1), stateGroup(ROOM_A, 2, 1)]);
      expect(await store.outbox()).toEqual([pduEntry, eduEntry]);
      const receipts = await store.roomReceipts(ROOM_A);
      expect(receipts).toHaveLength(2);
      expect(receipts).toContainEqual(unthreaded);
      expect(receipts).toContainEqual(threaded);
      const gotMedia = await store.getMedia('abc');
      expect(gotMedia?.content_type).toBe('image/png');
      expect(gotMedia?.bytes).toBeInstanceOf(Uint8Array);
      expect(Array.from(gotMedia?.bytes ?? [])).toEqual([0, 1, 2, 254, 255]);
      expect(await store.getMedia('nope')).toBeUndefined();
    });

    it('returns copies: mutating a read or a written record does not change the store', async () => {
      const store = await openTracked(freshName());
      const r = room(ROOM_A, ['$one']);
      await store.write({ rooms: [r] });
      r.extremities.push('$written-later');
      const got = await store.getRoom(ROOM_A);
      got?.extremities.push('$read-later');
      expect((await store.getRoom(ROOM_A))?.extremities).toEqual(['$one']);
    });

    it('overwrites records with the same key', async () => {
      const store = await openTracked(freshName());
      const ev = event(ROOM_A, 1, { status: 'soft_failed', reason: 'banned now' });
      await store.write({ events: [ev], rooms: [room(ROOM_A, ['$old'])], receipts: [receipt(ROOM_A, '@b:x', '$1')] });
      await store.write({
        events: [{ ...ev, status: 'accepted', reason: undefined }],
        rooms: [room(ROOM_A, ['$new1', '$new2'])],
        receipts: [receipt(ROOM_A, '@b:x', '$2')],
        meta: { a: 1 },
      });
      await store.write({ meta: { a: 2 } });
      expect((await store.getEvent(ev.event_id))?.status).toBe('accepted');
      expect((await store.getRoom(ROOM_A))?.extremities).toEqual(['$new1', '$new2']);
      expect((await store.roomReceipts(ROOM_A)).map((x) => x.event_id)).toEqual(['$2']);
      expect(await store.getMeta('a')).toBe(2);
      expect(await store.roomEvents(ROOM_A)).toHaveLength(1);
    });

    it("roomEvents returns only that room's events, in stream order", async () => {
      const store = await openTracked(freshName());
      // Interleaved rooms, written out of order and across batches; streams 2 and 10 check numeric order.
      await store.write({ events: [event(ROOM_A, 10), event(ROOM_B, 3), event(ROOM_A2, 4)] });
      await store.write({ events: [event(ROOM_A, 2), event(ROOM_B, 1), event(ROOM_A, 7), event(ROOM_A2, 5)] });
      expect((await store.roomEvents(ROOM_A)).map((e) => e.stream)).toEqual([2, 7, 10]);
      expect((await store.roomEvents(ROOM_B)).map((e) => e.stream)).toEqual([1, 3]);
      expect((await store.roomEvents(ROOM_A2)).map((e) => e.stream)).toEqual([4, 5]);
      expect(await store.roomEvents('!none:hs1.example')).toEqual([]);
      for (const e of await store.roomEvents(ROOM_A)) expect(e.room_id).toBe(ROOM_A);
    });

    it("roomStateGroups returns only that room's groups", async () => {
      const store = await openTracked(freshName());
      await store.write({
        stateGroups: [stateGroup(ROOM_B, 1), stateGroup(ROOM_A, 3, 1), stateGroup(ROOM_A2, 1), stateGroup(ROOM_A, 1)],
      });
      await store.write({ stateGroups: [stateGroup(ROOM_B, 2, 1)] });
      const a = await store.roomStateGroups(ROOM_A);
      expect(a.map((g) => g.id).sort((x, y) => x - y)).toEqual([1, 3]);
      expect(a.every((g) => g.room_id === ROOM_A)).toBe(true);
      expect((await store.roomStateGroups(ROOM_B)).map((g) => g.id).sort()).toEqual([1, 2]);
      expect(await store.roomStateGroups(ROOM_A2)).toEqual([stateGroup(ROOM_A2, 1)]);
      expect(await store.roomStateGroups('!none:hs1.example')).toEqual([]);
    });

    it("roomReceipts returns only that room's receipts, one per (user, type, thread)", async () => {
      const store = await openTracked(freshName());
      await store.write({
        receipts: [
          receipt(ROOM_A, '@u1:x', '$1'),
          receipt(ROOM_A, '@u1:x', '$2', '$thread'),
          receipt(ROOM_A, '@u2:x', '$1'),
          receipt(ROOM_B, '@u1:x', '$9'),
          receipt(ROOM_A2, '@u1:x', '$8'),
        ],
      });
      await store.write({ receipts: [receipt(ROOM_A, '@u1:x', '$3')] });
      const a = await store.roomReceipts(ROOM_A);
      expect(a).toHaveLength(3);
      expect(a.every((r) => r.room_id === ROOM_A)).toBe(true);
      expect(a.find((r) => r.user_id === '@u1:x' && r.thread_id === undefined)?.event_id).toBe('$3');
      expect(a.find((r) => r.thread_id === '$thread')?.event_id).toBe('$2');
      expect(await store.roomReceipts(ROOM_B)).toEqual([receipt(ROOM_B, '@u1:x', '$9')]);
      expect(await store.roomReceipts(ROOM_A2)).toEqual([receipt(ROOM_A2, '@u1:x', '$8')]);
    });

    it('outbox is ordered by destination then seq, and deletions apply', async () => {
      const store = await openTracked(freshName());
      const e = (destination: string, s: number): OutboxEntry => ({
        destination,
        seq: s,
        kind: 'pdu',
        event_id: `$${destination}-${s}`,
      });
      await store.write({ outboxPut: [e('hs3', 1), e('hs2', 10), e('hs2', 2), e('hs10', 5), e('hs2', 1)] });
      const order = (await store.outbox()).map((x) => `${x.destination}/${x.seq}`);
      expect(order).toEqual(['hs10/5', 'hs2/1', 'hs2/2', 'hs2/10', 'hs3/1']);
      // Acknowledge and queue in one batch; deleting an absent entry is harmless.
      await store.write({
        outboxDelete: [
          { destination: 'hs2', seq: 1 },
          { destination: 'hs2', seq: 2 },
          { destination: 'hs9', seq: 1 },
        ],
        outboxPut: [e('hs2', 11)],
      });
      expect((await store.outbox()).map((x) => `${x.destination}/${x.seq}`)).toEqual([
        'hs10/5',
        'hs2/10',
        'hs2/11',
        'hs3/1',
      ]);
      await store.write({
        outboxDelete: (await store.outbox()).map(({ destination, seq: s }) => ({ destination, seq: s })),
      });
      expect(await store.outbox()).toEqual([]);
    });

    it('a batch that fails part-way (uncloneable value) applies nothing and names the store', async () => {
      const dbName = freshName();
      const store = await openTracked(dbName);
      await store.write({ meta: { before: 1 }, rooms: [room(ROOM_A, ['$before'])] });
      const bad = event(ROOM_A, 3);
      (bad.pdu.content as Record<string, unknown>).oops = () => 'functions cannot be cloned';
      await expectStoreError(
        store.write({
          meta: { before: 2, added: true },
          rooms: [room(ROOM_A, ['$after']), room(ROOM_B)],
          stateGroups: [stateGroup(ROOM_A, 9)],
          events: [event(ROOM_A, 1), event(ROOM_A, 2), bad, event(ROOM_A, 4)],
          outboxPut: [{ destination: 'hs2', seq: 1, kind: 'pdu', event_id: '$x' }],
          receipts: [receipt(ROOM_A, '@u:x', '$1')],
        }),
        nameOf(dbName),
        'events',
      );
      expect(await store.getMeta('before')).toBe(1);
      expect(await store.getMeta('added')).toBeUndefined();
      expect((await store.getRoom(ROOM_A))?.extremities).toEqual(['$before']);
      expect(await store.getRoom(ROOM_B)).toBeUndefined();
      expect(await store.roomStateGroups(ROOM_A)).toEqual([]);
      expect(await store.roomEvents(ROOM_A)).toEqual([]);
      expect(await store.outbox()).toEqual([]);
      expect(await store.roomReceipts(ROOM_A)).toEqual([]);
      // The store is still usable after a failed batch.
      await store.write({ events: [event(ROOM_A, 1)] });
      expect(await store.roomEvents(ROOM_A)).toHaveLength(1);
    });

    // Events are stored as JSON text: what JSON would silently change must be refused instead.
    it.each([
      ['NaN', Number.NaN],
      ['Infinity', Number.POSITIVE_INFINITY],
      ['a Map', new Map([['a', 1]])],
      ['a Date', new Date(0)],
      ['a Uint8Array', new Uint8Array([1])],
      ['a BigInt', 1n],
      ['a symbol', Symbol('s')],
      ['undefined in an array', [1, undefined, 2]],
    ])('an event holding %s is refused, not stored changed', async (_what, value) => {
      const dbName = freshName();
      const store = await openTracked(dbName);
      const bad = event(ROOM_A, 2);
      (bad.pdu.content as Record<string, unknown>).field = value;
      await expectStoreError(store.write({ events: [event(ROOM_A, 1), bad] }), nameOf(dbName), 'events');
      expect(await store.roomEvents(ROOM_A)).toEqual([]);
    });

    it('optional members left undefined are stored as absent', async () => {
      const store = await openTracked(freshName());
      const optional = { ...event(ROOM_A, 3), reason: undefined, redacted_by: undefined };
      await store.write({ events: [optional] });
      const [back] = await store.roomEvents(ROOM_A);
      expect(back).toEqual(event(ROOM_A, 3));
      expect(Object.hasOwn(back!, 'reason')).toBe(false);
    });

    it('events come back exactly as written: unicode, lone surrogates, __proto__ keys, nesting', async () => {
      const store = await openTracked(freshName());
      const ev = event(ROOM_A, 1);
      const content: Record<string, unknown> = { body: 'caf\u00e9 \u{1F600} \ud800 "q" \\ \n', deep: [[{ a: [null, true, -0.5, 9007199254740991] }]] };
      Object.defineProperty(content, '__proto__', { value: { x: 1 }, enumerable: true, writable: true, configurable: true });
      (ev.pdu as unknown as { content: unknown }).content = content;
      await store.write({ events: [ev] });
      const [back] = await store.roomEvents(ROOM_A);
      expect(back).toEqual(ev);
      expect(Object.hasOwn(back!.pdu.content as object, '__proto__')).toBe(true);
      expect((back!.pdu.content as { body: string }).body).toBe(content.body);
    });

    it('a batch that violates a key path applies nothing and names the store', async () => {
      const dbName = freshName();
      const store = await openTracked(dbName);
      const noRoom = { id: 5, delta: {}, chain: 0 } as unknown as StateGroupRecord;
      await expectStoreError(
        store.write({ meta: { x: 1 }, events: [event(ROOM_A, 1)], stateGroups: [stateGroup(ROOM_A, 1), noRoom] }),
        nameOf(dbName),
        'state_groups',
      );
      const noId = { ...event(ROOM_A, 2), event_id: undefined } as unknown as StoredEvent;
      await expectStoreError(
        store.write({ accounts: [account], events: [event(ROOM_A, 1), noId] }),
        nameOf(dbName),
        'events',
      );
      expect(await store.getMeta('x')).toBeUndefined();
      expect(await store.listAccounts()).toEqual([]);
      expect(await store.roomEvents(ROOM_A)).toEqual([]);
      expect(await store.roomStateGroups(ROOM_A)).toEqual([]);
    });

    it('an empty batch is a no-op', async () => {
      const store = await openTracked(freshName());
      await store.write({});
      await store.write({ events: [], meta: {}, outboxDelete: [] });
      expect(await store.listRooms()).toEqual([]);
    });

    it('data survives close and reopen', async () => {
      const dbName = freshName();
      const store = await openTracked(dbName);
      expect(store.name).toBe(nameOf(dbName));
      await store.write({
        meta: { server_name: 'hs1.example' },
        accounts: [account],
        rooms: [room(ROOM_A)],
        events: [event(ROOM_A, 1), event(ROOM_A, 2)],
        stateGroups: [stateGroup(ROOM_A, 1)],
        outboxPut: [{ destination: 'hs2', seq: 1, kind: 'pdu', event_id: '$a-1' }],
        receipts: [receipt(ROOM_A, '@u:x', '$a-1')],
        media: [{ media_id: 'm', content_type: 'text/plain', bytes: new Uint8Array([104, 105]), created_ts: 1 }],
      });
      await store.close();
      const again = await openTracked(dbName);
      expect(await again.getMeta('server_name')).toBe('hs1.example');
      expect(await again.listAccounts()).toEqual([account]);
      expect(await again.getRoom(ROOM_A)).toEqual(room(ROOM_A));
      expect((await again.roomEvents(ROOM_A)).map((e) => e.stream)).toEqual([1, 2]);
      expect(await again.roomStateGroups(ROOM_A)).toHaveLength(1);
      expect(await again.outbox()).toHaveLength(1);
      expect(await again.roomReceipts(ROOM_A)).toHaveLength(1);
      expect(Array.from((await again.getMedia('m'))?.bytes ?? [])).toEqual([104, 105]);
    });

    it('lists every meta entry and media ID, and deletes media', async () => {
      const store = await openTracked(freshName());
      expect(await store.listMeta()).toEqual({});
      expect(await store.listMediaIds()).toEqual([]);
      const blob = (id: string): MediaRecord => ({ media_id: id, content_type: 'text/plain', bytes: new Uint8Array([1]), created_ts: 1 });
      await store.write({ meta: { a: 1, b: { c: [true] }, gone: 'x' }, media: [blob('hs1/x'), blob('hs2/y')] });
      await store.write({ meta: { gone: undefined as unknown as null }, mediaDelete: ['hs2/y', 'never-stored'], media: [blob('hs1/z')] });
      expect(await store.listMeta()).toEqual({ a: 1, b: { c: [true] } });
      expect((await store.listMediaIds()).sort()).toEqual(['hs1/x', 'hs1/z']);
      expect(await store.getMedia('hs2/y')).toBeUndefined();
    });

    it('reopening an existing database runs no migration and keeps its data', async () => {
      const dbName = freshName();
      const first = await openTracked(dbName);
      await first.write({ rooms: [room(ROOM_A)], events: [event(ROOM_A, 1)] });
      await first.close();
      // A migration that re-ran would fail (stores already exist) or lose data.
      for (let i = 0; i < 2; i++) {
        const s = await openTracked(dbName);
        expect(await s.getRoom(ROOM_A)).toEqual(room(ROOM_A));
        expect(await s.roomEvents(ROOM_A)).toHaveLength(1 + i);
        await s.write({ events: [event(ROOM_A, 2 + i)] });
        await s.close();
      }
    });

    it('writes a 5,000-event batch in one write', async () => {
      const store = await openTracked(freshName());
      const events: StoredEvent[] = [];
      for (let i = 0; i < 5000; i++) events.push(event(i % 2 ? ROOM_A : ROOM_B, 5000 - i));
      await store.write({ events, rooms: [room(ROOM_A), room(ROOM_B)] });
      const a = await store.roomEvents(ROOM_A);
      const b = await store.roomEvents(ROOM_B);
      expect(a).toHaveLength(2500);
      expect(b).toHaveLength(2500);
      const streams = a.map((e) => e.stream);
      expect(streams).toEqual([...streams].sort((x, y) => x - y));
    });

    it('usage reports bytes per object store, counting media by byte length', async () => {
      const store = await openTracked(freshName());
      const empty = await store.usage();
      expect(empty['events']).toBe(0);
      await store.write({
        events: [event(ROOM_A, 1)],
        media: [{ media_id: 'big', content_type: 'application/octet-stream', bytes: new Uint8Array(10_000), created_ts: 1 }],
        meta: { k: 'v' },
      });
      const used = await store.usage();
      for (const s of ['meta', 'accounts', 'rooms', 'events', 'state_groups', 'outbox', 'receipts', 'media']) {
        expect(typeof used[s]).toBe('number');
      }
      expect(used['events']).toBeGreaterThan(JSON.stringify(event(ROOM_A, 1).pdu).length);
      expect(used['media']).toBeGreaterThanOrEqual(10_000);
      expect(used['media']).toBeLessThan(10_200);
      expect(used['meta']).toBeGreaterThan(0);
      expect(used['rooms']).toBe(0);
    });

    it('keeps client data per (user, kind, key): put, replace, delete, reopen', async () => {
      const dbName = freshName();
      const store = await openTracked(dbName);
      await store.write({
        clientData: [
          { user_id: '@u:x', kind: 'account_data', key: 'm.push_rules', value: { a: [1, 2] }, stream: 3 },
          { user_id: '@u:x', kind: 'filter', key: '0', value: { room: {} } },
          { user_id: '', kind: 'alias', key: '#r:x', value: '!r:x' },
        ],
      });
      await store.write({
        clientData: [{ user_id: '@u:x', kind: 'account_data', key: 'm.push_rules', value: { a: [3] }, stream: 9 }],
        clientDataDelete: [{ user_id: '@u:x', kind: 'filter', key: '0' }],
      });
      await store.close();
      const again = await openTracked(dbName);
      const all = (await again.listClientData()).sort((a, b) => (a.kind < b.kind ? -1 : 1));
      expect(all).toEqual([
        { user_id: '@u:x', kind: 'account_data', key: 'm.push_rules', value: { a: [3] }, stream: 9 },
        { user_id: '', kind: 'alias', key: '#r:x', value: '!r:x' },
      ]);
    });

    /** Room `roomId` with `n` events (IDs tagged `tag`), a group chain, a receipt and a pending delivery of its first event. */
    const roomBatch = (roomId: string, tag: string, n: number) => ({
      rooms: [room(roomId, [`$${tag}-${n}`])],
      events: Array.from({ length: n }, (_, i) => event(roomId, i + 1, { event_id: `$${tag}-${i + 1}` })),
      stateGroups: [stateGroup(roomId, 1), stateGroup(roomId, 2, 1)],
      receipts: [receipt(roomId, '@bob:hs2.example', `$${tag}-1`)],
    });

    it("purges a room: its record, events, state groups and receipts go, other rooms' records stay (one whose ID extends it too)", async () => {
      const dbName = freshName();
      const store = await openTracked(dbName);
      for (const [roomId, tag] of [
        [ROOM_A, 'a'],
        [ROOM_A2, 'a2'],
        [ROOM_B, 'b'],
      ] as const) {
        await store.write(roomBatch(roomId, tag, 150));
      }
      const delivery: OutboxEntry = { destination: 'hs2.example', seq: 1, kind: 'pdu', event_id: '$a-150', pdu: pdu(ROOM_A, 150) };
      const media: MediaRecord = { media_id: 'hs2.example/pic', content_type: 'image/png', bytes: new Uint8Array(100), created_ts: 1 };
      await store.write({ outboxPut: [delivery], media: [media], clientData: [{ user_id: '@u:x', kind: 'forgotten', key: ROOM_A, value: true }] });
      const before = await store.usage();

      await store.write({ purgeRooms: [ROOM_A, '!never-stored:hs1.example'] });
      const check = async (s: Store) => {
        expect(await s.getRoom(ROOM_A)).toBeUndefined();
        expect(await s.roomEvents(ROOM_A)).toEqual([]);
        expect(await s.getEvent('$a-1')).toBeUndefined();
        expect(await s.roomStateGroups(ROOM_A)).toEqual([]);
        expect(await s.roomReceipts(ROOM_A)).toEqual([]);
        expect((await s.listRooms()).map((r) => r.room_id).sort()).toEqual([ROOM_A2, ROOM_B].sort());
        for (const [roomId, tag] of [
          [ROOM_A2, 'a2'],
          [ROOM_B, 'b'],
        ] as const) {
          expect((await s.roomEvents(roomId)).map((e) => e.event_id)).toEqual(roomBatch(roomId, tag, 150).events.map((e) => e.event_id));
          expect(await s.roomStateGroups(roomId)).toHaveLength(2);
          expect(await s.roomReceipts(roomId)).toHaveLength(1);
        }
        // What the caller did not delete stays: deliveries (carrying their event), client data, media.
        expect(await s.outbox()).toEqual([delivery]);
        expect(await s.listClientData()).toHaveLength(1);
        expect(await s.listMediaIds()).toEqual(['hs2.example/pic']);
      };
      await check(store);
      const after = await store.usage();
      expect(after['events']).toBeLessThan(before['events']! * 0.75);
      expect(after['state_groups']).toBeLessThan(before['state_groups']!);
      expect(after['rooms']).toBeLessThan(before['rooms']!);
      await store.close();
      await check(await openTracked(dbName));
    });

    it('a purged room can be written again (joined again): only the new records come back, in stream order', async () => {
      const dbName = freshName();
      const store = await openTracked(dbName);
      await store.write(roomBatch(ROOM_A, 'a', 70));
      await store.write({ purgeRooms: [ROOM_A] });
      // Joined again later: some events fetched afresh carry old IDs.
      const again = [event(ROOM_A, 200, { event_id: '$a-70' }), event(ROOM_A, 201, { event_id: '$new' })];
      await store.write({ rooms: [room(ROOM_A, ['$new'])], events: again, stateGroups: [stateGroup(ROOM_A, 9)] });
      // A purge and a new copy in one batch: the purge applies first.
      await store.write({ purgeRooms: [ROOM_B], rooms: [room(ROOM_B)], events: [event(ROOM_B, 5, { event_id: '$b-5' })] });
      const check = async (s: Store) => {
        expect(await s.roomEvents(ROOM_A)).toEqual(again);
        expect(await s.getEvent('$a-70')).toEqual(again[0]);
        expect(await s.roomStateGroups(ROOM_A)).toEqual([stateGroup(ROOM_A, 9)]);
        expect((await s.getRoom(ROOM_A))?.extremities).toEqual(['$new']);
        expect((await s.roomEvents(ROOM_B)).map((e) => e.event_id)).toEqual(['$b-5']);
      };
      await check(store);
      // Rewritten after the purge (a redaction, say): still one copy.
      const redacted = { ...again[1]!, redacted_by: '$r' };
      await store.write({ events: [redacted] });
      expect(await store.roomEvents(ROOM_A)).toEqual([again[0], redacted]);
      await store.close();
      const reopened = await openTracked(dbName);
      expect(await reopened.roomEvents(ROOM_A)).toEqual([again[0], redacted]);
    });

    it('a batch with a purge that fails part-way applies nothing: the room stays whole', async () => {
      const dbName = freshName();
      const store = await openTracked(dbName);
      await store.write(roomBatch(ROOM_A, 'a', 100));
      const bad = event(ROOM_B, 1);
      (bad.pdu.content as Record<string, unknown>).oops = () => 'functions cannot be cloned';
      await expectStoreError(
        store.write({ purgeRooms: [ROOM_A], outboxPut: [{ destination: 'hs2', seq: 1, kind: 'pdu', event_id: '$a-1', pdu: pdu(ROOM_A, 1) }], events: [bad] }),
        nameOf(dbName),
        'events',
      );
      await expectStoreError(store.write({ purgeRooms: [42 as unknown as string] }), nameOf(dbName), 'rooms');
      const whole = async (s: Store) => {
        expect(await s.getRoom(ROOM_A)).toEqual(room(ROOM_A, ['$a-100']));
        expect(await s.roomEvents(ROOM_A)).toHaveLength(100);
        expect(await s.roomStateGroups(ROOM_A)).toHaveLength(2);
        expect(await s.roomReceipts(ROOM_A)).toHaveLength(1);
        expect(await s.outbox()).toEqual([]);
      };
      await whole(store);
      // Its bookkeeping was restored too: rewriting an event still replaces its one copy.
      await store.write({ events: [event(ROOM_A, 1, { event_id: '$a-1', redacted_by: '$r' })] });
      expect((await store.roomEvents(ROOM_A)).filter((e) => e.event_id === '$a-1')).toHaveLength(1);
      await store.close();
      const reopened = await openTracked(dbName);
      expect(await reopened.roomEvents(ROOM_A)).toHaveLength(100);
      expect((await reopened.getEvent('$a-1'))?.redacted_by).toBe('$r');
    });

    it('rejects calls after close with a StoreError', async () => {
      const dbName = freshName();
      const store = await openTracked(dbName);
      await store.close();
      await expectStoreError(store.getEvent('$x'), nameOf(dbName), 'events');
      await expect(store.write({ rooms: [room(ROOM_A)] })).rejects.toBeInstanceOf(StoreError);
    });
  });
}

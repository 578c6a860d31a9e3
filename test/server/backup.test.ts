/**
 * The encrypted backup (src/server/backup): a homeserver exported from one
 * store and imported into another (fake-indexeddb and SQLite, both ways)
 * comes back record for record and continues in its room; a wrong
 * passphrase, a cut-off or damaged file and a non-empty target change
 * nothing; a homeserver that moved away signs nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BackupError, exportBackup, importBackup, retireStore, storeIsEmpty, verifyBackup } from '../../src/server/backup/backup.ts';
import { HEADER_SIZE } from '../../src/server/backup/format.ts';
import { uploadMedia } from '../../src/server/media.ts';
import { Homeserver } from '../../src/server/homeserver.ts';
import { FakeIDBFactory, openNodeStore } from '../../src/server/store/node.ts';
import { openSqliteStore } from '../../src/server/store/sqlite-store.ts';
import type { Store } from '../../src/server/store/types.ts';
import { backupRunning, dropCachedMedia } from '../../src/app/backup-service.ts';
import { pausableStore } from '../../src/server/backup/pausable-store.ts';
import { HomeserverClient } from '../../src/server/client.ts';
import { checkStoreConsistency } from '../../src/server/store/consistency.ts';
import { InProcessNetwork } from '../../src/server/transport/in-process.ts';
import { retiredTransport } from '../../src/server/transport/retired.ts';
import { Cluster } from '../../src/sim/cluster.ts';
import { converge, expectRefused, twoServersInRoom } from './engine-helpers.ts';

const PASS = 'correct horse battery staple';
/** Few KDF rounds keep the suite quick; the format and code path are the same as at 600,000. */
const FAST = { passphrase: PASS, iterations: 1000 };

const root = mkdtempSync(join(tmpdir(), 'hearth-backup-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDir = () => join(root, `d${dirs++}`);

const opened: Store[] = [];
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close().catch(() => undefined);
});
async function track(p: Promise<Store>): Promise<Store> {
  const s = await p;
  opened.push(s);
  return s;
}

async function fileOf(store: Store, opts: Parameters<typeof exportBackup>[1] = FAST): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const p of exportBackup(store, opts)) parts.push(p);
  return new Uint8Array(Buffer.concat(parts)); // a copy: Buffer's slice() is a view, and tests damage copies
}

/** The file as a stream of small, uneven chunks (as a file or a Blob arrives). */
function chunks(bytes: Uint8Array, size = 7919): () => AsyncIterable<Uint8Array> {
  return async function* () {
    for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
  };
}

/** Everything a Store holds, in a comparable form. */
async function dump(store: Store) {
  const rooms = await store.listRooms();
  const media: Record<string, unknown> = {};
  for (const id of await store.listMediaIds()) {
    const m = await store.getMedia(id);
    media[id] = { ...m, bytes: Array.from(m?.bytes ?? []) };
  }
  return {
    meta: await store.listMeta(),
    accounts: await store.listAccounts(),
    clientData: await store.listClientData(),
    rooms,
    events: await Promise.all(rooms.map((r) => store.roomEvents(r.room_id))),
    stateGroups: await Promise.all(rooms.map((r) => store.roomStateGroups(r.room_id))),
    receipts: await Promise.all(rooms.map((r) => store.roomReceipts(r.room_id))),
    outbox: await store.outbox(),
    media,
  };
}

/** Alice on a and Bob on b in a room with messages, a receipt and an upload; a is then stopped. Returns a's store reopened. */
async function populated(cluster: Cluster) {
  const { a, b, alice, bob, roomId } = await twoServersInRoom(cluster, '11');
  await a.hs.commit({ accounts: [{ ...a.hs.accounts.get(alice)!, password_hash: '$argon-or-pbkdf2-hash' }] });
  for (let i = 0; i < 5; i++) await a.client.sendMessage(alice, roomId, `from alice ${i}`);
  const last = await b.client.sendMessage(bob, roomId, 'from bob');
  await converge(cluster, roomId);
  await a.client.sendReceipt(alice, roomId, last);
  const mxc = await uploadMedia(a.hs, new Uint8Array([1, 2, 3, 250]), 'application/octet-stream');
  await cluster.crash('a');
  const store = await track(openNodeStore('hearth-a', { indexedDB: a.idb }));
  return { a, b, alice, bob, roomId, mxc, store, serverName: a.hs.serverName };
}

describe('backup: export and import', () => {
  it('round-trips every record through fake-indexeddb → SQLite → fake-indexeddb, and the imported homeserver continues', async () => {
    const cluster = new Cluster();
    try {
      const { b, alice, bob, roomId, store, serverName } = await populated(cluster);
      const original = await dump(store);
      expect(Object.keys(original.media)).toHaveLength(1);
      const file = await fileOf(store, { ...FAST, mode: 'move' });
      await store.close();

      const summary = await verifyBackup(chunks(file)(), PASS);
      expect(summary.manifest).toMatchObject({ server_name: serverName, mode: 'move', media: true });
      expect(summary.counts.rooms).toBe(1);
      expect(summary.counts.events).toBe(original.events[0]!.length);

      const disk = await track(openSqliteStore(freshDir()));
      expect(await storeIsEmpty(disk)).toBe(true);
      await importBackup(chunks(file), disk, { passphrase: PASS });
      expect(await dump(disk)).toEqual(original);
      const again = await fileOf(disk);

      const idb = new FakeIDBFactory();
      const back = await openNodeStore('hearth-a', { indexedDB: idb });
      await importBackup(chunks(again, 65536), back, { passphrase: PASS });
      expect(await dump(back)).toEqual(original);
      await back.close();

      // Bob writes while a is away; the imported a (same name, same Alice) catches up and answers.
      await b.client.sendMessage(bob, roomId, 'while a was moving');
      const moved = await cluster.add('a', idb);
      expect(moved.hs.serverName).toBe(serverName);
      expect(moved.hs.isLocalUser(alice)).toBe(true);
      expect(moved.hs.accounts.get(alice)?.password_hash).toBe('$argon-or-pbkdf2-hash');
      await moved.hs.catchUp(b.hs.serverName);
      await converge(cluster, roomId, undefined, 20_000);
      await moved.client.sendMessage(alice, roomId, 'back after the move');
      await converge(cluster, roomId, undefined, 20_000);
      const bodies = b.client.timeline(bob, roomId, { limit: 100 }).items.map((m) => m.body);
      expect(bodies).toContain('back after the move');
    } finally {
      await cluster.stopAll();
    }
  }, 60_000);

  it('leaves media out when asked', async () => {
    const cluster = new Cluster();
    try {
      const { store } = await populated(cluster);
      const file = await fileOf(store, { ...FAST, media: false });
      const target = await track(openSqliteStore(freshDir()));
      const { counts } = await importBackup(chunks(file), target, { passphrase: PASS });
      expect(counts.media).toBe(0);
      expect(await target.listMediaIds()).toEqual([]);
      expect(await target.listRooms()).toHaveLength(1);
    } finally {
      await cluster.stopAll();
    }
  }, 60_000);
});

/** The [start, end) byte ranges of a file's frames (length word included). */
function frames(file: Uint8Array): [number, number][] {
  const out: [number, number][] = [];
  for (let at = HEADER_SIZE; at < file.length; ) {
    const len = new DataView(file.buffer, file.byteOffset).getUint32(at) & 0x7fff_ffff;
    out.push([at, at + 4 + len]);
    at += 4 + len;
  }
  return out;
}

describe('backup: a file of several frames', () => {
  it('round-trips large media across frames; a dropped, repeated or swapped frame is refused', async () => {
    const cluster = new Cluster();
    try {
      const { a, store } = await populated(cluster);
      const big = crypto.getRandomValues(new Uint8Array(60_000));
      const blobs = Array.from({ length: 40 }, (_, i) => ({ media_id: `${a.hs.serverName}/big${i}`, content_type: 'application/octet-stream', bytes: big, created_ts: i }));
      await store.write({ media: blobs });
      const file = await fileOf(store);
      const parts = frames(file);
      expect(parts.length).toBeGreaterThanOrEqual(3);
      const target = await track(openSqliteStore(freshDir()));
      await importBackup(chunks(file, 100_003), target, { passphrase: PASS });
      expect(await dump(target)).toEqual(await dump(store));

      const [f0, f1] = [parts[0]!, parts[1]!];
      const last = parts[parts.length - 1]!;
      const header = file.subarray(0, HEADER_SIZE);
      const cut = (...ranges: [number, number][]) => Buffer.concat([header, ...ranges.map(([x, y]) => file.subarray(x, y))]);
      for (const [label, bytes, kind] of [
        ['last frame dropped', file.subarray(0, last[0]), 'truncated'],
        ['frames swapped', cut(f1, f0, ...parts.slice(2)), 'wrong_passphrase'],
        ['a frame repeated', cut(f0, f1, f1, ...parts.slice(2)), 'corrupted'],
        ['a middle frame dropped', cut(f0, ...parts.slice(2)), 'corrupted'],
      ] as const) {
        const t = await track(openSqliteStore(freshDir()));
        const err = await importBackup(chunks(bytes), t, { passphrase: PASS }).catch((e: unknown) => e);
        expect((err as BackupError).kind, label).toBe(kind);
        expect(await t.listMeta(), label).toEqual({});
      }
    } finally {
      await cluster.stopAll();
    }
  }, 60_000);
});

describe('backup: refusals change nothing', () => {
  let file: Uint8Array;
  const cluster = new Cluster();
  afterAll(() => cluster.stopAll());

  beforeAll(async () => {
    const { store } = await populated(cluster);
    file = await fileOf(store);
    expect(file.length).toBeGreaterThan(HEADER_SIZE);
  }, 60_000);

  async function expectImportFails(bytes: Uint8Array, passphrase: string, kind: BackupError['kind']) {
    const target = await track(openSqliteStore(freshDir()));
    const err = await importBackup(chunks(bytes), target, { passphrase }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackupError);
    expect((err as BackupError).kind, (err as Error).message).toBe(kind);
    expect(await target.listMeta()).toEqual({});
    expect(await target.listRooms()).toEqual([]);
    expect(await target.listAccounts()).toEqual([]);
  }

  it('a wrong passphrase', async () => {
    await expectImportFails(file, 'not the passphrase', 'wrong_passphrase');
  });

  it('a file cut off anywhere', async () => {
    for (const keep of [0, 5, HEADER_SIZE - 1, HEADER_SIZE, HEADER_SIZE + 3, HEADER_SIZE + 100, file.length - 17, file.length - 1]) {
      await expectImportFails(file.subarray(0, keep), PASS, keep < 8 ? 'not_a_backup' : 'truncated');
    }
  });

  it('a damaged byte in the header, a frame or its tag, or bytes appended', async () => {
    for (const at of [9, 12, 20, 33, HEADER_SIZE + 1, HEADER_SIZE + 4 + 10, file.length - 5]) {
      const bad = file.slice();
      bad[at]! ^= 0x40;
      const err = await importBackup(chunks(bad), await track(openSqliteStore(freshDir())), { passphrase: PASS }).catch((e: unknown) => e);
      expect(err, `byte ${at}`).toBeInstanceOf(BackupError);
    }
    await expectImportFails(Buffer.concat([file, new Uint8Array([0])]), PASS, 'corrupted');
    await expectImportFails(new TextEncoder().encode('{"not":"a backup"}'), PASS, 'not_a_backup');
  });

  it('a target that already holds a homeserver', async () => {
    const target = await track(openSqliteStore(freshDir()));
    await target.write({ meta: { server_key_seed: 'AAAA' } });
    const err = await importBackup(chunks(file), target, { passphrase: PASS }).catch((e: unknown) => e);
    expect((err as BackupError).kind).toBe('refused');
    expect(await target.listMeta()).toEqual({ server_key_seed: 'AAAA' });
  });

  it('a passphrase too short to export with', async () => {
    const store = await track(openSqliteStore(freshDir()));
    await expect(fileOf(store, { passphrase: 'short', iterations: 1000 })).rejects.toThrow(/at least 8/);
  });
});

describe('backup: moving retires the old copy', () => {
  it('a moved-away homeserver keeps its data readable, refuses to send and is not exported again', async () => {
    const cluster = new Cluster();
    try {
      const { alice, roomId, store, serverName } = await populated(cluster);
      await fileOf(store, { ...FAST, mode: 'move' });
      await retireStore(store, { ts: Date.UTC(2026, 11, 6), to: 'my laptop' });
      const hs = await Homeserver.open({ store, transport: (name) => retiredTransport(name) });
      opened.splice(opened.indexOf(store), 1); // hs.stop closes it
      try {
        expect(hs.serverName).toBe(serverName);
        expect(hs.identity.movedAway).toEqual({ ts: Date.UTC(2026, 11, 6), to: 'my laptop' });
        const client = new (await import('../../src/server/client.ts')).HomeserverClient(hs);
        const before = client.timeline(alice, roomId, { limit: 100 }).items.length;
        expect(before).toBeGreaterThan(5);
        await expectRefused(client.sendMessage(alice, roomId, 'from the old copy'), 'M_FORBIDDEN', /moved to another place on 2026-12-06 \(my laptop\)/);
        await expectRefused(client.createRoom(alice, {}), 'M_FORBIDDEN', /moved/);
        expect(client.timeline(alice, roomId, { limit: 100 }).items).toHaveLength(before);
        await expect(fileOf(hs.store)).rejects.toThrow(/moved away/);
      } finally {
        await hs.stop();
      }
    } finally {
      await cluster.stopAll();
    }
  }, 60_000);

  it('a store whose import was cut off opens only to another import', async () => {
    const cluster = new Cluster();
    try {
      const { store } = await populated(cluster);
      const file = await fileOf(store);
      const target = await track(openSqliteStore(freshDir()));
      await target.write({ meta: { import_incomplete: true }, rooms: [(await store.listRooms())[0]!] });
      await expect(Homeserver.open({ store: target, transport: (name) => retiredTransport(name) })).rejects.toThrow(/import .* cut off/);
      expect(await storeIsEmpty(target)).toBe(true);
      await importBackup(chunks(file), target, { passphrase: PASS });
      expect(await target.getMeta('import_incomplete')).toBeUndefined();
      expect(await dump(target)).toEqual(await dump(store));
    } finally {
      await cluster.stopAll();
    }
  }, 60_000);
});


describe('backup: a running homeserver (the browser worker’s way)', () => {
  it('is backed up as one consistent copy while it keeps sending; a move retires it; cached remote media can be dropped', async () => {
    const net = new InProcessNetwork();
    const store = pausableStore(await openNodeStore('running', { indexedDB: new FakeIDBFactory() }));
    const hs = await Homeserver.open({ store, transport: (name) => net.transport(name), antiEntropyMs: 0 });
    try {
      const client = new HomeserverClient(hs);
      const alice = await hs.register('alice');
      const roomId = await client.createRoom(alice, { roomVersion: '11' });
      const sends = Array.from({ length: 30 }, (_, i) => client.sendMessage(alice, roomId, `m${i}`));
      const file = await backupRunning(hs, store, { passphrase: PASS, mode: 'backup', media: true });
      await Promise.all(sends);
      expect(file.serverName).toBe(hs.serverName);
      expect(file.fileName).toMatch(/^hearth-backup-\d{4}-\d{2}-\d{2}\.hearth-backup$/);
      const bytes = new Uint8Array(await file.blob.arrayBuffer());
      const target = await track(openSqliteStore(freshDir()));
      await importBackup(chunks(bytes), target, { passphrase: PASS });
      expect(await checkStoreConsistency(target)).toEqual([]);
      expect((await target.listAccounts()).map((a) => a.user_id)).toEqual([alice]);

      // Someone else's media cached here is dropped; ours stays.
      await hs.store.write({
        media: [
          { media_id: 'otherserver/abc', content_type: 'image/png', bytes: new Uint8Array(1000), created_ts: 1 },
          { media_id: `${hs.serverName}/mine`, content_type: 'image/png', bytes: new Uint8Array(10), created_ts: 1 },
        ],
      });
      expect(await dropCachedMedia(hs)).toEqual({ count: 1, bytes: 1000 });
      expect(await hs.store.listMediaIds()).toEqual([`${hs.serverName}/mine`]);

      const moved = await backupRunning(hs, store, { passphrase: PASS, mode: 'move', to: 'my phone', media: false }, Date.UTC(2026, 11, 6));
      expect(moved.fileName).toBe('hearth-move-2026-12-06.hearth-backup');
      expect(await store.getMeta('moved_away')).toEqual({ ts: Date.UTC(2026, 11, 6), to: 'my phone' });
      expect((await verifyBackup(chunks(new Uint8Array(await moved.blob.arrayBuffer()))(), PASS)).manifest.mode).toBe('move');
      // The running copy stops signing at once, not only from its next start.
      await expectRefused(client.sendMessage(alice, roomId, 'after the move'), 'M_FORBIDDEN', /moved to another place on 2026-12-06 \(my phone\)/);
      expect(hs.identity.movedAway).toEqual({ ts: Date.UTC(2026, 11, 6), to: 'my phone' });
    } finally {
      await hs.stop();
    }
  }, 60_000);
});

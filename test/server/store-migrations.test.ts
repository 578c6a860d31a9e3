/**
 * Schema migrations, from stored databases of every earlier IndexedDB schema
 * version (test/fixtures/migrations/vN.json, written by real builds of those
 * versions: see generate.ts there). Each dump is restored into fake-indexeddb
 * at its version, then opened with the current store code (which migrates
 * it) and the current engine: everything the old build wrote is there and
 * usable — identity, account, room, events, state, receipts, media, pending
 * outbox — the store is consistent, a new event can be sent, and it is there
 * after reopening. The same fixtures are checked in Chromium by
 * e2e/migrations.spec.ts. (The SQLite store is at its first schema version:
 * no earlier one to test.)
 */
import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { ClientApi } from '../../src/server/client-api/index.ts';
import { HomeserverClient } from '../../src/server/client.ts';
import { Homeserver } from '../../src/server/homeserver.ts';
import { silentLogger } from '../../src/server/log.ts';
import { checkStoreConsistency } from '../../src/server/store/consistency.ts';
import { SCHEMA_VERSION } from '../../src/server/store/idb-store.ts';
import { openNodeStore } from '../../src/server/store/node.ts';
import { InProcessNetwork } from '../../src/server/transport/in-process.ts';
import { type MigrationFixture, loadMigrationFixtures } from '../fixtures/migrations/fixtures.ts';
import { dumpIdb, restoreIdb } from '../helpers/idb-dump.ts';


async function restored(f: MigrationFixture): Promise<IDBFactory> {
  const idb = new IDBFactory();
  await restoreIdb(idb, f.dump);
  return idb;
}

describe('IndexedDB schema migrations from stored databases of every earlier version', () => {
  const fixtures = loadMigrationFixtures();

  it('there is a fixture for every earlier schema version', () => {
    expect(fixtures.map((f) => f.schema_version)).toEqual(Array.from({ length: SCHEMA_VERSION - 1 }, (_, i) => i + 1));
    for (const f of fixtures) expect(f.dump.version).toBe(f.schema_version);
  });

  for (const f of fixtures) {
    const x = f.expect;
    it(`v${f.schema_version} (${f.commit}) → v${SCHEMA_VERSION}: the store holds everything, consistently`, async () => {
      const idb = await restored(f);
      const store = await openNodeStore(f.dump.name, { indexedDB: idb });
      try {
        const [account] = await store.listAccounts();
        expect(account?.user_id).toBe(x.user_id);
        expect(account?.display_name).toBe(x.display_name);
        const room = await store.getRoom(x.room_id);
        expect(room?.extremities).toEqual(x.extremities);
        const events = await store.roomEvents(x.room_id);
        const byId = new Map(events.map((e) => [e.event_id, e]));
        // (Room version I.1 carries the text as extensible events' m.text, not body: look for it anywhere in the content.)
        for (const m of x.messages) expect(JSON.stringify(byId.get(m.event_id)?.pdu.content ?? null)).toContain(JSON.stringify(m.body));
        for (const id of [x.edit, x.reaction, x.redaction, x.redacted]) expect(byId.has(id), id).toBe(true);
        // Stream order survives the repacking of events.
        const streams = events.map((e) => e.stream);
        expect(streams).toEqual([...streams].sort((a, b) => a - b));
        expect(await store.getEvent(x.first)).toMatchObject({ event_id: x.first, room_id: x.room_id });
        const media = await store.getMedia(x.media.uri.replace('mxc://', ''));
        expect(media?.content_type).toBe(x.media.content_type);
        expect([...(media?.bytes ?? [])]).toEqual(x.media.bytes);
        expect((await store.roomReceipts(x.room_id)).map((r) => [r.user_id, r.event_id])).toContainEqual([x.receipt.user_id, x.receipt.event_id]);
        expect(await store.outbox()).toHaveLength(x.pending_outbox);
        expect(await store.listClientData()).toEqual([]);
        expect(await checkStoreConsistency(store)).toEqual([]);
      } finally {
        await store.close();
      }
      const after = await dumpIdb(idb, f.dump.name);
      expect(after.version).toBe(SCHEMA_VERSION);
      expect(after.stores.map((s) => s.name)).toContain('client_data');
    });

    it(`v${f.schema_version} (${f.commit}) → v${SCHEMA_VERSION}: the current engine opens it and carries on`, async () => {
      const idb = await restored(f);
      const open = async () => {
        const net = new InProcessNetwork();
        const store = await openNodeStore(f.dump.name, { indexedDB: idb });
        const hs = await Homeserver.open({ store, transport: (name) => net.transport(name), antiEntropyMs: 0, log: silentLogger });
        return { store, hs, client: new HomeserverClient(hs) };
      };
      let s = await open();
      let sent: string;
      try {
        expect(s.hs.serverName).toBe(x.server_name);
        expect([...s.hs.accounts.keys()]).toEqual([x.user_id]);
        const rooms = await s.client.rooms(x.user_id);
        expect(rooms.map((r) => [r.roomId, r.name])).toEqual([[x.room_id, x.room_name]]);
        expect(s.client.membership(x.remote_user, x.room_id)).toBe('join');
        const bodies = s.client.messageBodies(x.user_id, x.room_id);
        expect(bodies).toContain(`first message from v${f.schema_version}`);
        expect(bodies).toContain('second message, edited');
        expect(bodies).toContain('hello from the other server');
        expect(bodies).not.toContain('this one gets redacted');
        expect(s.client.state(x.room_id)['org.hearth.fixture']?.k).toEqual({ written_by: f.schema_version });
        expect((await s.client.downloadMedia(x.media.uri)).contentType).toBe(x.media.content_type);

        sent = await s.client.sendMessage(x.user_id, x.room_id, 'sent after the migration');
        expect(s.client.messageBodies(x.user_id, x.room_id)).toContain('sent after the migration');
        // The Client-Server API's store (new in v4) is usable.
        const api = await ClientApi.open(s.hs);
        await api.putData([{ user_id: x.user_id, kind: 'account_data', key: 'org.hearth.migrated', value: { ok: true } }]);
        expect(await checkStoreConsistency(s.store)).toEqual([]);
      } finally {
        await s.hs.stop();
        await s.store.close();
      }

      s = await open();
      try {
        expect(s.client.messageBodies(x.user_id, x.room_id)).toContain('sent after the migration');
        expect((await s.store.getRoom(x.room_id))?.extremities).toEqual([sent]);
        expect((await s.store.listClientData()).map((r) => r.key)).toContain('org.hearth.migrated');
        expect(await checkStoreConsistency(s.store)).toEqual([]);
      } finally {
        await s.hs.stop();
        await s.store.close();
      }
    });
  }
});

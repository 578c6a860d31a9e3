/**
 * The Store acceptance suite on SQLite (a directory per test), plus the
 * SQLite store's own checks: the directory lock, the schema-version table,
 * the pragmas and data surviving a close.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { DATABASE_FILE, LOCK_FILE, SQLITE_SCHEMA_VERSION, openSqliteStore } from '../../src/server/store/sqlite-store.ts';
import { type Store, StoreError } from '../../src/server/store/types.ts';
import { storeAcceptanceSuite } from './store-suite.ts';

const root = mkdtempSync(join(tmpdir(), 'hearth-sqlite-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

storeAcceptanceSuite('SQLite', (dbName) => openSqliteStore(join(root, dbName)), { nameOf: (dbName) => join(root, dbName) });

/** A pid no process has: a short-lived child's, after it exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

describe('SQLite store specifics', () => {
  let n = 0;
  const fresh = () => join(root, `specific-${n++}`);
  const open: Store[] = [];
  afterEach(async () => {
    for (const s of open.splice(0)) await s.close();
  });
  const track = async (dir: string) => {
    const s = await openSqliteStore(dir);
    open.push(s);
    return s;
  };

  it('creates the directory, the database and a LOCK holding our pid, removed on close', async () => {
    const dir = join(fresh(), 'nested', 'data');
    const store = await openSqliteStore(dir);
    expect(store.name).toBe(dir);
    expect(existsSync(join(dir, DATABASE_FILE))).toBe(true);
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8').trim()).toBe(String(process.pid));
    await store.close();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  });

  it('refuses a second open of the same directory, naming it and the holder', async () => {
    const dir = fresh();
    await track(dir);
    const err = await openSqliteStore(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).database).toBe(dir);
    expect((err as StoreError).message).toContain(dir);
    expect((err as StoreError).message).toContain(`in use by process ${process.pid} (this one)`);
    // The refused open leaves the holder's lock alone.
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8').trim()).toBe(String(process.pid));
  });

  it('opens again after close, with the data', async () => {
    const dir = fresh();
    const first = await openSqliteStore(dir);
    await first.write({ meta: { server_name: 'hs1.example' } });
    await first.close();
    const again = await track(dir);
    expect(await again.getMeta('server_name')).toBe('hs1.example');
  });

  it('takes over a stale LOCK left by a process that is gone', async () => {
    const dir = fresh();
    await (await openSqliteStore(dir)).close();
    const pid = deadPid();
    writeFileSync(join(dir, LOCK_FILE), `${pid}\n`);
    const store = await track(dir);
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8').trim()).toBe(String(process.pid));
    await store.write({ meta: { a: 1 } });
    expect(await store.getMeta('a')).toBe(1);
  });

  it('takes over an empty LOCK (a process that died while creating it)', async () => {
    const dir = fresh();
    await (await openSqliteStore(dir)).close();
    writeFileSync(join(dir, LOCK_FILE), '');
    await track(dir);
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8').trim()).toBe(String(process.pid));
  });

  it('refuses a directory another live process holds', async () => {
    const dir = fresh();
    await (await openSqliteStore(dir)).close();
    // Our parent (the test runner's) is alive and is not us.
    writeFileSync(join(dir, LOCK_FILE), `${process.ppid}\n`);
    const err = await openSqliteStore(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).message).toContain(`${dir}: data directory in use by process ${process.ppid}`);
    rmSync(join(dir, LOCK_FILE));
  });

  it('records the schema version and uses WAL', async () => {
    const dir = fresh();
    await (await openSqliteStore(dir)).close();
    const db = new Database(join(dir, DATABASE_FILE), { readonly: true });
    try {
      expect(db.prepare('SELECT version FROM schema_version').all()).toEqual([{ version: SQLITE_SCHEMA_VERSION }]);
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    } finally {
      db.close();
    }
  });

  it('refuses a database from a newer schema version, and leaves it unlocked', async () => {
    const dir = fresh();
    await (await openSqliteStore(dir)).close();
    const db = new Database(join(dir, DATABASE_FILE));
    db.prepare('UPDATE schema_version SET version = ?').run(SQLITE_SCHEMA_VERSION + 1);
    db.close();
    const err = await openSqliteStore(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).message).toMatch(/newer/);
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  });

  it('an event written again replaces its only copy (no row keeps the redacted content)', async () => {
    const dir = fresh();
    const store = await openSqliteStore(dir);
    const ev = (body: string, extra = {}) => ({
      event_id: '$p',
      room_id: '!p:x',
      stream: 1,
      status: 'accepted' as const,
      pdu: { room_id: '!p:x', type: 'm.room.message', content: body ? { body } : {} } as never,
      ...extra,
    });
    await store.write({ events: [ev('secret words')] });
    await store.write({ events: [ev('', { redacted_by: '$r' })] });
    expect((await store.roomEvents('!p:x')).map((e) => e.redacted_by)).toEqual(['$r']);
    await store.close();
    const db = new Database(join(dir, DATABASE_FILE), { readonly: true });
    try {
      const rows = db.prepare('SELECT json FROM events').all() as { json: string }[];
      expect(rows).toHaveLength(1);
      expect(rows[0]?.json).not.toContain('secret words');
    } finally {
      db.close();
    }
  });
});

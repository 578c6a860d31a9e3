/**
 * Moving a `hearth serve` homeserver with `hearth export --mode move` and
 * `hearth serve --data B --import FILE`: the imported copy keeps its server
 * name, its account (password login) and its room; the peer it shared the
 * room with catches it up on what was said while it moved, and hears it
 * again; the old directory starts read-only and off the network.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { messageIdsVia } from '../durability/crash-harness.ts';
import { type HearthProcess, startHearth, stopHearth } from '../helpers/hearth-process.ts';

const BIN = fileURLToPath(new URL('../../bin/hearth.mjs', import.meta.url));
const PASSPHRASE = 'a long and secret passphrase';
const PASSWORD = 'correct horse battery staple';
const root = mkdtempSync(join(tmpdir(), 'hearth-move-'));
const procs: HearthProcess[] = [];
afterAll(async () => {
  await Promise.all(procs.map((p) => stopHearth(p, 5000)));
  rmSync(root, { recursive: true, force: true });
});

async function start(args: string[], env: Record<string, string> = {}): Promise<HearthProcess> {
  const saved = { ...process.env };
  Object.assign(process.env, env); // startHearth spawns with this process's environment
  try {
    const p = await startHearth(args, 60_000);
    procs.push(p);
    return p;
  } finally {
    process.env = saved;
  }
}

// biome-ignore lint/suspicious/noExplicitAny: responses are read ad hoc
type Json = any;

async function api(base: string, method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; json: Json }> {
  const res = await fetch(`${base}/_matrix/client/v3${path}`, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(20_000),
  });
  return { status: res.status, json: await res.json().catch(() => null) };
}

async function ok(base: string, method: string, path: string, body?: unknown, token?: string): Promise<Json> {
  const r = await api(base, method, path, body, token);
  if (r.status !== 200) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json;
}

const login = async (base: string, user: string) =>
  (await ok(base, 'POST', '/login', { type: 'm.login.password', identifier: { type: 'm.id.user', user }, password: PASSWORD })).access_token as string;

let txn = 0;
const send = (base: string, token: string, roomId: string, body: string) =>
  api(base, 'PUT', `/rooms/${encodeURIComponent(roomId)}/send/m.room.message/t${txn++}`, { msgtype: 'm.text', body }, token);

/** Waits until `base`'s view of the room holds every body in `bodies`. */
async function untilBodies(base: string, token: string, roomId: string, bodies: string[], what: string): Promise<void> {
  const deadline = Date.now() + 90_000;
  let seen: string[] = [];
  while (Date.now() < deadline) {
    seen = [...(await messageIdsVia((m, p, b, t) => api(base, m, p, b, t), token, roomId)).values()];
    if (bodies.every((b) => seen.includes(b))) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what}: expected ${JSON.stringify(bodies)}, saw ${JSON.stringify(seen)}`);
}

describe('hearth export --mode move, hearth serve --import', () => {
  it('the imported copy continues the room under the same name; the old one is retired', { timeout: 240_000 }, async () => {
    const dirA = join(root, 'a');
    const dirB = join(root, 'b');
    const file = join(root, 'alice.hearth-backup');
    const relay = await start(['relay', '--port', '0', '--tcp-port', '0', '--key-file', join(root, 'relay.key')]);
    const viaRelay = ['--relay', relay.info.tcp_multiaddr, '--client-port', '0'];
    const [a, peer] = await Promise.all([start(['serve', '--data', dirA, ...viaRelay]), start(['serve', ...viaRelay])]);
    const serverName = a.info.server_name;
    const aUrl = a.info.client_url;
    const peerUrl = peer.info.client_url;
    const register = async (base: string, username: string) =>
      (await ok(base, 'POST', '/register', { username, password: PASSWORD, auth: { type: 'm.login.dummy' } })).access_token as string;
    const alice = await register(aUrl, 'alice');
    const bob = await register(peerUrl, 'bob');
    const { room_id: roomId } = await ok(aUrl, 'POST', '/createRoom', { preset: 'public_chat', name: 'Moving day' }, alice);
    const joinDeadline = Date.now() + 60_000;
    for (;;) {
      const r = await api(peerUrl, 'POST', `/join/${encodeURIComponent(roomId)}?server_name=${encodeURIComponent(serverName)}`, {}, bob);
      if (r.status === 200) break;
      if (Date.now() > joinDeadline) throw new Error(`bob could not join: ${r.status} ${JSON.stringify(r.json)}`);
      await new Promise((res) => setTimeout(res, 500));
    }
    expect((await send(aUrl, alice, roomId, 'alice before the move')).status).toBe(200);
    expect((await send(peerUrl, bob, roomId, 'bob before the move')).status).toBe(200);
    await untilBodies(peerUrl, bob, roomId, ['alice before the move', 'bob before the move'], 'the peer before the move');
    await untilBodies(aUrl, alice, roomId, ['bob before the move'], 'a before the move');

    // Export (a must be stopped: the directory's lock), marking the move.
    await stopHearth(a);
    const wrong = spawnSync(process.execPath, [BIN, 'export', '--data', dirA, '--out', file, '--mode', 'move'], {
      encoding: 'utf8',
      env: { ...process.env, HEARTH_BACKUP_PASSPHRASE: '' },
    });
    expect(wrong.status).not.toBe(0);
    expect(wrong.stderr).toContain('HEARTH_BACKUP_PASSPHRASE');
    const exported = spawnSync(process.execPath, [BIN, 'export', '--data', dirA, '--out', file, '--mode', 'move', '--to', 'the new machine'], {
      encoding: 'utf8',
      env: { ...process.env, HEARTH_BACKUP_PASSPHRASE: PASSPHRASE },
    });
    expect(exported.status, exported.stderr).toBe(0);
    const out = JSON.parse(exported.stdout);
    expect(out).toMatchObject({ server_name: serverName, mode: 'move' });
    expect(out.counts.rooms).toBe(1);
    expect(out.counts.accounts).toBe(1);

    // Bob talks while alice's homeserver is between places.
    expect((await send(peerUrl, bob, roomId, 'bob while a moves')).status).toBe(200);

    // A wrong passphrase imports nothing; then the real import.
    const refused = spawnSync(process.execPath, [BIN, 'serve', '--data', dirB, '--import', file], {
      encoding: 'utf8',
      env: { ...process.env, HEARTH_BACKUP_PASSPHRASE: 'not the passphrase' },
      timeout: 60_000,
    });
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain('wrong passphrase');
    const b = await start(['serve', '--data', dirB, '--import', file, ...viaRelay], { HEARTH_BACKUP_PASSPHRASE: PASSPHRASE });
    expect(b.info.server_name).toBe(serverName);
    const bUrl = b.info.client_url;
    const aliceAgain = await login(bUrl, 'alice');
    const joined = await ok(bUrl, 'GET', '/joined_rooms', undefined, aliceAgain);
    expect(joined.joined_rooms).toContain(roomId);
    await untilBodies(bUrl, aliceAgain, roomId, ['alice before the move', 'bob before the move', 'bob while a moves'], 'the new copy catching up');
    expect((await send(bUrl, aliceAgain, roomId, 'alice after the move')).status).toBe(200);
    await untilBodies(peerUrl, bob, roomId, ['alice after the move'], 'the peer hearing the new copy');

    // The old directory is retired: read-only, off the network, and it says where it went.
    const old = await start(['serve', '--data', dirA, '--client-port', '0']);
    expect(old.info.server_name).toBe(serverName);
    expect(old.info.multiaddrs).toEqual([]);
    expect((old.info as unknown as { moved_away: { to: string } }).moved_away.to).toBe('the new machine');
    const oldAlice = await login(old.info.client_url, 'alice');
    await untilBodies(old.info.client_url, oldAlice, roomId, ['alice before the move'], 'the old copy reading');
    const refusedSend = await send(old.info.client_url, oldAlice, roomId, 'from the old copy');
    expect(refusedSend.status).toBe(403);
    expect(refusedSend.json.error).toMatch(/moved to another place on .* \(the new machine\)/);
  });
});

/**
 * End-to-end encryption support on the server (Client-Server API and
 * federation), driven through the API handler on in-process servers: key
 * upload/query/claim (a one-time key is claimed once, then the fallback
 * key), to-device delivery (kept until the device syncs past the batch
 * that carried it; idempotent per transaction; across servers and through
 * a partition), device deletion, cross-signing uploads (password needed to
 * replace keys), device-list changes (local and over federation) and key
 * backup. The real-client test is e2ee-js-sdk.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster } from '../../src/sim/cluster.ts';
import { converge } from '../server/engine-helpers.ts';
import { type ApiUser, type CallResult, call, enc, expectError, register, twoApiServers } from './helpers.ts';
import { waitFor } from '../helpers/js-sdk-console.ts';
import type { JsonObject, JsonValue } from '../../src/core/json.ts';
import type { ClientApi } from '../../src/server/client-api/api.ts';

let cluster: Cluster;
afterEach(async () => cluster?.stopAll());

const PASSWORD = 'correct horse battery';

function deviceKeys(u: ApiUser, tag = 'x') {
  return {
    user_id: u.userId,
    device_id: u.deviceId,
    algorithms: ['m.olm.v1.curve25519-aes-sha2', 'm.megolm.v1.aes-sha2'],
    keys: { [`curve25519:${u.deviceId}`]: `curve-${tag}`, [`ed25519:${u.deviceId}`]: `ed-${tag}` },
    signatures: { [u.userId]: { [`ed25519:${u.deviceId}`]: `sig-${tag}` } },
  };
}

function otks(prefix: string, n: number) {
  const out: Record<string, JsonValue> = {};
  for (let i = 0; i < n; i++) out[`signed_curve25519:${prefix}${i}`] = { key: `k-${prefix}${i}`, signatures: {} };
  return out;
}

async function login(api: ClientApi, user: ApiUser, deviceId?: string): Promise<ApiUser> {
  const r = await call(api, 'POST', '/login', {
    type: 'm.login.password',
    identifier: { type: 'm.id.user', user: user.userId },
    password: PASSWORD,
    ...(deviceId ? { device_id: deviceId } : {}),
  });
  expect(r.status, JSON.stringify(r.json)).toBe(200);
  return { userId: user.userId, token: r.json.access_token, deviceId: r.json.device_id };
}

async function sync(api: ClientApi, u: ApiUser, since?: string): Promise<CallResult> {
  const r = await call(api, 'GET', `/sync?timeout=0${since ? `&since=${enc(since)}` : ''}`, undefined, u.token);
  expect(r.status, JSON.stringify(r.json)).toBe(200);
  return r;
}

async function oneServer() {
  cluster = new Cluster();
  const { a, alice } = await twoApiServers(cluster);
  return { a, alice };
}

describe('client API: end-to-end encryption keys', () => {
  it('refuses malformed uploads, queries and claims with spec errors', async () => {
    const { a, alice } = await oneServer();
    const other = await register(a.api, 'mallory');
    const cases: [string, () => Promise<CallResult>, number, string][] = [
      ['device keys of another user', () => call(a.api, 'POST', '/keys/upload', { device_keys: deviceKeys(other) }, alice.token), 400, 'M_INVALID_PARAM'],
      ['device keys of another device', () => call(a.api, 'POST', '/keys/upload', { device_keys: { ...deviceKeys(alice), device_id: 'OTHER' } }, alice.token), 400, 'M_INVALID_PARAM'],
      ['device keys without keys', () => call(a.api, 'POST', '/keys/upload', { device_keys: { ...deviceKeys(alice), keys: {} } }, alice.token), 400, 'M_INVALID_PARAM'],
      ['device keys not an object', () => call(a.api, 'POST', '/keys/upload', { device_keys: 'nope' }, alice.token), 400, 'M_BAD_JSON'],
      ['one-time key ID without algorithm', () => call(a.api, 'POST', '/keys/upload', { one_time_keys: { nocolon: 'k' } }, alice.token), 400, 'M_INVALID_PARAM'],
      ['one-time key of a bad type', () => call(a.api, 'POST', '/keys/upload', { one_time_keys: { 'signed_curve25519:A': 5 } }, alice.token), 400, 'M_INVALID_PARAM'],
      ['no token', () => call(a.api, 'POST', '/keys/upload', {}), 401, 'M_MISSING_TOKEN'],
      ['query of a non-object', () => call(a.api, 'POST', '/keys/query', { device_keys: [] }, alice.token), 400, 'M_BAD_JSON'],
      ['query with device IDs not strings', () => call(a.api, 'POST', '/keys/query', { device_keys: { [alice.userId]: [1] } }, alice.token), 400, 'M_BAD_JSON'],
      ['query with a negative timeout', () => call(a.api, 'POST', '/keys/query', { device_keys: {}, timeout: -1 }, alice.token), 400, 'M_INVALID_PARAM'],
      ['claim with algorithm not a string', () => call(a.api, 'POST', '/keys/claim', { one_time_keys: { [alice.userId]: { D: 1 } } }, alice.token), 400, 'M_BAD_JSON'],
      ['changes without to', () => call(a.api, 'GET', '/keys/changes?from=s0_0_x', undefined, alice.token), 400, 'M_MISSING_PARAM'],
      ['changes with a bad token', () => call(a.api, 'GET', '/keys/changes?from=nope&to=s1_0_x', undefined, alice.token), 400, 'M_INVALID_PARAM'],
      ['to-device without messages', () => call(a.api, 'PUT', '/sendToDevice/m.test/t0', {}, alice.token), 400, 'M_BAD_JSON'],
      ['to-device to a non-user', () => call(a.api, 'PUT', '/sendToDevice/m.test/t1', { messages: { bob: { D: {} } } }, alice.token), 400, 'M_INVALID_PARAM'],
      ['cross-signing without a master key', () => call(a.api, 'POST', '/keys/device_signing/upload', {}, alice.token), 400, 'M_INVALID_PARAM'],
    ];
    for (const [name, run, status, errcode] of cases) {
      const r = await run();
      expect({ name, status: r.status, errcode: r.json?.errcode }).toEqual({ name, status, errcode });
    }
    // Nothing was stored by the refusals.
    expect((await call(a.api, 'POST', '/keys/upload', {}, alice.token)).json).toEqual({ one_time_key_counts: {} });
  });

  it('stores device keys and one-time keys; a one-time key is claimed once, then the fallback key (reported used in /sync)', async () => {
    const { a, alice } = await oneServer();
    const bob = await register(a.api, 'bob2');
    const up = await call(a.api, 'POST', '/keys/upload', { device_keys: deviceKeys(alice), one_time_keys: otks('A', 2), fallback_keys: { 'signed_curve25519:FB': { key: 'fb', fallback: true, signatures: {} } } }, alice.token);
    expect(up.status, JSON.stringify(up.json)).toBe(200);
    expect(up.json.one_time_key_counts).toEqual({ signed_curve25519: 2 });
    // Same ID, different key: refused; same ID and key again: fine.
    expectError(await call(a.api, 'POST', '/keys/upload', { one_time_keys: { 'signed_curve25519:A0': { key: 'other' } } }, alice.token), 400, 'M_INVALID_PARAM');
    expect((await call(a.api, 'POST', '/keys/upload', { one_time_keys: otks('A', 1) }, alice.token)).json.one_time_key_counts).toEqual({ signed_curve25519: 2 });
    // Different identity keys for the same device: refused.
    expectError(await call(a.api, 'POST', '/keys/upload', { device_keys: deviceKeys(alice, 'y') }, alice.token), 400, 'M_INVALID_PARAM');

    const q = await call(a.api, 'POST', '/keys/query', { device_keys: { [alice.userId]: [] } }, bob.token);
    expect(q.status).toBe(200);
    expect(q.json.device_keys[alice.userId][alice.deviceId]).toMatchObject({ ...deviceKeys(alice), unsigned: { device_display_name: expect.any(String) } });
    expect(q.json.failures).toEqual({});

    const claim = () => call(a.api, 'POST', '/keys/claim', { one_time_keys: { [alice.userId]: { [alice.deviceId]: 'signed_curve25519' } } }, bob.token);
    const got: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await claim();
      expect(r.status).toBe(200);
      got.push(Object.keys(r.json.one_time_keys[alice.userId][alice.deviceId])[0]!);
    }
    expect(got.slice(0, 2).sort()).toEqual(['signed_curve25519:A0', 'signed_curve25519:A1']);
    // Then the fallback key, as often as asked.
    expect(got.slice(2)).toEqual(['signed_curve25519:FB', 'signed_curve25519:FB']);
    const s = await sync(a.api, alice);
    expect(s.json.device_one_time_keys_count).toEqual({});
    expect(s.json.device_unused_fallback_key_types).toEqual([]);
    // A new fallback key is unused again.
    await call(a.api, 'POST', '/keys/upload', { fallback_keys: { 'signed_curve25519:FB2': { key: 'fb2', fallback: true } } }, alice.token);
    expect((await sync(a.api, alice)).json.device_unused_fallback_key_types).toEqual(['signed_curve25519']);
    // An unknown device or user gets nothing (and no error).
    const none = await call(a.api, 'POST', '/keys/claim', { one_time_keys: { [alice.userId]: { NOPE: 'signed_curve25519' }, [`@ghost:${a.hs.serverName}`]: { X: 'signed_curve25519' } } }, bob.token);
    expect(none.json).toEqual({ one_time_keys: {}, failures: {} });
  });

  it('concurrent claims never hand out the same one-time key', async () => {
    const { a, alice } = await oneServer();
    await call(a.api, 'POST', '/keys/upload', { device_keys: deviceKeys(alice), one_time_keys: otks('C', 5) }, alice.token);
    const rs = await Promise.all(
      Array.from({ length: 5 }, () => call(a.api, 'POST', '/keys/claim', { one_time_keys: { [alice.userId]: { [alice.deviceId]: 'signed_curve25519' } } }, alice.token)),
    );
    const ids = rs.map((r) => Object.keys(r.json.one_time_keys[alice.userId][alice.deviceId])[0]);
    expect(new Set(ids).size).toBe(5);
  });

  it('keys survive a restart; deleting a device deletes its keys and queued messages', async () => {
    const { a, alice } = await oneServer();
    const second = await login(a.api, alice, 'SECOND');
    await call(a.api, 'POST', '/keys/upload', { device_keys: deviceKeys(second), one_time_keys: otks('S', 3) }, second.token);
    await call(a.api, 'PUT', '/sendToDevice/m.test/t1', { messages: { [alice.userId]: { SECOND: { n: 1 } } } }, alice.token);
    await cluster.crash('a');
    const b = await cluster.restart('a');
    const { ClientApi } = await import('../../src/server/client-api/api.ts');
    const api = await ClientApi.open(b.hs, { pbkdf2Iterations: 1000 });
    const q = await call(api, 'POST', '/keys/query', { device_keys: { [alice.userId]: [] } }, alice.token);
    expect(Object.keys(q.json.device_keys[alice.userId])).toEqual(['SECOND']);
    expect((await sync(api, second)).json.to_device.events).toEqual([{ sender: alice.userId, type: 'm.test', content: { n: 1 } }]);
    expect((await sync(api, second)).json.device_one_time_keys_count).toEqual({ signed_curve25519: 3 });

    const del = await call(api, 'DELETE', '/devices/SECOND', { auth: { type: 'm.login.password', identifier: { type: 'm.id.user', user: alice.userId }, password: PASSWORD } }, alice.token);
    expect(del.status, JSON.stringify(del.json)).toBe(200);
    const q2 = await call(api, 'POST', '/keys/query', { device_keys: { [alice.userId]: [] } }, alice.token);
    expect(q2.json.device_keys[alice.userId]).toEqual({});
    expect(b.hs.e2ee.pendingToDevice(alice.userId, 'SECOND', Number.MAX_SAFE_INTEGER)).toEqual([]);
    const stored = (await b.hs.store.listClientData()).filter((r) => r.kind.startsWith('e2e.') && r.key.startsWith('SECOND'));
    expect(stored).toEqual([]);
  });
});

describe('client API: to-device messages', () => {
  it('are kept until the device syncs past the batch that carried them, and sent once per transaction ID', async () => {
    const { a, alice } = await oneServer();
    const other = await login(a.api, alice, 'OTHER');
    const s0 = await sync(a.api, other);
    const send = (txn: string, n: number) => call(a.api, 'PUT', `/sendToDevice/m.room_key_request/${txn}`, { messages: { [alice.userId]: { OTHER: { n } } } }, alice.token);
    expect((await send('t1', 1)).status).toBe(200);
    expect((await send('t1', 1)).status).toBe(200); // a retry: not sent again
    expect((await send('t2', 2)).status).toBe(200);
    const s1 = await sync(a.api, other, s0.json.next_batch);
    expect(s1.json.to_device.events.map((e: { content: { n: number } }) => e.content.n)).toEqual([1, 2]);
    // The client lost that response and syncs from s0 again: the messages are still there.
    const again = await sync(a.api, other, s0.json.next_batch);
    expect(again.json.to_device.events.map((e: { content: { n: number } }) => e.content.n)).toEqual([1, 2]);
    // Syncing with the batch that followed: delivered, so gone.
    const s2 = await sync(a.api, other, s1.json.next_batch);
    expect(s2.json.to_device.events).toEqual([]);
    expect(a.hs.e2ee.pendingToDevice(alice.userId, 'OTHER', Number.MAX_SAFE_INTEGER)).toEqual([]);
    // `*` reaches every device of the user; an unknown device nothing.
    await call(a.api, 'PUT', '/sendToDevice/m.test/t3', { messages: { [alice.userId]: { '*': { all: true } } } }, alice.token);
    await call(a.api, 'PUT', '/sendToDevice/m.test/t4', { messages: { [alice.userId]: { NOPE: { lost: true } } } }, alice.token);
    expect((await sync(a.api, other, s2.json.next_batch)).json.to_device.events).toEqual([{ sender: alice.userId, type: 'm.test', content: { all: true } }]);
    expect((await sync(a.api, alice)).json.to_device.events).toEqual([{ sender: alice.userId, type: 'm.test', content: { all: true } }]);
  });

  it('a long-poll wakes for a to-device message', async () => {
    const { a, alice } = await oneServer();
    const other = await login(a.api, alice, 'OTHER');
    const s0 = await sync(a.api, other);
    const poll = call(a.api, 'GET', `/sync?timeout=20000&since=${enc(s0.json.next_batch)}`, undefined, other.token);
    await new Promise((r) => setTimeout(r, 50));
    await call(a.api, 'PUT', '/sendToDevice/m.test/w1', { messages: { [alice.userId]: { OTHER: { wake: 1 } } } }, alice.token);
    expect((await poll).json.to_device.events).toEqual([{ sender: alice.userId, type: 'm.test', content: { wake: 1 } }]);
  });
});

describe('client API: cross-signing', () => {
  const key = (u: ApiUser, use: string, id: string, signedBy?: string) => ({
    user_id: u.userId,
    usage: [use],
    keys: { [`ed25519:${id}`]: id },
    ...(signedBy ? { signatures: { [u.userId]: { [`ed25519:${signedBy}`]: 'sig' } } } : {}),
  });

  it('the first upload needs no password; replacing the keys does; signatures are merged', async () => {
    const { a, alice } = await oneServer();
    const keys = { master_key: key(alice, 'master', 'M1'), self_signing_key: key(alice, 'self_signing', 'S1', 'M1'), user_signing_key: key(alice, 'user_signing', 'U1', 'M1') };
    expectError(await call(a.api, 'POST', '/keys/device_signing/upload', { ...keys, self_signing_key: key(alice, 'self_signing', 'S1') }, alice.token), 400, 'M_INVALID_PARAM');
    expect((await call(a.api, 'POST', '/keys/device_signing/upload', keys, alice.token)).status).toBe(200);
    // The same keys again: no password needed.
    expect((await call(a.api, 'POST', '/keys/device_signing/upload', keys, alice.token)).status).toBe(200);
    const replace = { master_key: key(alice, 'master', 'M2'), self_signing_key: key(alice, 'self_signing', 'S2', 'M2') };
    const challenge = await call(a.api, 'POST', '/keys/device_signing/upload', replace, alice.token);
    expect(challenge.status).toBe(401);
    expect(challenge.json.flows).toEqual([{ stages: ['m.login.password'] }]);
    const wrong = await call(a.api, 'POST', '/keys/device_signing/upload', { ...replace, auth: { type: 'm.login.password', session: challenge.json.session, identifier: { type: 'm.id.user', user: alice.userId }, password: 'wrong' } }, alice.token);
    expect(wrong.status).toBe(401);
    expect(wrong.json.errcode).toBe('M_FORBIDDEN');
    const ok = await call(a.api, 'POST', '/keys/device_signing/upload', { ...replace, auth: { type: 'm.login.password', session: challenge.json.session, identifier: { type: 'm.id.user', user: alice.userId }, password: PASSWORD } }, alice.token);
    expect(ok.status, JSON.stringify(ok.json)).toBe(200);

    await call(a.api, 'POST', '/keys/upload', { device_keys: deviceKeys(alice) }, alice.token);
    const signed = { ...deviceKeys(alice), signatures: { [alice.userId]: { 'ed25519:S2': 'by-ssk' } } };
    const up = await call(a.api, 'POST', '/keys/signatures/upload', { [alice.userId]: { [alice.deviceId]: signed, NOPE: { ...signed, device_id: 'NOPE' } } }, alice.token);
    expect(up.status).toBe(200);
    expect(Object.keys(up.json.failures[alice.userId])).toEqual(['NOPE']);
    const q = await call(a.api, 'POST', '/keys/query', { device_keys: { [alice.userId]: [] } }, alice.token);
    expect(q.json.device_keys[alice.userId][alice.deviceId].signatures[alice.userId]).toEqual({ [`ed25519:${alice.deviceId}`]: 'sig-x', 'ed25519:S2': 'by-ssk' });
    expect(q.json.master_keys[alice.userId].keys).toEqual({ 'ed25519:M2': 'M2' });
    expect(q.json.self_signing_keys[alice.userId].keys).toEqual({ 'ed25519:S2': 'S2' });
    // user_signing_key only to its owner.
    expect(q.json.user_signing_keys[alice.userId].keys).toEqual({ 'ed25519:U1': 'U1' });
    const bob = await register(a.api, 'bob3');
    const qb = await call(a.api, 'POST', '/keys/query', { device_keys: { [alice.userId]: [] } }, bob.token);
    expect(qb.json.user_signing_keys).toEqual({});
  });
});

describe('client API: key backup', () => {
  const data = (fmi: number, verified: boolean, tag: string) => ({ first_message_index: fmi, forwarded_count: 0, is_verified: verified, session_data: { ciphertext: tag } });

  it('versions and keys: create, upload (the better copy wins), read, wrong version, delete', async () => {
    const { a, alice } = await oneServer();
    expectError(await call(a.api, 'GET', '/room_keys/version', undefined, alice.token), 404, 'M_NOT_FOUND');
    expectError(await call(a.api, 'POST', '/room_keys/version', { algorithm: 'm.megolm_backup.v1.curve25519-aes-sha2' }, alice.token), 400, 'M_BAD_JSON');
    const v1 = await call(a.api, 'POST', '/room_keys/version', { algorithm: 'm.megolm_backup.v1.curve25519-aes-sha2', auth_data: { public_key: 'pk1' } }, alice.token);
    expect(v1.json).toEqual({ version: '1' });
    const put = (version: string, body: unknown) => call(a.api, 'PUT', `/room_keys/keys?version=${version}`, body as never, alice.token);
    const r1 = await put('1', { rooms: { '!r:x': { sessions: { S1: data(5, false, 'a'), S2: data(0, false, 'b') } } } });
    expect(r1.json).toEqual({ count: 2, etag: '1' });
    // Worse copy (higher index): kept the old; better (verified): replaced.
    expect((await put('1', { rooms: { '!r:x': { sessions: { S1: data(9, false, 'worse') } } } })).json).toEqual({ count: 2, etag: '1' });
    expect((await put('1', { rooms: { '!r:x': { sessions: { S1: data(9, true, 'verified') } } } })).json).toEqual({ count: 2, etag: '2' });
    expectError(await put('1', { rooms: { '!r:x': { sessions: { S3: { first_message_index: 0 } } } } }), 400, 'M_BAD_JSON');
    expectError(await put('9', { rooms: {} }), 404, 'M_NOT_FOUND');
    expectError(await call(a.api, 'PUT', '/room_keys/keys', { rooms: {} }, alice.token), 400, 'M_MISSING_PARAM');
    const session = await call(a.api, 'GET', `/room_keys/keys/${enc('!r:x')}/S1?version=1`, undefined, alice.token);
    expect(session.json.session_data).toEqual({ ciphertext: 'verified' });
    expect((await call(a.api, 'GET', '/room_keys/version', undefined, alice.token)).json).toEqual({
      algorithm: 'm.megolm_backup.v1.curve25519-aes-sha2',
      auth_data: { public_key: 'pk1' },
      version: '1',
      etag: '2',
      count: 2,
    });
    // A new version: uploads to the old one are refused with the current version named.
    await call(a.api, 'POST', '/room_keys/version', { algorithm: 'm.megolm_backup.v1.curve25519-aes-sha2', auth_data: { public_key: 'pk2' } }, alice.token);
    const stale = await put('1', { rooms: {} });
    expectError(stale, 403, 'M_WRONG_ROOM_KEYS_VERSION');
    expect(stale.json.current_version).toBe('2');
    expect((await call(a.api, 'GET', '/room_keys/keys?version=1', undefined, alice.token)).json.rooms['!r:x'].sessions.S2).toEqual(data(0, false, 'b'));
    expect((await call(a.api, 'DELETE', `/room_keys/keys/${enc('!r:x')}/S2?version=1`, undefined, alice.token)).json).toEqual({ count: 1, etag: '3' });
    expectError(await call(a.api, 'GET', `/room_keys/keys/${enc('!r:x')}/S2?version=1`, undefined, alice.token), 404, 'M_NOT_FOUND');
    // Updating auth_data; the algorithm cannot change.
    expectError(await call(a.api, 'PUT', '/room_keys/version/2', { algorithm: 'other', auth_data: {} }, alice.token), 400, 'M_INVALID_PARAM');
    expect((await call(a.api, 'PUT', '/room_keys/version/2', { algorithm: 'm.megolm_backup.v1.curve25519-aes-sha2', auth_data: { public_key: 'pk2', signatures: {} } }, alice.token)).status).toBe(200);
    expect((await call(a.api, 'DELETE', '/room_keys/version/2', undefined, alice.token)).status).toBe(200);
    expect((await call(a.api, 'GET', '/room_keys/version', undefined, alice.token)).json.version).toBe('1');
    // Version numbers are not reused after a delete.
    expect((await call(a.api, 'POST', '/room_keys/version', { algorithm: 'm.megolm_backup.v1.curve25519-aes-sha2', auth_data: {} }, alice.token)).json.version).toBe('3');
  });
});

describe('federation: keys, device lists and to-device messages between servers', () => {
  async function shared() {
    cluster = new Cluster();
    const { a, b, alice, bob } = await twoApiServers(cluster);
    const roomId = await a.client.createRoom(alice.userId, { preset: 'public_chat' });
    await b.client.join(bob.userId, roomId, [a.hs.serverName]);
    await converge(cluster, roomId);
    await call(a.api, 'POST', '/keys/upload', { device_keys: deviceKeys(alice), one_time_keys: otks('A', 1) }, alice.token);
    await call(b.api, 'POST', '/keys/upload', { device_keys: deviceKeys(bob), one_time_keys: otks('B', 1) }, bob.token);
    return { a, b, alice, bob, roomId };
  }

  it('queries and claims keys of a remote user; a new device of theirs shows in device_lists.changed and in the next query', async () => {
    const { a, b, alice, bob } = await shared();
    const q = await call(b.api, 'POST', '/keys/query', { device_keys: { [alice.userId]: [] } }, bob.token);
    expect(q.status).toBe(200);
    expect(q.json.failures).toEqual({});
    expect(Object.keys(q.json.device_keys[alice.userId])).toEqual([alice.deviceId]);
    const c = await call(b.api, 'POST', '/keys/claim', { one_time_keys: { [alice.userId]: { [alice.deviceId]: 'signed_curve25519' } } }, bob.token);
    expect(c.json.one_time_keys[alice.userId][alice.deviceId]).toEqual({ 'signed_curve25519:A0': { key: 'k-A0', signatures: {} } });
    expect(a.hs.e2ee.oneTimeKeyCounts(alice.userId, alice.deviceId)).toEqual({});

    const s0 = await sync(b.api, bob);
    const second = await login(a.api, alice, 'ALICE2');
    await call(a.api, 'POST', '/keys/upload', { device_keys: deviceKeys(second, 'two') }, second.token);
    let since = s0.json.next_batch;
    await cluster.until(
      () => b.hs.e2ee.changedAt(alice.userId) > 0,
      10_000,
      () => "alice's device-list update on b",
    );
    const s1 = await sync(b.api, bob, since);
    expect(s1.json.device_lists.changed).toContain(alice.userId);
    since = s1.json.next_batch;
    const changes = await call(b.api, 'GET', `/keys/changes?from=${enc(s0.json.next_batch)}&to=${enc(since)}`, undefined, bob.token);
    expect(changes.json.changed).toContain(alice.userId);
    await cluster.until(
      () => Object.keys(b.hs.e2ee.cachedRemote(alice.userId)?.devices ?? {}).length === 2,
      10_000,
      () => `b's cached list of alice's devices: ${JSON.stringify(b.hs.e2ee.cachedRemote(alice.userId))}`,
    );
    const q2 = await call(b.api, 'POST', '/keys/query', { device_keys: { [alice.userId]: [] } }, bob.token);
    expect(Object.keys(q2.json.device_keys[alice.userId]).sort()).toEqual([alice.deviceId, 'ALICE2'].sort());
    // A new name reaches b, and b's answers show it.
    expect((await call(a.api, 'PUT', '/devices/ALICE2', { display_name: 'Garden laptop' }, alice.token)).status).toBe(200);
    await cluster.until(
      () => b.hs.e2ee.cachedRemote(alice.userId)?.devices?.ALICE2?.device_display_name === 'Garden laptop',
      10_000,
      () => `the new name on b: ${JSON.stringify(b.hs.e2ee.cachedRemote(alice.userId))}`,
    );
    const q3 = await call(b.api, 'POST', '/keys/query', { device_keys: { [alice.userId]: ['ALICE2'] } }, bob.token);
    expect(q3.json.device_keys[alice.userId].ALICE2.unsigned).toEqual({ device_display_name: 'Garden laptop' });
    // Deleting it reaches b too.
    await call(a.api, 'POST', '/delete_devices', { devices: ['ALICE2'], auth: { type: 'm.login.password', identifier: { type: 'm.id.user', user: alice.userId }, password: PASSWORD } }, alice.token);
    await cluster.until(
      () => Object.keys(b.hs.e2ee.cachedRemote(alice.userId)?.devices ?? {}).length === 1,
      10_000,
      () => `b's cached list after the deletion: ${JSON.stringify(b.hs.e2ee.cachedRemote(alice.userId))}`,
    );
    // An update that does not follow on from the cached list (a gap): the whole list is fetched again.
    const real = a.hs.e2ee.userDevices(alice.userId);
    const transport = b.hs.transport as { request: typeof b.hs.transport.request };
    const request = transport.request.bind(b.hs.transport);
    let resyncs = 0;
    transport.request = (destination, req, opts) => {
      if (req.kind === 'user_devices') resyncs++;
      return request(destination, req, opts);
    };
    await b.hs.e2ee.onDeviceListUpdate(a.hs.serverName, { user_id: alice.userId, device_id: 'GAP', stream_id: 50, prev_id: [49], keys: { user_id: alice.userId, device_id: 'GAP' } });
    await cluster.until(
      () => resyncs > 0 && b.hs.e2ee.cachedRemote(alice.userId)?.stream_id === real.stream_id && !b.hs.e2ee.cachedRemote(alice.userId)?.devices?.GAP,
      10_000,
      () => `b's list after a gap: ${JSON.stringify(b.hs.e2ee.cachedRemote(alice.userId))}`,
    );
    expect(Object.keys(b.hs.e2ee.cachedRemote(alice.userId)?.devices ?? {})).toEqual([alice.deviceId]);
    // A server speaking for another server's user is ignored.
    await b.hs.e2ee.onDeviceListUpdate(b.hs.serverName, { user_id: alice.userId, device_id: 'EVIL', stream_id: 99, prev_id: [], keys: {} });
    expect(Object.keys(b.hs.e2ee.cachedRemote(alice.userId)?.devices ?? {})).toEqual([alice.deviceId]);
  });

  it("signing a remote user's master key (a verification): the signer's query shows it, others' do not, and the signer's sync lists the user as changed", async () => {
    const { a, b, alice, bob } = await shared();
    const master = { user_id: bob.userId, usage: ['master'], keys: { 'ed25519:BM': 'BM' } };
    expect((await call(b.api, 'POST', '/keys/device_signing/upload', { master_key: master }, bob.token)).status).toBe(200);
    await waitFor(
      "bob's master key seen from a",
      async () => (await call(a.api, 'POST', '/keys/query', { device_keys: { [bob.userId]: [] } }, alice.token)).json.master_keys[bob.userId] !== undefined,
      10_000,
    );
    const s0 = await sync(a.api, alice);
    const signed = { ...master, signatures: { [alice.userId]: { 'ed25519:AU': 'alice-usk-sig' } } };
    const up = await call(a.api, 'POST', '/keys/signatures/upload', { [bob.userId]: { BM: signed } }, alice.token);
    expect(up.json.failures).toEqual({});
    // Alice's devices learn bob changed for her (so they query again)...
    const s1 = await sync(a.api, alice, s0.json.next_batch);
    expect(s1.json.device_lists.changed).toContain(bob.userId);
    // ...and her query of the remote user carries her signature; bob's own server never sees it.
    const q = await call(a.api, 'POST', '/keys/query', { device_keys: { [bob.userId]: [] } }, alice.token);
    expect(q.json.master_keys[bob.userId].signatures[alice.userId]).toEqual({ 'ed25519:AU': 'alice-usk-sig' });
    const qb = await call(b.api, 'POST', '/keys/query', { device_keys: { [bob.userId]: [] } }, bob.token);
    expect(JSON.stringify(qb.json.master_keys[bob.userId])).not.toContain('alice-usk-sig');
  });

  it('a remote user enters device_lists.changed when a room is first shared, and left when none is', async () => {
    cluster = new Cluster();
    const { a, b, alice, bob } = await twoApiServers(cluster);
    const roomId = await a.client.createRoom(alice.userId, { preset: 'public_chat' });
    const s0 = await sync(a.api, alice);
    await b.client.join(bob.userId, roomId, [a.hs.serverName]);
    await converge(cluster, roomId);
    const s1 = await sync(a.api, alice, s0.json.next_batch);
    expect(s1.json.device_lists).toEqual({ changed: [bob.userId], left: [] });
    const s2 = await sync(a.api, alice, s1.json.next_batch);
    expect(s2.json.device_lists).toEqual({ changed: [], left: [] });
    await b.client.leave(bob.userId, roomId);
    await converge(cluster, roomId);
    const s3 = await sync(a.api, alice, s2.json.next_batch);
    expect(s3.json.device_lists).toEqual({ changed: [], left: [bob.userId] });
  });

  it('a cached device list is not trusted after the room was unshared and shared again (updates may have been missed)', async () => {
    const { a, b, alice, bob, roomId } = await shared();
    const query = async () => Object.keys((await call(b.api, 'POST', '/keys/query', { device_keys: { [alice.userId]: [] } }, bob.token)).json.device_keys[alice.userId]).sort();
    expect(await query()).toEqual([alice.deviceId]);
    await cluster.until(() => b.hs.e2ee.cachedRemote(alice.userId) !== undefined, 10_000, () => "b's cache of alice's devices");
    await b.client.leave(bob.userId, roomId);
    await converge(cluster, roomId);
    // Alice adds a device while no room is shared: her server tells nobody on b.
    const second = await login(a.api, alice, 'ALICE2');
    await call(a.api, 'POST', '/keys/upload', { device_keys: deviceKeys(second, 'two') }, second.token);
    await b.client.join(bob.userId, roomId, [a.hs.serverName]);
    await converge(cluster, roomId);
    expect(await query()).toEqual([alice.deviceId, 'ALICE2'].sort());
  });

  it('to-device messages cross servers; those sent during a partition, and a device-list update made during it, arrive after the heal', async () => {
    const { a, b, alice, bob } = await shared();
    const s0 = await sync(b.api, bob);
    await call(a.api, 'PUT', '/sendToDevice/m.room.encrypted/x1', { messages: { [bob.userId]: { [bob.deviceId]: { ciphertext: 'one' } } } }, alice.token);
    await cluster.until(() => b.hs.e2ee.pendingToDevice(bob.userId, bob.deviceId, Number.MAX_SAFE_INTEGER).length === 1, 10_000, () => 'the message on b');
    const s1 = await sync(b.api, bob, s0.json.next_batch);
    expect(s1.json.to_device.events).toEqual([{ sender: alice.userId, type: 'm.room.encrypted', content: { ciphertext: 'one' } }]);

    // b caches alice's device list (a query of a user sharing a room fetches it whole).
    await call(b.api, 'POST', '/keys/query', { device_keys: { [alice.userId]: [] } }, bob.token);
    await cluster.until(() => b.hs.e2ee.cachedRemote(alice.userId) !== undefined, 10_000, () => "b's cache of alice's devices");
    cluster.partition([['a'], ['b']]);
    await call(a.api, 'PUT', '/sendToDevice/m.room.encrypted/x2', { messages: { [bob.userId]: { '*': { ciphertext: 'two' } } } }, alice.token);
    // A new device of alice's during the partition: its m.device_list_update waits in a's outbox too.
    const second = await login(a.api, alice, 'DURING');
    await call(a.api, 'POST', '/keys/upload', { device_keys: deviceKeys(second, 'during') }, second.token);
    await new Promise((r) => setTimeout(r, 300));
    expect(b.hs.e2ee.pendingToDevice(bob.userId, bob.deviceId, Number.MAX_SAFE_INTEGER).map((m) => m.event.content)).toEqual([{ ciphertext: 'one' }]);
    expect(Object.values(a.hs.outbox.depth()).reduce((x, y) => x + y, 0)).toBeGreaterThan(0);
    cluster.healAll();
    await cluster.until(() => b.hs.e2ee.pendingToDevice(bob.userId, bob.deviceId, Number.MAX_SAFE_INTEGER).length === 2, 20_000, () => 'the partitioned message on b');
    const s2 = await sync(b.api, bob, s1.json.next_batch);
    expect(s2.json.to_device.events).toEqual([{ sender: alice.userId, type: 'm.room.encrypted', content: { ciphertext: 'two' } }]);
    await cluster.until(() => b.hs.e2ee.cachedRemote(alice.userId)?.devices?.DURING !== undefined, 20_000, () => "alice's new device on b after the heal");
    expect((await sync(b.api, bob, s1.json.next_batch)).json.device_lists.changed).toContain(alice.userId);
    // A peer cannot send as another server's user.
    await b.hs.e2ee.onDirectToDevice(a.hs.serverName, { sender: `@mallory:${b.hs.serverName}`, type: 'm.x', message_id: 'm1', messages: { [bob.userId]: { '*': {} } } });
    expect(b.hs.e2ee.pendingToDevice(bob.userId, bob.deviceId, Number.MAX_SAFE_INTEGER)).toHaveLength(1);
  });

  it('hostile EDUs: malformed ones are ignored, a to-device flood is bounded per device, a replayed message_id is delivered once', async () => {
    const { a, b, alice, bob } = await shared();
    const origin = a.hs.serverName;
    const edus: { edu_type: string; content: JsonObject }[] = [
      { edu_type: 'm.direct_to_device', content: { sender: 5, type: 'x', messages: {} } },
      { edu_type: 'm.direct_to_device', content: { sender: alice.userId, type: 'x', messages: 'nope' } },
      { edu_type: 'm.direct_to_device', content: { sender: alice.userId, type: 'x', messages: { [bob.userId]: { [bob.deviceId]: 'not an object' } } } },
      { edu_type: 'm.device_list_update', content: { user_id: alice.userId, device_id: 7 } },
      { edu_type: 'm.device_list_update', content: { user_id: `@nobody:${origin}`, device_id: 'D', stream_id: 1, prev_id: [] } },
      { edu_type: 'm.signing_key_update', content: { user_id: bob.userId, master_key: { keys: {} } } },
    ];
    const res = await a.hs.transport.request(b.hs.serverName, { kind: 'send', txn_id: 'hostile-1', body: { origin, origin_server_ts: 0, pdus: [], edus } });
    expect(res.ok).toBe(true);
    expect(b.hs.e2ee.pendingToDevice(bob.userId, bob.deviceId, Number.MAX_SAFE_INTEGER)).toEqual([]);
    expect(b.hs.e2ee.crossSigningKey(bob.userId, 'master')).toBeUndefined();

    await b.hs.e2ee.onDirectToDevice(origin, { sender: alice.userId, type: 'm.flood', message_id: 'f1', messages: { [bob.userId]: { '*': { n: 1 } } } });
    await b.hs.e2ee.onDirectToDevice(origin, { sender: alice.userId, type: 'm.flood', message_id: 'f1', messages: { [bob.userId]: { '*': { n: 1 } } } });
    expect(b.hs.e2ee.pendingToDevice(bob.userId, bob.deviceId, Number.MAX_SAFE_INTEGER)).toHaveLength(1);
    for (let i = 0; i < 1100; i++) {
      await b.hs.e2ee.onDirectToDevice(origin, { sender: alice.userId, type: 'm.flood', message_id: `g${i}`, messages: { [bob.userId]: { [bob.deviceId]: { i } } } });
    }
    const queued = b.hs.e2ee.pendingToDevice(bob.userId, bob.deviceId, Number.MAX_SAFE_INTEGER);
    expect(queued).toHaveLength(1000);
    // The oldest went first.
    expect(queued[queued.length - 1]!.event.content).toEqual({ i: 1099 });
    expect(queued[0]!.event.content).toEqual({ i: 100 });
  });

  it('federation requests answer only for the server\'s own users and refuse malformed bodies', async () => {
    const { a, b, alice, bob } = await shared();
    const ask = (req: unknown) => b.hs.transport.request(a.hs.serverName, req as never);
    const q = await ask({ kind: 'user_keys_query', body: { device_keys: { [alice.userId]: [], [bob.userId]: [] } } });
    expect(q.ok).toBe(true);
    expect(Object.keys((q as unknown as { body: { device_keys: object } }).body.device_keys)).toEqual([alice.userId]);
    const bad = await ask({ kind: 'user_keys_query', body: { device_keys: 'x' } });
    expect(bad).toMatchObject({ ok: false, body: { errcode: 'M_BAD_JSON' } });
    const devices = await ask({ kind: 'user_devices', user_id: alice.userId });
    expect(devices).toMatchObject({ ok: true, body: { user_id: alice.userId, stream_id: 1, devices: [{ device_id: alice.deviceId }] } });
    expect(await ask({ kind: 'user_devices', user_id: bob.userId })).toMatchObject({ ok: false, body: { errcode: 'M_NOT_FOUND' } });
    const tooMany: Record<string, string[]> = {};
    for (let i = 0; i < 1001; i++) tooMany[`@u${i}:${a.hs.serverName}`] = [];
    expect(await ask({ kind: 'user_keys_query', body: { device_keys: tooMany } })).toMatchObject({ ok: false, body: { errcode: 'M_BAD_JSON' } });
  });
});

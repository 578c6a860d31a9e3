import { afterEach, describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/core/json.ts';
import type { ClientApi } from '../../src/server/client-api/api.ts';
import { pushRulesFor } from '../../src/server/client-api/user-data.ts';
import { Cluster } from '../../src/sim/cluster.ts';
import { converge } from '../server/engine-helpers.ts';
import { type CallResult, call, enc, expectError, register, twoApiServers } from './helpers.ts';

let cluster: Cluster;
afterEach(async () => cluster?.stopAll());

/** alice@a and bob@b (each with an API), both joined to a public room alice created; carol@a in no room. */
async function setup() {
  cluster = new Cluster();
  const { a, b, alice, bob } = await twoApiServers(cluster);
  const carol = await register(a.api, 'carol');
  const roomId = await a.client.createRoom(alice.userId, { preset: 'public_chat', name: 'Tea room', topic: 'about tea' });
  await b.client.join(bob.userId, roomId, [a.hs.serverName]);
  await converge(cluster, roomId);
  return { a, b, alice, bob, carol, roomId };
}

interface Refusal {
  name: string;
  run: () => Promise<CallResult>;
  status: number;
  errcode: string;
}

async function expectRefusals(cases: Refusal[]): Promise<void> {
  for (const c of cases) {
    const r = await c.run();
    expect({ case: c.name, status: r.status, errcode: r.json?.errcode }).toEqual({ case: c.name, status: c.status, errcode: c.errcode });
  }
}

function memberContent(api: ClientApi, roomId: string, userId: string): Record<string, unknown> | undefined {
  return api.client.state(roomId)['m.room.member']?.[userId];
}

describe('client API: profiles', () => {
  it('serves and changes a profile; the change is a new member event seen on the other server', async () => {
    const { a, b, alice, bob, roomId } = await setup();
    const p0 = await call(a.api, 'GET', `/profile/${enc(alice.userId)}`);
    expect(p0.status).toBe(200);
    expect(p0.json).toEqual({ displayname: 'alice' });

    expect((await call(a.api, 'PUT', `/profile/${enc(alice.userId)}/displayname`, { displayname: 'Alice Liddell' }, alice.token)).status).toBe(200);
    expect((await call(a.api, 'GET', `/profile/${enc(alice.userId)}/displayname`)).json).toEqual({ displayname: 'Alice Liddell' });
    const avatar = `mxc://${a.hs.serverName}/abcdef`;
    expect((await call(a.api, 'PUT', `/profile/${enc(alice.userId)}/avatar_url`, { avatar_url: avatar }, alice.token)).status).toBe(200);
    expect((await call(a.api, 'GET', `/profile/${enc(alice.userId)}/avatar_url`)).json).toEqual({ avatar_url: avatar });
    expect(a.hs.accounts.get(alice.userId)).toMatchObject({ display_name: 'Alice Liddell', avatar_url: avatar });

    // Propagated as member events: on b too.
    await cluster.until(
      () => memberContent(b.api, roomId, alice.userId)?.avatar_url === avatar,
      5000,
      () => `alice's new member event on b: ${JSON.stringify(memberContent(b.api, roomId, alice.userId))}`,
    );
    expect(memberContent(b.api, roomId, alice.userId)).toMatchObject({ membership: 'join', displayname: 'Alice Liddell', avatar_url: avatar });

    // b answers for the remote alice from the room they share.
    const remote = await call(b.api, 'GET', `/profile/${enc(alice.userId)}`, undefined, bob.token);
    expect(remote.json).toEqual({ displayname: 'Alice Liddell', avatar_url: avatar });

    // Removing the avatar; resetting the name to the localpart.
    await call(a.api, 'PUT', `/profile/${enc(alice.userId)}/avatar_url`, { avatar_url: '' }, alice.token);
    await call(a.api, 'PUT', `/profile/${enc(alice.userId)}/displayname`, { displayname: null }, alice.token);
    expect((await call(a.api, 'GET', `/profile/${enc(alice.userId)}`)).json).toEqual({ displayname: 'alice' });
    expect(memberContent(a.api, roomId, alice.userId)).toEqual({ membership: 'join', displayname: 'alice' });
  });

  it('refuses each bad profile request with its spec error', async () => {
    const { a, b, alice, carol } = await setup();
    const me = enc(alice.userId);
    await expectRefusals([
      { name: 'PUT of another user', run: () => call(a.api, 'PUT', `/profile/${enc(carol.userId)}/displayname`, { displayname: 'x' }, alice.token), status: 403, errcode: 'M_FORBIDDEN' },
      { name: 'PUT without a token', run: () => call(a.api, 'PUT', `/profile/${me}/displayname`, { displayname: 'x' }), status: 401, errcode: 'M_MISSING_TOKEN' },
      { name: 'name too long', run: () => call(a.api, 'PUT', `/profile/${me}/displayname`, { displayname: 'x'.repeat(257) }, alice.token), status: 400, errcode: 'M_INVALID_PARAM' },
      { name: 'name not a string', run: () => call(a.api, 'PUT', `/profile/${me}/displayname`, { displayname: 5 }, alice.token), status: 400, errcode: 'M_BAD_JSON' },
      { name: 'name missing', run: () => call(a.api, 'PUT', `/profile/${me}/displayname`, {}, alice.token), status: 400, errcode: 'M_MISSING_PARAM' },
      { name: 'body not JSON', run: () => call(a.api, 'PUT', `/profile/${me}/displayname`, '{nope', alice.token), status: 400, errcode: 'M_NOT_JSON' },
      { name: 'avatar not mxc', run: () => call(a.api, 'PUT', `/profile/${me}/avatar_url`, { avatar_url: 'https://x/y.png' }, alice.token), status: 400, errcode: 'M_INVALID_PARAM' },
      { name: 'avatar not a string', run: () => call(a.api, 'PUT', `/profile/${me}/avatar_url`, { avatar_url: ['mxc://a/b'] }, alice.token), status: 400, errcode: 'M_BAD_JSON' },
      { name: 'not a user ID', run: () => call(a.api, 'GET', '/profile/alice'), status: 400, errcode: 'M_INVALID_PARAM' },
      { name: 'unknown local user', run: () => call(a.api, 'GET', `/profile/${enc(`@nobody:${a.hs.serverName}`)}`), status: 404, errcode: 'M_NOT_FOUND' },
      { name: 'remote user sharing no room', run: () => call(b.api, 'GET', `/profile/${enc(carol.userId)}/displayname`), status: 404, errcode: 'M_NOT_FOUND' },
    ]);
  });
});

describe('client API: presence', () => {
  it('sets and reads presence; refuses others and bad states', async () => {
    const { a, alice, carol } = await setup();
    const me = enc(alice.userId);
    expect((await call(a.api, 'GET', `/presence/${me}/status`, undefined, alice.token)).json).toEqual({ presence: 'offline', currently_active: false });
    expect((await call(a.api, 'PUT', `/presence/${me}/status`, { presence: 'online', status_msg: 'brewing' }, alice.token)).status).toBe(200);
    const got = await call(a.api, 'GET', `/presence/${me}/status`, undefined, carol.token);
    expect(got.json).toMatchObject({ presence: 'online', status_msg: 'brewing', currently_active: true });
    expect(typeof got.json.last_active_ago).toBe('number');
    await call(a.api, 'PUT', `/presence/${me}/status`, { presence: 'unavailable' }, alice.token);
    expect((await call(a.api, 'GET', `/presence/${me}/status`, undefined, alice.token)).json).toMatchObject({ presence: 'unavailable', currently_active: false });
    await expectRefusals([
      { name: 'for another user', run: () => call(a.api, 'PUT', `/presence/${enc(carol.userId)}/status`, { presence: 'online' }, alice.token), status: 403, errcode: 'M_FORBIDDEN' },
      { name: 'unknown state', run: () => call(a.api, 'PUT', `/presence/${me}/status`, { presence: 'busy' }, alice.token), status: 400, errcode: 'M_INVALID_PARAM' },
      { name: 'missing state', run: () => call(a.api, 'PUT', `/presence/${me}/status`, {}, alice.token), status: 400, errcode: 'M_MISSING_PARAM' },
      { name: 'status_msg not a string', run: () => call(a.api, 'PUT', `/presence/${me}/status`, { presence: 'online', status_msg: 1 }, alice.token), status: 400, errcode: 'M_BAD_JSON' },
      { name: 'unknown local user', run: () => call(a.api, 'GET', `/presence/${enc(`@nobody:${a.hs.serverName}`)}/status`, undefined, alice.token), status: 404, errcode: 'M_NOT_FOUND' },
      { name: 'not a user ID', run: () => call(a.api, 'GET', '/presence/nobody/status', undefined, alice.token), status: 400, errcode: 'M_INVALID_PARAM' },
    ]);
  });
});

describe('client API: account data and filters', () => {
  it('round-trips global and per-room account data, with stream positions for /sync', async () => {
    const { a, alice, carol, roomId } = await setup();
    const me = enc(alice.userId);
    const direct = { [carol.userId]: [roomId] };
    expect((await call(a.api, 'PUT', `/user/${me}/account_data/m.direct`, direct, alice.token)).status).toBe(200);
    expect((await call(a.api, 'GET', `/user/${me}/account_data/m.direct`, undefined, alice.token)).json).toEqual(direct);
    const tags = { tags: { 'm.favourite': { order: 0.5 } } };
    expect((await call(a.api, 'PUT', `/user/${me}/rooms/${enc(roomId)}/account_data/m.tag`, tags, alice.token)).status).toBe(200);
    expect((await call(a.api, 'GET', `/user/${me}/rooms/${enc(roomId)}/account_data/m.tag`, undefined, alice.token)).json).toEqual(tags);
    const [global] = a.api.listData(alice.userId, 'account_data');
    const [perRoom] = a.api.listData(alice.userId, 'room_account_data');
    expect(global).toMatchObject({ key: 'm.direct', value: direct });
    expect(perRoom).toMatchObject({ key: `${roomId}\nm.tag`, value: tags });
    expect(perRoom!.stream!).toBeGreaterThan(global!.stream!);
    // m.push_rules reads as the push rules.
    const rules = await call(a.api, 'GET', `/user/${me}/account_data/m.push_rules`, undefined, alice.token);
    expect(rules.json).toEqual(pushRulesFor(a.api, alice.userId));
    await expectRefusals([
      { name: 'unknown type', run: () => call(a.api, 'GET', `/user/${me}/account_data/m.nothing`, undefined, alice.token), status: 404, errcode: 'M_NOT_FOUND' },
      { name: 'unknown room type', run: () => call(a.api, 'GET', `/user/${me}/rooms/${enc(roomId)}/account_data/m.direct`, undefined, alice.token), status: 404, errcode: 'M_NOT_FOUND' },
      { name: "another user's", run: () => call(a.api, 'GET', `/user/${enc(carol.userId)}/account_data/m.direct`, undefined, alice.token), status: 403, errcode: 'M_FORBIDDEN' },
      { name: "PUT another user's", run: () => call(a.api, 'PUT', `/user/${enc(carol.userId)}/rooms/${enc(roomId)}/account_data/x`, {}, alice.token), status: 403, errcode: 'M_FORBIDDEN' },
      { name: 'm.fully_read', run: () => call(a.api, 'PUT', `/user/${me}/rooms/${enc(roomId)}/account_data/m.fully_read`, { event_id: '$x' }, alice.token), status: 405, errcode: 'M_BAD_JSON' },
      { name: 'm.push_rules', run: () => call(a.api, 'PUT', `/user/${me}/account_data/m.push_rules`, {}, alice.token), status: 405, errcode: 'M_BAD_JSON' },
      { name: 'content not an object', run: () => call(a.api, 'PUT', `/user/${me}/account_data/x`, [1, 2], alice.token), status: 400, errcode: 'M_BAD_JSON' },
      { name: 'content not JSON', run: () => call(a.api, 'PUT', `/user/${me}/account_data/x`, 'nope', alice.token), status: 400, errcode: 'M_NOT_JSON' },
      { name: 'bad room ID', run: () => call(a.api, 'PUT', `/user/${me}/rooms/room/account_data/x`, {}, alice.token), status: 400, errcode: 'M_INVALID_PARAM' },
      { name: 'bad user ID', run: () => call(a.api, 'GET', '/user/alice/account_data/x', undefined, alice.token), status: 400, errcode: 'M_INVALID_PARAM' },
    ]);
  });

  it('round-trips filters and refuses bad ones', async () => {
    const { a, alice, carol } = await setup();
    const me = enc(alice.userId);
    const filter = { room: { timeline: { limit: 10 }, state: { lazy_load_members: true } }, presence: { types: [] } };
    const made = await call(a.api, 'POST', `/user/${me}/filter`, filter, alice.token);
    expect(made.status).toBe(200);
    expect(typeof made.json.filter_id).toBe('string');
    expect(made.json.filter_id).not.toMatch(/^\{/);
    expect((await call(a.api, 'GET', `/user/${me}/filter/${enc(made.json.filter_id)}`, undefined, alice.token)).json).toEqual(filter);
    await expectRefusals([
      { name: 'unknown filter', run: () => call(a.api, 'GET', `/user/${me}/filter/nope`, undefined, alice.token), status: 404, errcode: 'M_NOT_FOUND' },
      { name: "another user's filter", run: () => call(a.api, 'GET', `/user/${enc(carol.userId)}/filter/${enc(made.json.filter_id)}`, undefined, alice.token), status: 403, errcode: 'M_FORBIDDEN' },
      { name: 'filter for another user', run: () => call(a.api, 'POST', `/user/${enc(carol.userId)}/filter`, {}, alice.token), status: 403, errcode: 'M_FORBIDDEN' },
      { name: 'filter not an object', run: () => call(a.api, 'POST', `/user/${me}/filter`, 'null', alice.token), status: 400, errcode: 'M_BAD_JSON' },
      { name: 'room not an object', run: () => call(a.api, 'POST', `/user/${me}/filter`, { room: 5 }, alice.token), status: 400, errcode: 'M_BAD_JSON' },
      { name: 'timeline not an object', run: () => call(a.api, 'POST', `/user/${me}/filter`, { room: { timeline: [] } }, alice.token), status: 400, errcode: 'M_BAD_JSON' },
      { name: 'bad event_format', run: () => call(a.api, 'POST', `/user/${me}/filter`, { event_format: 'xml' }, alice.token), status: 400, errcode: 'M_BAD_JSON' },
      { name: 'too large', run: () => call(a.api, 'POST', `/user/${me}/filter`, { event_fields: Array(20_000).fill('content.x') }, alice.token), status: 413, errcode: 'M_TOO_LARGE' },
    ]);
  });
});

describe('client API: push rules', () => {
  it('serves the predefined rules and stores user changes', async () => {
    const { a, alice } = await setup();
    const all = await call(a.api, 'GET', '/pushrules/', undefined, alice.token);
    expect(all.status).toBe(200);
    const g = all.json.global;
    const ids = (kind: string) => (g[kind] as { rule_id: string }[]).map((r) => r.rule_id);
    expect(ids('override')).toEqual([
      '.m.rule.master',
      '.m.rule.suppress_notices',
      '.m.rule.invite_for_me',
      '.m.rule.member_event',
      '.m.rule.is_user_mention',
      '.m.rule.contains_display_name',
      '.m.rule.is_room_mention',
      '.m.rule.roomnotif',
      '.m.rule.tombstone',
      '.m.rule.reaction',
      '.m.rule.room.server_acl',
      '.m.rule.suppress_edits',
    ]);
    expect(ids('underride')).toEqual([
      '.m.rule.call',
      '.m.rule.encrypted_room_one_to_one',
      '.m.rule.room_one_to_one',
      '.m.rule.message',
      '.m.rule.encrypted',
    ]);
    expect(g.content).toEqual([
      {
        rule_id: '.m.rule.contains_user_name',
        default: true,
        enabled: true,
        pattern: 'alice',
        actions: ['notify', { set_tweak: 'sound', value: 'default' }, { set_tweak: 'highlight' }],
      },
    ]);
    expect(g.room).toEqual([]);
    expect(g.sender).toEqual([]);
    expect(g.override[0]).toEqual({ rule_id: '.m.rule.master', default: true, enabled: false, conditions: [], actions: [] });
    expect(g.override[2].conditions).toContainEqual({ kind: 'event_match', key: 'state_key', pattern: alice.userId });
    // Without the trailing slash, and the global scope alone.
    expect((await call(a.api, 'GET', '/pushrules', undefined, alice.token)).json).toEqual(all.json);
    expect((await call(a.api, 'GET', '/pushrules/global/', undefined, alice.token)).json).toEqual(g);

    // Enabling the master rule; changing a default's actions.
    const master = '/pushrules/global/override/.m.rule.master';
    expect((await call(a.api, 'PUT', `${master}/enabled`, { enabled: true }, alice.token)).status).toBe(200);
    expect((await call(a.api, 'GET', `${master}/enabled`, undefined, alice.token)).json).toEqual({ enabled: true });
    await call(a.api, 'PUT', '/pushrules/global/underride/.m.rule.message/actions', { actions: [] }, alice.token);
    expect((await call(a.api, 'GET', '/pushrules/global/underride/.m.rule.message/actions', undefined, alice.token)).json).toEqual({ actions: [] });

    // User rules: first among user rules (after the master rule), before/after placement, update in place.
    const put = (kind: string, id: string, body: JsonObject, q = '') => call(a.api, 'PUT', `/pushrules/global/${kind}/${enc(id)}${q}`, body, alice.token);
    expect((await put('override', 'one', { actions: ['notify'], conditions: [{ kind: 'event_match', key: 'type', pattern: 'x.one' }] })).status).toBe(200);
    await put('override', 'two', { actions: ['notify'] });
    await put('override', 'three', { actions: [] }, '?after=two');
    await put('override', 'zero', { actions: [] }, '?before=two');
    await put('override', 'one', { actions: ['notify', { set_tweak: 'highlight' }] });
    await put('content', 'cake', { actions: ['notify'], pattern: 'cake*lie' });
    await put('room', `!r:${a.hs.serverName}`, { actions: [] });
    const after = (await call(a.api, 'GET', '/pushrules/', undefined, alice.token)).json.global;
    expect(after.override.slice(0, 6).map((r: { rule_id: string }) => r.rule_id)).toEqual(['.m.rule.master', 'zero', 'two', 'three', 'one', '.m.rule.suppress_notices']);
    expect(after.override[0].enabled).toBe(true);
    expect(after.override[4]).toEqual({ rule_id: 'one', default: false, enabled: true, actions: ['notify', { set_tweak: 'highlight' }], conditions: [] });
    expect(after.content[0]).toMatchObject({ rule_id: 'cake', pattern: 'cake*lie', default: false, enabled: true });
    expect(after.room).toHaveLength(1);
    expect((await call(a.api, 'GET', '/pushrules/global/content/cake', undefined, alice.token)).json.pattern).toBe('cake*lie');
    // Stored as the m.push_rules account data (what /sync reports).
    expect(a.api.getData(alice.userId, 'account_data', 'm.push_rules')).toEqual({ global: after });
    expect(pushRulesFor(a.api, alice.userId)).toEqual({ global: after });

    expect((await call(a.api, 'DELETE', '/pushrules/global/override/two', undefined, alice.token)).status).toBe(200);
    expectError(await call(a.api, 'GET', '/pushrules/global/override/two', undefined, alice.token), 404, 'M_NOT_FOUND');

    await expectRefusals([
      { name: 'no token', run: () => call(a.api, 'GET', '/pushrules/'), status: 401, errcode: 'M_MISSING_TOKEN' },
      { name: 'deleting a default rule', run: () => call(a.api, 'DELETE', '/pushrules/global/override/.m.rule.master', undefined, alice.token), status: 400, errcode: 'M_INVALID_PARAM' },
      { name: 'a rule ID with a dot', run: () => put('override', '.mine', { actions: [] }), status: 400, errcode: 'M_INVALID_PARAM' },
      { name: 'an unknown kind', run: () => put('bogus', 'x', { actions: [] }), status: 400, errcode: 'M_INVALID_PARAM' },
      { name: 'an unknown scope', run: () => call(a.api, 'GET', '/pushrules/device/override/.m.rule.master', undefined, alice.token), status: 400, errcode: 'M_INVALID_PARAM' },
      { name: 'before an unknown rule', run: () => put('override', 'x', { actions: [] }, '?before=nope'), status: 400, errcode: 'M_UNKNOWN' },
      { name: 'after a default rule', run: () => put('override', 'x', { actions: [] }, '?after=.m.rule.master'), status: 400, errcode: 'M_UNKNOWN' },
      { name: 'no actions', run: () => put('override', 'x', {}), status: 400, errcode: 'M_MISSING_PARAM' },
      { name: 'actions not a list', run: () => put('override', 'x', { actions: 'notify' }), status: 400, errcode: 'M_BAD_JSON' },
      { name: 'bad conditions', run: () => put('override', 'x', { actions: [], conditions: [1] }), status: 400, errcode: 'M_BAD_JSON' },
      { name: 'content rule without a pattern', run: () => put('content', 'x', { actions: [] }), status: 400, errcode: 'M_MISSING_PARAM' },
      { name: 'room rule not a room ID', run: () => put('room', 'x', { actions: [] }), status: 400, errcode: 'M_INVALID_PARAM' },
      { name: 'sender rule not a user ID', run: () => put('sender', 'x', { actions: [] }), status: 400, errcode: 'M_INVALID_PARAM' },
      { name: 'unknown rule enabled', run: () => call(a.api, 'GET', '/pushrules/global/override/nope/enabled', undefined, alice.token), status: 404, errcode: 'M_NOT_FOUND' },
      { name: 'enabled not a boolean', run: () => call(a.api, 'PUT', `${master}/enabled`, { enabled: 'yes' }, alice.token), status: 400, errcode: 'M_BAD_JSON' },
      { name: 'enabled missing', run: () => call(a.api, 'PUT', `${master}/enabled`, {}, alice.token), status: 400, errcode: 'M_MISSING_PARAM' },
      { name: 'actions of an unknown rule', run: () => call(a.api, 'PUT', '/pushrules/global/override/nope/actions', { actions: [] }, alice.token), status: 404, errcode: 'M_NOT_FOUND' },
    ]);
  });
});

describe('client API: user directory', () => {
  it('finds local accounts and members of shared rooms', async () => {
    const { b, alice, bob } = await setup();
    const r = await call(b.api, 'POST', '/user_directory/search', { search_term: 'ALI' }, bob.token);
    expect(r.json).toEqual({ results: [{ user_id: alice.userId, display_name: 'alice' }], limited: false });
    const own = await call(b.api, 'POST', '/user_directory/search', { search_term: 'bob' }, bob.token);
    expect(own.json.results.map((x: { user_id: string }) => x.user_id)).toEqual([bob.userId]);
    // carol@a shares no room with bob: unknown to b.
    expect((await call(b.api, 'POST', '/user_directory/search', { search_term: 'carol' }, bob.token)).json.results).toEqual([]);
    const limited = await call(b.api, 'POST', '/user_directory/search', { search_term: '@', limit: 1 }, bob.token);
    expect(limited.json.results).toHaveLength(1);
    expect(limited.json.limited).toBe(true);
    await expectRefusals([
      { name: 'no term', run: () => call(b.api, 'POST', '/user_directory/search', {}, bob.token), status: 400, errcode: 'M_MISSING_PARAM' },
      { name: 'term not a string', run: () => call(b.api, 'POST', '/user_directory/search', { search_term: 1 }, bob.token), status: 400, errcode: 'M_BAD_JSON' },
      { name: 'bad limit', run: () => call(b.api, 'POST', '/user_directory/search', { search_term: 'a', limit: -1 }, bob.token), status: 400, errcode: 'M_BAD_JSON' },
    ]);
  });
});

describe('client API: room directory', () => {
  it('maps local aliases to rooms, with conflicts and permissions', async () => {
    const { a, b, alice, bob, carol, roomId } = await setup();
    const alias = `#tea:${a.hs.serverName}`;
    const path = `/directory/room/${enc(alias)}`;
    expect((await call(a.api, 'PUT', path, { room_id: roomId }, alice.token)).status).toBe(200);
    const got = await call(a.api, 'GET', path);
    expect(got.json.room_id).toBe(roomId);
    expect(got.json.servers).toEqual([a.hs.serverName, b.hs.serverName]);
    expect((await call(a.api, 'GET', `/rooms/${enc(roomId)}/aliases`, undefined, alice.token)).json).toEqual({ aliases: [alias] });
    await expectRefusals([
      { name: 'taken', run: () => call(a.api, 'PUT', path, { room_id: roomId }, alice.token), status: 409, errcode: 'M_UNKNOWN' },
      { name: 'not an alias', run: () => call(a.api, 'GET', '/directory/room/tea'), status: 400, errcode: 'M_INVALID_PARAM' },
      { name: 'remote alias', run: () => call(b.api, 'GET', path), status: 404, errcode: 'M_NOT_FOUND' },
      { name: 'unknown alias', run: () => call(a.api, 'GET', `/directory/room/${enc(`#nope:${a.hs.serverName}`)}`), status: 404, errcode: 'M_NOT_FOUND' },
      { name: 'creating a remote alias', run: () => call(b.api, 'PUT', path, { room_id: roomId }, bob.token), status: 400, errcode: 'M_INVALID_PARAM' },
      { name: 'not joined', run: () => call(a.api, 'PUT', `/directory/room/${enc(`#c:${a.hs.serverName}`)}`, { room_id: roomId }, carol.token), status: 403, errcode: 'M_FORBIDDEN' },
      { name: 'unknown room', run: () => call(a.api, 'PUT', `/directory/room/${enc(`#c:${a.hs.serverName}`)}`, { room_id: `!nope:${a.hs.serverName}` }, alice.token), status: 404, errcode: 'M_NOT_FOUND' },
      { name: 'no room_id', run: () => call(a.api, 'PUT', `/directory/room/${enc(`#c:${a.hs.serverName}`)}`, {}, alice.token), status: 400, errcode: 'M_MISSING_PARAM' },
      { name: 'room_id not a room ID', run: () => call(a.api, 'PUT', `/directory/room/${enc(`#c:${a.hs.serverName}`)}`, { room_id: 'tea' }, alice.token), status: 400, errcode: 'M_INVALID_PARAM' },
      { name: 'deleting as a stranger', run: () => call(a.api, 'DELETE', path, undefined, carol.token), status: 403, errcode: 'M_FORBIDDEN' },
      { name: 'room aliases as a stranger', run: () => call(a.api, 'GET', `/rooms/${enc(roomId)}/aliases`, undefined, carol.token), status: 403, errcode: 'M_FORBIDDEN' },
      { name: 'deleting an unknown alias', run: () => call(a.api, 'DELETE', `/directory/room/${enc(`#nope:${a.hs.serverName}`)}`, undefined, alice.token), status: 404, errcode: 'M_NOT_FOUND' },
    ]);
    expect((await call(a.api, 'DELETE', path, undefined, alice.token)).status).toBe(200);
    expectError(await call(a.api, 'GET', path), 404, 'M_NOT_FOUND');
  });

  it('publishes a room in the directory listing, for those who may', async () => {
    const { a, alice, bob, b, carol, roomId } = await setup();
    const path = `/directory/list/room/${enc(roomId)}`;
    expect((await call(a.api, 'GET', path)).json).toEqual({ visibility: 'private' });
    expect((await call(a.api, 'PUT', path, { visibility: 'public' }, alice.token)).status).toBe(200);
    expect((await call(a.api, 'GET', path)).json).toEqual({ visibility: 'public' });
    expect((await call(a.api, 'PUT', path, { visibility: 'private' }, alice.token)).status).toBe(200);
    expect((await call(a.api, 'GET', path)).json).toEqual({ visibility: 'private' });
    await expectRefusals([
      { name: 'a member without the power', run: () => call(b.api, 'PUT', path, { visibility: 'public' }, bob.token), status: 403, errcode: 'M_FORBIDDEN' },
      { name: 'not a member', run: () => call(a.api, 'PUT', path, { visibility: 'public' }, carol.token), status: 403, errcode: 'M_FORBIDDEN' },
      { name: 'unknown visibility', run: () => call(a.api, 'PUT', path, { visibility: 'secret' }, alice.token), status: 400, errcode: 'M_INVALID_PARAM' },
      { name: 'unknown room', run: () => call(a.api, 'GET', `/directory/list/room/${enc(`!nope:${a.hs.serverName}`)}`), status: 404, errcode: 'M_NOT_FOUND' },
      { name: 'not a room ID', run: () => call(a.api, 'GET', '/directory/list/room/nope'), status: 400, errcode: 'M_INVALID_PARAM' },
    ]);
  });

  it('lists public rooms from every reachable server, with search and paging', async () => {
    const { a, b, alice, bob, roomId } = await setup();
    const other = await a.client.createRoom(alice.userId, { preset: 'public_chat', name: 'Coffee corner' });
    const list = await call(b.api, 'GET', '/publicRooms');
    expect(list.status).toBe(200);
    expect(list.json.total_room_count_estimate).toBe(2);
    expect(list.json.chunk[0]).toEqual({
      room_id: roomId,
      name: 'Tea room',
      topic: 'about tea',
      num_joined_members: 2,
      world_readable: false,
      guest_can_join: false,
      join_rule: 'public',
    });
    const search = await call(b.api, 'POST', '/publicRooms', { filter: { generic_search_term: 'coffee' } }, bob.token);
    expect(search.json.chunk.map((c: { room_id: string }) => c.room_id)).toEqual([other]);
    const page1 = await call(a.api, 'GET', '/publicRooms?limit=1');
    expect(page1.json.chunk).toHaveLength(1);
    expect(page1.json.next_batch).toBe('1');
    const page2 = await call(a.api, 'POST', '/publicRooms', { limit: 1, since: page1.json.next_batch }, alice.token);
    expect(page2.json.chunk[0].room_id).toBe(other);
    expect(page2.json.prev_batch).toBe('0');
    expect(page2.json.next_batch).toBeUndefined();
    await expectRefusals([
      { name: 'bad since', run: () => call(a.api, 'GET', '/publicRooms?since=x'), status: 400, errcode: 'M_INVALID_PARAM' },
      { name: 'bad limit', run: () => call(a.api, 'GET', '/publicRooms?limit=-1'), status: 400, errcode: 'M_INVALID_PARAM' },
      { name: 'bad POST limit', run: () => call(a.api, 'POST', '/publicRooms', { limit: 'ten' }, alice.token), status: 400, errcode: 'M_BAD_JSON' },
      { name: 'bad filter', run: () => call(a.api, 'POST', '/publicRooms', { filter: [] }, alice.token), status: 400, errcode: 'M_BAD_JSON' },
      { name: 'POST without a token', run: () => call(a.api, 'POST', '/publicRooms', {}), status: 401, errcode: 'M_MISSING_TOKEN' },
    ]);
  });
});

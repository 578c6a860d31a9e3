/**
 * Property-based fuzzing (fast-check, fixed seeds, bounded runs) of what a
 * hostile peer or client can send (issue 14, "Tests"):
 *
 * - arbitrary federation request bodies — anything at all, JSON, and each
 *   FederationRequest kind with wrong-typed fields — through
 *   `handleFederationRequest`: never a throw, never a 500, and the room and
 *   pending tables unchanged, every stored event still a valid PDU;
 * - mutations of a valid signed PDU (fields dropped or replaced, wrong
 *   types, huge strings, deep nesting, unicode) through a `send`
 *   transaction: never a throw or a 500, nothing invalid stored, and the
 *   valid ones (mutated before signing, within the rules) still accepted;
 * - the Client-Server API handler with arbitrary methods, paths, queries
 *   and bodies on a registered user's token: never a 5xx, and /versions
 *   still answers afterwards.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeEventId, signEvent } from '../../src/core/hashing.ts';
import type { JsonObject } from '../../src/core/json.ts';
import { type Pdu, validatePdu } from '../../src/core/pdu.ts';
import { SERVER_KEY_ID } from '../../src/core/peer-id.ts';
import type { ClientApi } from '../../src/server/client-api/api.ts';
import { handleFederationRequest } from '../../src/server/federation-server.ts';
import type { FederationRequest, FederationResponse } from '../../src/server/federation/types.ts';
import { buildEvent, choosePrevEvents } from '../../src/server/local-events.ts';
import { Cluster, type ClusterServer } from '../../src/sim/cluster.ts';
import { type ApiUser, apiServer, call, register } from '../client-api/helpers.ts';
import { converge } from './engine-helpers.ts';

let cluster: Cluster;
let a: ClusterServer & { api: ClientApi };
let b: ClusterServer;
let alice: ApiUser;
let bob: string;
let roomId: string;

beforeAll(async () => {
  cluster = new Cluster();
  a = await apiServer(cluster, 'a');
  b = await cluster.add('b');
  alice = await register(a.api, 'alice');
  bob = await b.hs.register('bob');
  roomId = await a.client.createRoom(alice.userId, { preset: 'public_chat', name: 'Fuzzed' });
  await b.client.join(bob, roomId, [a.hs.serverName]);
  await a.client.sendMessage(alice.userId, roomId, 'hello');
  await converge(cluster, roomId);
}, 30_000);
afterAll(() => cluster?.stopAll());

interface Snapshot {
  rooms: number;
  events: number;
  accepted: string;
  state: string;
  invites: number;
  knocks: number;
}

function snapshot(): Snapshot {
  const room = a.hs.rooms.get(roomId)!;
  return {
    rooms: a.hs.rooms.size,
    events: room.events.size,
    accepted: JSON.stringify(a.client.acceptedEventIds(roomId)),
    state: JSON.stringify(a.client.stateIds(roomId)),
    invites: a.hs.pending.invites.size,
    knocks: a.hs.pending.knocks.size,
  };
}

/** Every event a holds, in every room, is a valid PDU. */
function expectAllStoredValid(): void {
  for (const room of a.hs.rooms.values()) {
    for (const stored of room.events.values()) {
      expect(() => validatePdu(stored.pdu), `stored ${stored.event_id}`).not.toThrow();
    }
  }
}

/** Runs the handler, turning a throw into a failure that names the input. */
async function handle(origin: string, req: unknown): Promise<FederationResponse> {
  let res: FederationResponse;
  try {
    res = await handleFederationRequest(a.hs, origin, req as FederationRequest);
  } catch (err) {
    throw new Error(`handleFederationRequest threw ${String(err)} for ${safeJson(req)}`);
  }
  expect(res.ok ? 200 : res.status, `${safeJson(req)} → ${JSON.stringify(res.body).slice(0, 300)}`).toBeLessThan(500);
  if (!res.ok) {
    expect(typeof res.body.errcode).toBe('string');
    expect(typeof res.body.error).toBe('string');
  }
  return res;
}

function safeJson(v: unknown): string {
  try {
    return (JSON.stringify(v) ?? String(v)).slice(0, 500);
  } catch {
    return String(v).slice(0, 500);
  }
}

/** A value of the right type or (mostly) anything else. */
function field<T>(valid: fc.Arbitrary<T>): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 2, arbitrary: valid },
    { weight: 3, arbitrary: fc.anything({ maxDepth: 3 }) },
    { weight: 1, arbitrary: fc.constantFrom(null, undefined, '', 0, -1, 1e308, Number.NaN, true, [], {}, '__proto__') },
  );
}

const SEED = 0x14_f022;

/** JSON that canonical JSON accepts: integers in the safe range, no floats. */
const canonicalJsonArb: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(null, true, false),
    fc.integer({ min: -(2 ** 53) + 1, max: 2 ** 53 - 1 }),
    fc.string({ unit: 'grapheme', maxLength: 20 }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 8 }), tie('value'), { maxKeys: 4 }),
  ),
})).value;

describe('federation requests: arbitrary bodies', () => {
  // Stable values for the "valid" side of each field.
  const roomIdArb = () => fc.constantFrom(roomId, '!nope:x', `${roomId}x`);
  const eventIdArb = () =>
    fc.oneof(
      fc.constantFrom(...a.client.acceptedEventIds(roomId)),
      fc.constant('$nothing'),
      fc.string({ maxLength: 60 }).map((s) => `$${s}`),
    );
  const userArb = () => fc.constantFrom(bob, alice.userId, `@x:${b.hs.serverName}`, 'not a user');
  const idList = () => fc.array(eventIdArb(), { maxLength: 5 });

  function requestArb(): fc.Arbitrary<unknown> {
    const kinds: fc.Arbitrary<unknown>[] = [
      fc.record({
        kind: fc.constant('send'),
        txn_id: field(fc.string()),
        body: field(
          fc.record({
            origin: field(fc.constant(b.hs.serverName)),
            origin_server_ts: field(fc.integer()),
            pdus: field(fc.array(fc.anything({ maxDepth: 2 }), { maxLength: 4 })),
            edus: field(
              fc.array(
                fc.record({
                  edu_type: field(fc.constantFrom('m.typing', 'm.receipt', 'm.presence', 'm.direct_to_device', 'm.device_list_update')),
                  content: fc.anything({ maxDepth: 3 }),
                }),
                { maxLength: 4 },
              ),
            ),
          }),
        ),
      }),
      ...(['make_join', 'make_knock'] as const).map((kind) =>
        fc.record({ kind: fc.constant(kind), room_id: field(roomIdArb()), user_id: field(userArb()), ver: field(fc.array(fc.string())) }),
      ),
      fc.record({ kind: fc.constant('make_leave'), room_id: field(roomIdArb()), user_id: field(userArb()) }),
      ...(['send_join', 'send_knock', 'send_leave'] as const).map((kind) =>
        fc.record({
          kind: fc.constant(kind),
          room_id: field(roomIdArb()),
          event_id: field(eventIdArb()),
          body: field(fc.dictionary(fc.constantFrom('type', 'sender', 'state_key', 'content', 'room_id', 'depth'), fc.anything())),
        }),
      ),
      fc.record({
        kind: fc.constant('invite'),
        room_id: field(roomIdArb()),
        event_id: field(eventIdArb()),
        body: field(
          fc.record({
            event: field(fc.dictionary(fc.constantFrom('type', 'sender', 'state_key', 'content', 'room_id'), fc.anything())),
            invite_room_state: field(fc.array(fc.anything({ maxDepth: 2 }), { maxLength: 3 })),
            room_version: field(fc.constantFrom('10', '11', 'I.1', '99')),
          }),
        ),
      }),
      fc.record({ kind: fc.constant('event'), event_id: field(eventIdArb()) }),
      ...(['state', 'state_ids', 'event_auth'] as const).map((kind) =>
        fc.record({ kind: fc.constant(kind), room_id: field(roomIdArb()), event_id: field(eventIdArb()) }),
      ),
      fc.record({ kind: fc.constant('backfill'), room_id: field(roomIdArb()), v: field(idList()), limit: field(fc.integer()) }),
      fc.record({
        kind: fc.constant('get_missing_events'),
        room_id: field(roomIdArb()),
        body: field(
          fc.record(
            { earliest_events: field(idList()), latest_events: field(idList()), limit: field(fc.integer()), min_depth: field(fc.integer()) },
            { requiredKeys: [] },
          ),
        ),
      }),
      fc.record({ kind: fc.constant('extremities'), room_ids: field(fc.array(roomIdArb())) }),
      fc.record({ kind: fc.constant('publicRooms') }),
      fc.record({ kind: fc.constant('media_download'), media_id: field(fc.string()) }),
    ];
    return fc.oneof(
      { weight: 1, arbitrary: fc.anything() },
      { weight: 1, arbitrary: fc.jsonValue() },
      { weight: 1, arbitrary: fc.record({ kind: fc.string() }) },
      { weight: 8, arbitrary: fc.oneof(...kinds) },
    );
  }

  it('never throw, never answer 500, and store nothing', async () => {
    const before = snapshot();
    const strangerName = 'not-a-member-server';
    await fc.assert(
      fc.asyncProperty(requestArb(), fc.boolean(), async (req, fromStranger) => {
        await handle(fromStranger ? strangerName : b.hs.serverName, req);
        expect(snapshot()).toEqual(before);
      }),
      { seed: SEED, numRuns: 1500 },
    );
    expectAllStoredValid();
  }, 60_000);
});

describe('PDUs: mutations of a valid signed event through a send transaction', () => {
  type Path = readonly string[];
  interface Mutation {
    /** Applied to the event before signing (still signed by b) or after (breaks the signature or hash). */
    when: 'before' | 'after';
    path: Path;
    /** undefined: delete the field. */
    value: unknown;
    drop: boolean;
  }

  const deep = (n: number): unknown => {
    let v: unknown = 'bottom';
    for (let i = 0; i < n; i++) v = { d: v };
    return v;
  };
  const TOP = [
    'room_id',
    'sender',
    'type',
    'state_key',
    'content',
    'origin_server_ts',
    'depth',
    'prev_events',
    'auth_events',
    'hashes',
    'signatures',
    'unsigned',
    'redacts',
    'event_id',
    'origin',
  ];
  const pathArb: fc.Arbitrary<Path> = fc.oneof(
    fc.constantFrom(...TOP).map((k) => [k]),
    fc.constantFrom(['content', 'body'], ['content', 'msgtype'], ['hashes', 'sha256'], ['prev_events', '0'], ['auth_events', '0']),
    fc.string({ maxLength: 8 }).map((k) => [k]),
    fc.string({ maxLength: 8 }).map((k) => ['content', k]),
  );
  const valueArb: fc.Arbitrary<unknown> = fc.oneof(
    fc.anything({ maxDepth: 3 }),
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.integer({ min: 0, max: 40 }).map((n) => 'é'.repeat(n * 2000)),
    fc.integer({ min: 1, max: 200 }).map(deep),
    fc.constantFrom(Number.MAX_SAFE_INTEGER + 2, -0, 1.5, 2 ** 53, '', [], {}, null, '$x', '@u:x', '!r:x', '\u0000', '\ud800'),
  );
  const mutationArb: fc.Arbitrary<Mutation> = fc.record({
    when: fc.constantFrom('before', 'after'),
    path: pathArb,
    value: valueArb,
    drop: fc.boolean(),
  });

  function setPath(obj: JsonObject, path: Path, value: unknown, drop: boolean): void {
    let cur: Record<string, unknown> = obj;
    for (const k of path.slice(0, -1)) {
      const next = cur[k];
      if (typeof next !== 'object' || next === null) return;
      cur = next as Record<string, unknown>;
    }
    const last = path[path.length - 1]!;
    if (drop) delete cur[last];
    else cur[last] = value;
  }

  let n = 0;
  /** A message by bob on b's view of the room, with `mutations` applied before/after signing. */
  function craft(mutations: Mutation[], body: string): { pdu: JsonObject; eventId: string | undefined } {
    const room = b.hs.rooms.get(roomId)!;
    const t = { type: 'm.room.message', sender: bob, content: { msgtype: 'm.text', body } };
    const proto = buildEvent(b.hs, room, t, choosePrevEvents(room), room.currentState()) as unknown as JsonObject;
    for (const m of mutations) if (m.when === 'before') setPath(proto, m.path, structuredClone(m.value), m.drop);
    let signed: JsonObject;
    try {
      signed = signEvent(proto, room.rules, b.hs.serverName, SERVER_KEY_ID, b.hs.identity.seed);
    } catch {
      signed = structuredClone(proto); // not signable (not canonical JSON): send it unsigned
    }
    for (const m of mutations) if (m.when === 'after') setPath(signed, m.path, structuredClone(m.value), m.drop);
    let eventId: string | undefined;
    try {
      eventId = computeEventId(signed as unknown as Pdu, room.rules);
    } catch {
      eventId = undefined;
    }
    return { pdu: signed, eventId };
  }

  async function sendTxn(pdus: unknown[]): Promise<Record<string, { error?: string }>> {
    const res = await handle(b.hs.serverName, {
      kind: 'send',
      txn_id: `fuzz${++n}`,
      body: { origin: b.hs.serverName, origin_server_ts: Date.now(), pdus, edus: [] },
    });
    expect(res.ok, JSON.stringify(res.body)).toBe(true);
    return (res.body as { pdus: Record<string, { error?: string }> }).pdus;
  }

  it('never throw or 500, store nothing invalid, and leave the room working', async () => {
    const statesBefore = JSON.stringify(a.client.stateIds(roomId));
    const outcomes = { refused: 0, stored: 0 };
    await fc.assert(
      fc.asyncProperty(fc.array(mutationArb, { minLength: 1, maxLength: 3 }), async (mutations) => {
        const { pdu, eventId } = craft(mutations, `mutated ${n}`);
        const results = await sendTxn([pdu]);
        expect(Object.keys(results)).toHaveLength(1);
        if (Object.values(results)[0]?.error) outcomes.refused++;
        else outcomes.stored++;
        if (eventId) {
          const stored = a.hs.rooms.get(roomId)!.events.get(eventId);
          // What is stored under an ID is the event with that ID, and a valid PDU.
          if (stored) {
            expect(() => validatePdu(stored.pdu), `stored mutation ${safeJson(mutations)}`).not.toThrow();
            expect(stored.room_id).toBe(roomId);
          }
        }
        // No mutation of a message may change the room's state.
        expect(JSON.stringify(a.client.stateIds(roomId))).toBe(statesBefore);
      }),
      { seed: SEED, numRuns: 600 },
    );
    console.log(`[fuzz] 600 mutated PDUs: ${outcomes.refused} refused, ${outcomes.stored} stored (accepted, or redacted for a wrong hash)`);
    expectAllStoredValid();
  }, 60_000);

  it('valid events (unicode content, extra fields, signed after the change) are still accepted', async () => {
    const contentArb = fc.record({
      body: fc.oneof(fc.string({ unit: 'grapheme', maxLength: 200 }), fc.string({ unit: 'binary-ascii', maxLength: 200 })),
      extra: canonicalJsonArb,
    });
    await fc.assert(
      fc.asyncProperty(contentArb, async ({ body, extra }) => {
        const { pdu, eventId } = craft(
          [
            { when: 'before', path: ['content', 'body'], value: body, drop: false },
            { when: 'before', path: ['content', 'x.fuzz'], value: extra, drop: false },
            { when: 'before', path: ['origin_server_ts'], value: Date.now() + ++n, drop: false },
          ],
          body,
        );
        const results = await sendTxn([pdu]);
        expect(eventId).toBeDefined();
        expect(results[eventId!], `${safeJson({ body, extra })}`).toEqual({});
        expect(a.client.event(roomId, eventId!).status).toBe('accepted');
      }),
      { seed: SEED, numRuns: 100 },
    );
    expectAllStoredValid();
    // And the room still works both ways.
    const id = await a.client.sendMessage(alice.userId, roomId, 'after the fuzzing');
    expect(a.client.event(roomId, id).status).toBe('accepted');
  }, 60_000);
});

describe('Client-Server API: arbitrary requests on a registered user’s token', () => {
  const WORDS = [
    'rooms',
    'room',
    'send',
    'state',
    'm.room.message',
    'm.room.name',
    'm.room.power_levels',
    'join',
    'leave',
    'invite',
    'kick',
    'ban',
    'redact',
    'messages',
    'context',
    'members',
    'joined_members',
    'sync',
    'profile',
    'displayname',
    'avatar_url',
    'user',
    'account_data',
    'filter',
    'presence',
    'status',
    'typing',
    'receipt',
    'm.read',
    'read_markers',
    'pushrules',
    'global',
    'devices',
    'keys',
    'login',
    'logout',
    'register',
    'createRoom',
    'directory',
    'publicRooms',
    'relations',
    'threads',
    'media',
    'upload',
    'download',
    'thumbnail',
    'config',
    'capabilities',
    'account',
    'whoami',
    'password',
    'tags',
    'forget',
    'knock',
    'unban',
    'versions',
    '..',
    '%',
    '%ZZ',
    '%00',
  ];
  const segmentArb = (): fc.Arbitrary<string> =>
    fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...WORDS) },
      { weight: 2, arbitrary: fc.constantFrom(roomId, alice.userId, bob, '$event', '!nope:x', '#alias:x').map(encodeURIComponent) },
      { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
      { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 6 }).map(encodeURIComponent) },
    );
  const pathArb = () =>
    fc.tuple(
    fc.constantFrom('/_matrix/client/v3', '/_matrix/client/r0', '/_matrix/client/v1', '/_matrix/media/v3', '/_matrix/client', '/.well-known/matrix'),
    fc.array(segmentArb(), { maxLength: 6 }),
  );
  // No `timeout`: a /sync or /events long-poll would only make the run slow.
  const queryArb = fc.oneof(
    fc.constant(''),
    fc
      .array(
        fc.tuple(
          fc.constantFrom('since', 'filter', 'limit', 'from', 'to', 'dir', 'full_state', 'set_presence', 'access_token', 'kind', 'x'),
          fc.oneof(fc.string({ maxLength: 12 }), fc.integer().map(String), fc.constantFrom('-1', 'NaN', '{', '%', 'b', 'f')),
        ),
        { maxLength: 4 },
      )
      .map((kv) => kv.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&')),
    fc.string({ maxLength: 20 }).filter((s) => !s.includes('timeout')),
  );
  const bodyArb = fc.oneof(
    fc.constant(undefined),
    fc.jsonValue({ maxDepth: 3 }),
    fc.dictionary(
      fc.constantFrom('msgtype', 'body', 'name', 'topic', 'displayname', 'avatar_url', 'membership', 'user_id', 'reason', 'preset', 'visibility', 'invite', 'typing', 'timeout', 'room_version', 'creation_content', 'initial_state', 'power_level_content_override'),
      fc.jsonValue({ maxDepth: 2 }),
    ),
    fc.string({ maxLength: 30 }),
  );
  const ROUTES: [string, string][] = [
    ['GET', '/sync'],
    ['POST', '/createRoom'],
    ['POST', '/join/:room'],
    ['POST', '/knock/:room'],
    ['POST', '/rooms/:room/join'],
    ['POST', '/rooms/:room/leave'],
    ['POST', '/rooms/:room/forget'],
    ['POST', '/rooms/:room/invite'],
    ['POST', '/rooms/:room/kick'],
    ['POST', '/rooms/:room/ban'],
    ['POST', '/rooms/:room/unban'],
    ['GET', '/joined_rooms'],
    ['PUT', '/rooms/:room/send/:type/:txn'],
    ['PUT', '/rooms/:room/redact/:event/:txn'],
    ['PUT', '/rooms/:room/state/:type/:key'],
    ['GET', '/rooms/:room/state/:type/:key'],
    ['GET', '/rooms/:room/state'],
    ['GET', '/rooms/:room/event/:event'],
    ['GET', '/rooms/:room/messages'],
    ['GET', '/rooms/:room/context/:event'],
    ['GET', '/rooms/:room/members'],
    ['GET', '/rooms/:room/joined_members'],
    ['GET', '/rooms/:room/relations/:event'],
    ['GET', '/rooms/:room/relations/:event/:type'],
    ['GET', '/_matrix/client/v1/rooms/:room/threads'],
    ['POST', '/rooms/:room/receipt/:type/:event'],
    ['POST', '/rooms/:room/read_markers'],
    ['PUT', '/rooms/:room/typing/:user'],
    ['POST', '/rooms/:room/upgrade'],
    ['GET', '/profile/:user'],
    ['PUT', '/profile/:user/displayname'],
    ['PUT', '/profile/:user/avatar_url'],
    ['GET', '/presence/:user/status'],
    ['PUT', '/presence/:user/status'],
    ['GET', '/user/:user/account_data/:type'],
    ['PUT', '/user/:user/account_data/:type'],
    ['PUT', '/user/:user/rooms/:room/account_data/:type'],
    ['POST', '/user/:user/filter'],
    ['GET', '/user/:user/filter/:txn'],
    ['GET', '/pushrules/'],
    ['PUT', '/pushrules/:key/:type/:txn'],
    ['DELETE', '/pushrules/:key/:type/:txn'],
    ['POST', '/user_directory/search'],
    ['PUT', '/directory/room/:alias'],
    ['GET', '/directory/room/:alias'],
    ['DELETE', '/directory/room/:alias'],
    ['GET', '/rooms/:room/aliases'],
    ['PUT', '/directory/list/room/:room'],
    ['GET', '/publicRooms'],
    ['POST', '/publicRooms'],
    ['GET', '/devices'],
    ['PUT', '/devices/:txn'],
    ['GET', '/capabilities'],
    ['POST', '/account/password'],
    ['POST', '/register/available'],
    ['POST', '/login'],
    ['GET', '/_matrix/media/v3/config'],
    ['POST', '/_matrix/media/v3/upload'],
    ['GET', '/_matrix/client/v1/media/download/:user/:txn'],
    ['GET', '/_matrix/client/v1/media/thumbnail/:user/:txn'],
  ];
  const param = (name: string, own: string): fc.Arbitrary<string> => {
    const valid: Record<string, string[]> = {
      room: [roomId, own, '!nope:x', '#alias:x'],
      event: [...a.client.acceptedEventIds(roomId).slice(0, 4), '$nothing'],
      user: [alice.userId, bob, '@fuzzer:x'],
      type: ['m.room.message', 'm.room.name', 'm.room.power_levels', 'm.room.member', 'm.read', 'm.fully_read', 'm.reaction'],
      key: ['', 'global', alice.userId],
      alias: ['#fuzz:x', `#fuzz:${a.hs.serverName}`],
      txn: ['1', 'x'],
    };
    return fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(...(valid[name] ?? ['x'])) },
      { weight: 1, arbitrary: fc.string({ maxLength: 16 }) },
    ).map(encodeURIComponent);
  };
  const routeArb = (own: string): fc.Arbitrary<[string, string]> =>
    fc.constantFrom(...ROUTES).chain(([method, template]) => {
      const names = [...template.matchAll(/:(\w+)/g)].map((m) => m[1]!);
      return fc.tuple(fc.constant(method), fc.tuple(...names.map((n) => param(n, own)), fc.constant(''))).map(([m, values]) => {
        let i = 0;
        const filled = template.replace(/:(\w+)/g, () => values[i++]!);
        return [m, filled.startsWith('/_matrix/') ? filled : `/_matrix/client/v3${filled}`] as [string, string];
      });
    });
  const methodArb = fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE') },
    { weight: 1, arbitrary: fc.constantFrom('OPTIONS', 'HEAD', 'PATCH', 'get', '') },
  );

  it('never answer 5xx, and the server still answers /versions', async () => {
    const fuzzer = await register(a.api, 'fuzzer');
    // The fuzzer's own room, so room paths reach real handlers.
    const own = await call(a.api, 'POST', '/createRoom', { preset: 'private_chat' }, fuzzer.token);
    expect(own.status).toBe(200);
    const start = performance.now();
    const requestArb = fc.oneof(
      fc.tuple(methodArb, pathArb()).map(([m, [prefix, segs]]) => [m, `${prefix}/${segs.join('/')}`] as [string, string]),
      routeArb(own.json.room_id),
      routeArb(own.json.room_id).chain(([, p]) => methodArb.map((m) => [m, p] as [string, string])),
    );
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(requestArb, queryArb, bodyArb, fc.boolean(), async ([method, bare], query, body, withToken) => {
        const path = `${bare}${query ? `?${query}` : ''}`;
        let r: Awaited<ReturnType<typeof call>>;
        try {
          r = await call(a.api, method, path, body as never, withToken ? fuzzer.token : undefined);
        } catch (err) {
          throw new Error(`ClientApi.handle threw ${String(err)} for ${method} ${path} ${safeJson(body)}`);
        }
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        const what = `${method} ${path} ${safeJson(body)} → ${r.status} ${safeJson(r.json)}`;
        // Remote media from a server we cannot reach is a gateway error (502/504 with an errcode), as
        // the spec and Synapse answer it; anything else in the 5xx range is an internal error.
        const gateway = /\/media\/(v3\/)?(download|thumbnail)\//.test(bare) && [502, 504].includes(r.status);
        if (gateway) expect(r.json?.errcode, what).toMatch(/^M_/);
        else expect(r.status, what).toBeLessThan(500);
      }),
      { seed: SEED, numRuns: 1500 },
    );
    console.log(
      `[fuzz] 1500 Client-Server API requests in ${(performance.now() - start).toFixed(0)} ms, statuses ${JSON.stringify(Object.fromEntries(statuses))}`,
    );
    const versions = await call(a.api, 'GET', '/_matrix/client/versions');
    expect(versions.status).toBe(200);
    expect(Array.isArray(versions.json.versions)).toBe(true);
    const whoami = await call(a.api, 'GET', '/account/whoami', undefined, fuzzer.token);
    // The fuzzer may have logged itself out (POST /logout): then 401, never a 5xx.
    expect([200, 401]).toContain(whoami.status);
  }, 60_000);
});

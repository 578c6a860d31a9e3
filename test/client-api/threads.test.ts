/**
 * GET /_matrix/client/v1/rooms/{roomId}/threads through the handler: the
 * thread roots, most recently active first, paged, filtered by
 * participation, each with its m.thread summary.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster } from '../../src/sim/cluster.ts';
import { apiServer, call, enc, expectError, register } from './helpers.ts';

let cluster: Cluster;
afterEach(async () => cluster?.stopAll());

describe('GET /rooms/{roomId}/threads', () => {
  it('lists thread roots by latest activity, pages with next_batch, filters include=participated', async () => {
    cluster = new Cluster();
    const a = await apiServer(cluster, 'a');
    const alice = await register(a.api, 'alice');
    const carol = await register(a.api, 'carol');
    const created = await call(a.api, 'POST', '/createRoom', { preset: 'public_chat' }, alice.token);
    const roomId = created.json.room_id as string;
    expect((await call(a.api, 'POST', `/join/${enc(roomId)}`, {}, carol.token)).status).toBe(200);
    let txn = 0;
    const send = async (token: string, content: Record<string, unknown>) => {
      const r = await call(a.api, 'PUT', `/rooms/${enc(roomId)}/send/m.room.message/t${txn++}`, { msgtype: 'm.text', ...content }, token);
      expect(r.status, JSON.stringify(r.json)).toBe(200);
      return r.json.event_id as string;
    };
    const inThread = (root: string) => ({ 'm.relates_to': { rel_type: 'm.thread', event_id: root } });
    const [r1, r2, r3] = [await send(alice.token, { body: 'root 1' }), await send(alice.token, { body: 'root 2' }), await send(carol.token, { body: 'root 3' })];
    await send(alice.token, { body: 'not a thread' });
    await send(carol.token, { body: 'on 1', ...inThread(r1) });
    await send(carol.token, { body: 'on 3', ...inThread(r3) });
    const lastOn2 = await send(carol.token, { body: 'on 2', ...inThread(r2) });
    await send(carol.token, { body: 'on 1 again', ...inThread(r1) });

    const list = (query: string, token = alice.token) => call(a.api, 'GET', `/_matrix/client/v1/rooms/${enc(roomId)}/threads?${query}`, undefined, token);
    const all = await list('');
    expect(all.status).toBe(200);
    expect(all.json.chunk.map((e: { event_id: string }) => e.event_id)).toEqual([r1, r2, r3]);
    expect(all.json.next_batch).toBeUndefined();
    expect(all.json.chunk[1].unsigned['m.relations']['m.thread']).toMatchObject({ count: 1, current_user_participated: true, latest_event: { event_id: lastOn2 } });
    expect(all.json.chunk[0].unsigned['m.relations']['m.thread'].count).toBe(2);

    const page1 = await list('limit=2');
    expect(page1.json.chunk.map((e: { event_id: string }) => e.event_id)).toEqual([r1, r2]);
    const page2 = await list(`limit=2&from=${page1.json.next_batch}`);
    expect(page2.json.chunk.map((e: { event_id: string }) => e.event_id)).toEqual([r3]);
    expect(page2.json.next_batch).toBeUndefined();

    // alice started 1 and 2 but neither wrote in nor started 3.
    const mine = await list('include=participated');
    expect(mine.json.chunk.map((e: { event_id: string }) => e.event_id)).toEqual([r1, r2]);
    expect((await list('include=participated', carol.token)).json.chunk).toHaveLength(3);

    expectError(await list('include=mine'), 400, 'M_INVALID_PARAM');
    expectError(await list('from=yesterday'), 400, 'M_INVALID_PARAM');
    expectError(await list('limit=x'), 400, 'M_INVALID_PARAM');
  });
});

/**
 * A local event is broadcast while its store write is under way (issue 16
 * item 1: the write was most of the time from Enter to another tab). The
 * crash story (src/server/local-events.ts): if the server dies before the
 * write lands, a peer may hold an event the restarted server does not — it
 * is fetched back on reconnection, not lost, and not made twice. A send that
 * carries a client's transaction ID is broadcast only once written (a retry
 * of the ID after a restart must find its event).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster, type ClusterServer } from '../../src/sim/cluster.ts';
import { apiServer, call, enc, register } from '../client-api/helpers.ts';
import { converge, outboxesDrained, slowStorage, twoServersInRoom, waitFor } from './engine-helpers.ts';

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.stopAll();
  cluster = undefined;
});

function withBody(s: ClusterServer, roomId: string, body: string): string[] {
  return s.client.acceptedEventIds(roomId).filter((id) => (s.client.event(roomId, id).event.content as { body?: unknown })?.body === body);
}

describe('a local event is broadcast while its write is under way', () => {
  it('the peer has it before the write lands; a crash before it lands loses nothing: the restarted server fetches it back', async () => {
    cluster = new Cluster();
    const { a, b, alice, roomId } = await twoServersInRoom(cluster);
    await outboxesDrained(cluster);
    // a's disk stops: this write never lands.
    slowStorage(a);
    let answered = false;
    void a.client.sendMessage(alice, roomId, 'out before the crash').then(
      () => {
        answered = true;
      },
      () => undefined,
    );
    await waitFor(cluster, () => withBody(b, roomId, 'out before the crash').length === 1, 'b to receive the broadcast');
    // Nobody was told it was sent, and it waits in no outbox (those are written with the event).
    expect(answered).toBe(false);
    expect(a.hs.outbox.totalPending()).toBe(0);
    const [id] = withBody(b, roomId, 'out before the crash');

    await cluster.crash('a');
    const a2 = await cluster.restart('a');
    expect(withBody(a2, roomId, 'out before the crash')).toEqual([]);
    await converge(cluster, roomId);
    expect(withBody(a2, roomId, 'out before the crash')).toEqual([id]);
    expect(withBody(b, roomId, 'out before the crash')).toEqual([id]);
  });

  it('a send with a client transaction ID is broadcast only once its write has landed', async () => {
    cluster = new Cluster();
    const a = await apiServer(cluster, 'a');
    const b = await cluster.add('b');
    const alice = await register(a.api, 'alice');
    const created = await call(a.api, 'POST', '/createRoom', { preset: 'public_chat' }, alice.token);
    const roomId = created.json.room_id as string;
    await b.client.join(await b.hs.register('bob'), roomId, [a.hs.serverName]);
    await converge(cluster, roomId);
    await outboxesDrained(cluster);

    const open = slowStorage(a);
    const put = call(a.api, 'PUT', `/rooms/${enc(roomId)}/send/m.room.message/t1`, { msgtype: 'm.text', body: 'with an ID' }, alice.token);
    await new Promise((r) => setTimeout(r, 300));
    expect(withBody(b, roomId, 'with an ID')).toEqual([]);
    open();
    expect((await put).status).toBe(200);
    await waitFor(cluster, () => withBody(b, roomId, 'with an ID').length === 1, 'b to receive it once written');
  });
});

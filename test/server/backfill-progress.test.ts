/**
 * Backfill progress: after a remote join the history comes from a peer page
 * by page, and the engine reports each page and the end (`backfill` updates),
 * so the UI can show "Loading older history… N events".
 */
import { afterEach, describe, expect, it } from 'vitest';
import { UnreachableError } from '../../src/server/federation/types.ts';
import type { Update } from '../../src/server/updates.ts';
import { Cluster, type ClusterServer } from '../../src/sim/cluster.ts';
import { converge, waitFor } from './engine-helpers.ts';

type BackfillUpdate = Extract<Update, { kind: 'backfill' }>;

let cluster: Cluster;
afterEach(() => cluster?.stopAll());

/** Alice's public room on `a` with `n` messages, and bob on `b` collecting b's backfill updates for it. */
async function roomWithHistory(n: number): Promise<{ a: ClusterServer; b: ClusterServer; bob: string; roomId: string; seen: BackfillUpdate[] }> {
  cluster = new Cluster();
  const a = await cluster.add('a');
  const b = await cluster.add('b');
  const alice = await a.hs.register('alice', 'Alice');
  const bob = await b.hs.register('bob', 'Bob');
  const roomId = await a.client.createRoom(alice, { preset: 'public_chat', name: 'Archive' });
  for (let i = 0; i < n; i++) await a.client.sendMessage(alice, roomId, `m${i}`);
  const seen: BackfillUpdate[] = [];
  b.hs.subscribe((u) => {
    if (u.kind === 'backfill' && u.roomId === roomId) seen.push(u);
  });
  return { a, b, bob, roomId, seen };
}

describe('backfill progress updates', () => {
  it('one update per page with a growing count, then done with the total', async () => {
    const { a, b, bob, roomId, seen } = await roomWithHistory(450);
    await b.client.join(bob, roomId, [a.hs.serverName]);
    await waitFor(cluster, () => seen.some((u) => u.done), 'the backfill to finish', 15_000);
    await converge(cluster, roomId, undefined, 15_000);

    const pages = seen.filter((u) => !u.done);
    const end = seen.find((u) => u.done)!;
    // The start (0), then 450 messages and the room's creation events at 200 per page: three pages or more.
    expect(pages[0]!.fetched).toBe(0);
    expect(pages.length).toBeGreaterThanOrEqual(4);
    for (let i = 1; i < pages.length; i++) expect(pages[i]!.fetched).toBeGreaterThan(pages[i - 1]!.fetched);
    expect(end.error).toBeUndefined();
    expect(end.fetched).toBe(pages.at(-1)!.fetched);
    expect(end.fetched).toBeGreaterThanOrEqual(450);
    // The update comes after the history is placed: the timeline already holds it.
    expect(b.client.messageBodies(bob, roomId)).toContain('m0');
  }, 30_000);

  it('a failed backfill still ends with done, the count so far and the error', async () => {
    const { a, b, bob, roomId, seen } = await roomWithHistory(250);
    // The peer answers the first backfill page and is unreachable for the rest.
    const net = cluster.net;
    const deliver = net.deliver.bind(net);
    let pagesServed = 0;
    net.deliver = async (from, to, request) => {
      if (request.kind === 'backfill' && from === b.hs.serverName && pagesServed++ >= 1) throw new UnreachableError(to, 'gone mid-backfill');
      return deliver(from, to, request);
    };
    await b.client.join(bob, roomId, [a.hs.serverName]);
    await waitFor(cluster, () => seen.some((u) => u.done), 'the backfill to give up', 15_000);

    const end = seen.find((u) => u.done)!;
    expect(end.error).toMatch(/gone mid-backfill/);
    expect(seen.filter((u) => !u.done).map((u) => u.fetched)).toEqual([0, end.fetched]);
    expect(end.fetched).toBeGreaterThan(0);
  }, 30_000);
});

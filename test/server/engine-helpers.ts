/**
 * Shared helpers for the engine's multi-server tests: convergence waits that
 * say what differs on timeout, and refusal assertions on MatrixErrors.
 */
import { expect } from 'vitest';
import type { WriteBatch } from '../../src/server/store/types.ts';
import type { Cluster, ClusterServer } from '../../src/sim/cluster.ts';

export const ROOM_VERSIONS = ['10', '11', 'I.1'] as const;

/** Waits until every listed server holds the same accepted events and state for the room. */
export async function converge(cluster: Cluster, roomId: string, labels?: string[], timeoutMs = 5000): Promise<void> {
  const ls = labels ?? [...cluster.servers.keys()];
  await cluster.until(
    () => cluster.converged(roomId, ls),
    timeoutMs,
    () =>
      `convergence of ${roomId} on ${ls.join(', ')}: ${ls
        .map((l) => {
          try {
            const c = cluster.get(l).client;
            return `${l}=${c.acceptedEventIds(roomId).length} events, ${Object.keys(c.stateIds(roomId)['m.room.member'] ?? {}).length} members`;
          } catch (err) {
            return `${l}: ${(err as Error).message}`;
          }
        })
        .join('; ')}`,
  );
}

/** Expects `p` to reject with a MatrixError carrying `errcode` and a message matching `message`. */
export async function expectRefused(p: Promise<unknown>, errcode: string, message?: RegExp): Promise<Error> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  expect(caught, 'expected a refusal').toBeInstanceOf(Error);
  const err = caught as Error & { errcode?: string };
  expect(err.errcode, err.message).toBe(errcode);
  if (message) expect(err.message).toMatch(message);
  return err;
}

/** Waits for `check` with a description for the timeout message. */
export function waitFor(cluster: Cluster, check: () => boolean, what: string, timeoutMs = 5000): Promise<number> {
  return cluster.until(check, timeoutMs, () => what);
}

/**
 * Until no server of the cluster has anything queued: a transaction waits behind its broadcast
 * for a moment (outbox.ts), so a test that counts queued entries lets the earlier ones go first.
 */
export function outboxesDrained(cluster: Cluster): Promise<number> {
  return waitFor(cluster, () => [...cluster.servers.values()].every((s) => s.hs.outbox.totalPending() === 0), 'the outboxes to drain');
}

export interface ThreeServers {
  a: ClusterServer;
  b: ClusterServer;
  c: ClusterServer;
  alice: string;
  bob: string;
  carol: string;
}

/** Adds servers a, b and c to the cluster, with alice@a, bob@b and carol@c. */
export async function addThreeServers(cluster: Cluster): Promise<ThreeServers> {
  const a = await cluster.add('a');
  const b = await cluster.add('b');
  const c = await cluster.add('c');
  return { a, b, c, alice: await a.hs.register('alice'), bob: await b.hs.register('bob'), carol: await c.hs.register('carol') };
}

/** Servers a and b with alice@a and bob@b, both joined to a public room alice created. */
export async function twoServersInRoom(
  cluster: Cluster,
  roomVersion?: string,
): Promise<{ a: ClusterServer; b: ClusterServer; alice: string; bob: string; roomId: string }> {
  const a = await cluster.add('a');
  const b = await cluster.add('b');
  const alice = await a.hs.register('alice');
  const bob = await b.hs.register('bob');
  const roomId = await a.client.createRoom(alice, { ...(roomVersion ? { roomVersion } : {}), preset: 'public_chat' });
  await b.client.join(bob, roomId, [a.hs.serverName]);
  await converge(cluster, roomId);
  return { a, b, alice, bob, roomId };
}

/**
 * Server a with alice, who creates a public room, and `others` more servers (b, c, …) with
 * user0@b, user1@c, …, all joined and converged.
 */
export async function serversInRoom(
  cluster: Cluster,
  others: number,
): Promise<{ a: ClusterServer; alice: string; roomId: string; others: ClusterServer[]; users: string[] }> {
  const a = await cluster.add('a');
  const servers: ClusterServer[] = [];
  for (let i = 0; i < others; i++) servers.push(await cluster.add(String.fromCharCode(98 + i)));
  const alice = await a.hs.register('alice');
  const roomId = await a.client.createRoom(alice, { preset: 'public_chat' });
  const users: string[] = [];
  for (const [i, s] of servers.entries()) {
    const user = await s.hs.register(`user${i}`);
    await s.client.join(user, roomId, [a.hs.serverName]);
    users.push(user);
  }
  await converge(cluster, roomId);
  return { a, alice, roomId, others: servers, users };
}

/** Holds `s`'s store writes until the returned function is called (a slow disk); the writes then land in order. */
export function slowStorage(s: ClusterServer): () => void {
  const write = s.store.write.bind(s.store);
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  s.store.write = async (batch: WriteBatch) => {
    await opened;
    return write(batch);
  };
  return () => {
    s.store.write = write;
    open();
  };
}

/** Wraps `s`'s verifier so that every signature it checks from now on is counted; returns the count so far. */
export function countVerifications(s: ClusterServer): () => number {
  const verifier = s.hs.identity.verifier;
  let n = 0;
  (s.hs.identity as { verifier: typeof verifier }).verifier = {
    name: `counting ${verifier.name}`,
    verify: (sig, msg, key) => {
      n++;
      return verifier.verify(sig, msg, key);
    },
  };
  return () => n;
}

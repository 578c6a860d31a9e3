/**
 * A /sync long-poll must not miss a change that happens while its answer is
 * being built (SyncNotifier.generation): the build awaits the store, and a
 * to-device message that arrived then woke no one — it sat unseen until the
 * 30 s poll ran out (the emoji verification of test/app/e2ee-security.test.ts
 * waited those 30 s for its last message, and failed when they ran over).
 */
import { describe, expect, it } from 'vitest';
import type { ClientApi } from '../../src/server/client-api/api.ts';
import { SyncNotifier } from '../../src/server/client-api/sync.ts';

function notifier(): SyncNotifier {
  const api = { hs: { random: (n: number) => new Uint8Array(n), rooms: new Map(), subscribe: () => () => undefined } };
  return new SyncNotifier(api as unknown as ClientApi);
}

const settles = (p: Promise<void>, ms: number) => Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);

describe('SyncNotifier', () => {
  it('does not wait when something changed after the caller looked', async () => {
    const n = notifier();
    const seen = n.generation;
    n.wake(); // e.g. a to-device message stored while the answer was being built
    expect(await settles(n.waitForChange(10_000, seen), 200)).toBe(true);
  });

  it('waits when nothing changed, and wakes at the next change', async () => {
    const n = notifier();
    const waiting = n.waitForChange(10_000, n.generation);
    expect(await settles(waiting, 100)).toBe(false);
    n.wake();
    expect(await settles(waiting, 200)).toBe(true);
  });
});

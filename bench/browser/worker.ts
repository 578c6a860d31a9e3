/// <reference lib="webworker" />
import { deleteIdbStore, openIdbStore } from '../../src/server/store/idb-store.ts';
import { type PairedIngestRound, benchIngest, median } from '../engine.ts';
import { benchStoreWrites } from '../store.ts';
import { type Ed25519Verifier, keyPairFromSeed, signSync } from '../../src/core/ed25519.ts';
import { startVerifyHelpers } from '../../src/app/verify-helpers.ts';

/** Raw WebCrypto verify in this thread (Chromium verifies Ed25519 on the calling thread). */
async function rawVerifyRate(): Promise<number> {
  const seed = new Uint8Array(32).fill(9);
  const { publicKey } = keyPairFromSeed(seed);
  const msgs = Array.from({ length: 256 }, (_, i) => new TextEncoder().encode(`message ${i} ${'x'.repeat(1000)}`));
  const sigs = msgs.map((m) => signSync(m, seed));
  const key = await crypto.subtle.importKey('raw', publicKey.slice(), { name: 'Ed25519' }, false, ['verify']);
  let done = 0;
  const start = performance.now();
  while (performance.now() - start < 1500) {
    await Promise.all(msgs.map((m, i) => crypto.subtle.verify({ name: 'Ed25519' }, key, sigs[i]!.slice(), m.slice())));
    done += msgs.length;
  }
  return (done * 1000) / (performance.now() - start);
}

/** The same signatures through the helper pool (strict precheck included): what the homeserver worker gets. */
async function poolVerifyRate(pool: Ed25519Verifier): Promise<number> {
  const seed = new Uint8Array(32).fill(9);
  const { publicKey } = keyPairFromSeed(seed);
  const msgs = Array.from({ length: 256 }, (_, i) => new TextEncoder().encode(`message ${i} ${'x'.repeat(1000)}`));
  const sigs = msgs.map((m) => signSync(m, seed));
  let done = 0;
  const start = performance.now();
  while (performance.now() - start < 1500) {
    await Promise.all(msgs.map((m, i) => pool.verify(sigs[i]!, m, publicKey)));
    done += msgs.length;
  }
  return (done * 1000) / (performance.now() - start);
}

self.onmessage = async (ev: MessageEvent<{ ingestEvents: number; pool: 'off' | 'auto' | 'force'; origins: number; rounds?: number }>) => {
  try {
    const tag = `${Date.now()}`;
    const names: string[] = [];
    const open = (name: string) => {
      names.push(name);
      return openIdbStore(name);
    };
    const phase = (name: string) => self.postMessage({ phase: name });
    phase('IndexedDB writes');
    const store = await benchStoreWrites(openIdbStore, { records: 1000, cleanup: (n) => deleteIdbStore(n) });
    const pool =
      ev.data.pool === 'off' ? undefined : ev.data.pool === 'force' ? await startVerifyHelpers(3, 0) : await startVerifyHelpers();
    const origins = ev.data.origins;
    // The raw rates drift by a third within minutes here: each ingest run is compared with the
    // best verify rate measured right before and after it (as bench/run.ts does in Node).
    const raws: number[] = [];
    const pools: number[] = [];
    const best = async () => {
      phase('raw verify rates');
      const raw = await rawVerifyRate();
      const viaPool = pool ? await poolVerifyRate(pool) : undefined;
      raws.push(raw);
      if (viaPool !== undefined) pools.push(viaPool);
      return Math.max(raw, viaPool ?? 0);
    };
    const rounds: PairedIngestRound[] = [];
    let before = await best();
    for (let r = 0; r < Math.max(1, ev.data.rounds ?? 3); r++) {
      phase(`round ${r + 1}: ingest, one origin`);
      const one = await benchIngest(open, ev.data.ingestEvents, `${tag}-${r}`, pool ? { verifier: pool } : {});
      const mid = await best();
      if (origins > 1) phase(`round ${r + 1}: ingest, ${origins} origins`);
      const many =
        origins > 1 ? await benchIngest(open, ev.data.ingestEvents, `${tag}-${r}-k`, { ...(pool ? { verifier: pool } : {}), origins }) : undefined;
      const after = many ? await best() : mid;
      rounds.push({ one, verifyOne: (before + mid) / 2, ...(many ? { many, verifyMany: (mid + after) / 2 } : {}) });
      before = after;
      phase(`round ${r + 1}: deleting its databases`);
      for (const n of names.splice(0)) await deleteIdbStore(n).catch(() => undefined);
    }
    pool?.close();
    self.postMessage({
      ok: true,
      store,
      rounds,
      origins,
      rawVerify: median(raws),
      poolVerify: pools.length > 0 ? median(pools) : undefined,
      poolHelpers: pool?.size ?? 0,
    });
  } catch (err) {
    self.postMessage({ ok: false, error: String((err as Error)?.stack ?? err) });
  }
};

/// <reference lib="webworker" />
import { deleteIdbStore, openIdbStore } from '../../src/server/store/idb-store.ts';
import { benchIngest } from '../engine.ts';
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

self.onmessage = async (ev: MessageEvent<{ ingestEvents: number; pool: 'off' | 'auto' | 'force'; origins: number }>) => {
  try {
    const tag = `${Date.now()}`;
    const names: string[] = [];
    const open = (name: string) => {
      names.push(name);
      return openIdbStore(name);
    };
    const store = await benchStoreWrites(openIdbStore, { records: 1000, cleanup: (n) => deleteIdbStore(n) });
    const pool =
      ev.data.pool === 'off' ? undefined : ev.data.pool === 'force' ? await startVerifyHelpers(3, 0) : await startVerifyHelpers();
    const ingest = await benchIngest(open, ev.data.ingestEvents, tag, pool ? { verifier: pool } : {});
    const origins = ev.data.origins;
    const ingestOrigins =
      origins > 1 ? await benchIngest(open, ev.data.ingestEvents, `${tag}-k`, { ...(pool ? { verifier: pool } : {}), origins }) : undefined;
    const rawVerify = await rawVerifyRate();
    const poolVerify = pool ? await poolVerifyRate(pool) : undefined;
    pool?.close();
    for (const n of names) await deleteIdbStore(n).catch(() => undefined);
    self.postMessage({ ok: true, store, ingest, ingestOrigins, origins, rawVerify, poolVerify, poolHelpers: pool?.size ?? 0 });
  } catch (err) {
    self.postMessage({ ok: false, error: String((err as Error)?.stack ?? err) });
  }
};

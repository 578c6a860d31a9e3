/**
 * Ed25519 verification on other threads. Chromium runs WebCrypto's Ed25519
 * verify on the calling thread (~100 µs each, measured: issuing 2,000
 * verifications takes as long as completing them), so in the homeserver
 * worker verification and everything else an incoming event needs shared
 * one core. The pool sends verifications, batched, to helper workers that
 * each run the same strict verifier (core/ed25519.ts precheck + WebCrypto),
 * so the verdicts are exactly those of the in-thread path.
 *
 * A helper is a round trip to another thread, and a waking one is slow to
 * answer: a lone message in a quiet room waited 11–14 ms p50 for its one
 * verification (bench/latency-cli.ts, Chromium on 2 loaded cores) that takes
 * ~0.3 ms here. With `inThreadWhenQuiet`, a small batch while the helpers are
 * idle and few verifications were asked for lately is verified in this thread;
 * under load everything still goes to the helpers.
 *
 * Transport-agnostic: a `PoolPort` is a Worker or a MessagePort. If a helper
 * fails, its outstanding jobs are verified in-thread by `fallback` and it gets
 * no more work; with no helper left, everything goes to `fallback`.
 */
import type { Ed25519Verifier } from '../core/ed25519.ts';

/** What the pool needs of a Worker or MessagePort. */
export interface PoolPort {
  postMessage(message: unknown, transfer: Transferable[]): void;
  addEventListener(type: 'message', listener: (ev: MessageEvent) => void): void;
  addEventListener(type: 'error' | 'messageerror', listener: (ev: Event) => void): void;
  terminate?(): void;
  close?(): void;
}

/** One batch, as sent to a helper: n signatures, keys and messages packed into three buffers. */
export interface VerifyRequest {
  id: number;
  sigs: Uint8Array;
  keys: Uint8Array;
  msgs: Uint8Array;
  /** n + 1 offsets into msgs. */
  offsets: Uint32Array;
}

/** A helper's answer: one byte per job, 1 = valid. */
export interface VerifyResponse {
  id: number;
  verdicts?: Uint8Array;
  error?: string;
}

interface Job {
  signature: Uint8Array;
  message: Uint8Array;
  publicKey: Uint8Array;
  resolve(valid: boolean): void;
}

interface Helper {
  port: PoolPort;
  inFlight: Map<number, Job[]>;
  jobs: number;
  alive: boolean;
  /** Armed while batches are out: a helper silent for `answerTimeoutMs` is retired. */
  watchdog?: ReturnType<typeof setTimeout>;
}

/** Jobs sent at once when many are waiting: early batches start verifying while later ones are prepared. */
const MAX_BATCH = 16;

export interface VerifyPool extends Ed25519Verifier {
  readonly size: number;
  close(): void;
}

export interface VerifyPoolOptions {
  /** A helper with work out that has not answered for this long is retired (default 10 s). */
  answerTimeoutMs?: number;
  /** Told when a helper is retired (not on close), with why: the in-thread path took over its work. */
  onRetire?: (reason: string) => void;
  /**
   * Verify in this thread (with `fallback`) a batch of at most `batch` jobs when no helper has
   * work out and at most `max` verifications were asked for in the last `windowMs`, this one
   * included. Off when absent.
   */
  inThreadWhenQuiet?: { batch: number; max: number; windowMs: number; now?: () => number };
}

export function createVerifyPool(ports: readonly PoolPort[], fallback: Ed25519Verifier, opts: VerifyPoolOptions = {}): VerifyPool {
  const answerTimeoutMs = opts.answerTimeoutMs ?? 10_000;
  const helpers: Helper[] = ports.map((port) => ({ port, inFlight: new Map(), jobs: 0, alive: true }));
  let queue: Job[] = [];
  let scheduled = false;
  let nextId = 1;
  const quietRule = opts.inThreadWhenQuiet;
  const now = quietRule?.now ?? (() => performance.now());
  // Verifications asked for since windowStart (a fixed window: cheap, and enough to tell a lone
  // message from a stream of them).
  let windowStart = Number.NEGATIVE_INFINITY;
  let windowCount = 0;
  const quiet = (n: number): boolean => {
    if (!quietRule) return false;
    const t = now();
    if (t - windowStart > quietRule.windowMs) {
      windowStart = t;
      windowCount = 0;
    }
    windowCount += n;
    return n <= quietRule.batch && windowCount <= quietRule.max && helpers.every((h) => !h.alive || h.jobs === 0);
  };

  // Re-armed on every answer: fires only if the helper went quiet with work outstanding.
  const arm = (h: Helper) => {
    if (h.watchdog !== undefined) clearTimeout(h.watchdog);
    h.watchdog = h.inFlight.size > 0 ? setTimeout(() => retire(h, 'no answer'), answerTimeoutMs) : undefined;
  };

  let closing = false;
  const retire = (h: Helper, why: string) => {
    if (!h.alive) return;
    h.alive = false;
    if (h.watchdog !== undefined) clearTimeout(h.watchdog);
    const orphans = [...h.inFlight.values()].flat();
    h.inFlight.clear();
    h.jobs = 0;
    for (const job of orphans) runFallback(job);
    try {
      h.port.terminate?.();
      h.port.close?.();
    } catch {
      // already gone
    }
    if (!closing) opts.onRetire?.(why);
  };

  const runFallback = (job: Job) => {
    fallback.verify(job.signature, job.message, job.publicKey).then(job.resolve, () => job.resolve(false));
  };

  for (const h of helpers) {
    h.port.addEventListener('message', (ev: MessageEvent) => {
      const res = ev.data as VerifyResponse;
      const jobs = h.inFlight.get(res?.id);
      if (!jobs) return;
      h.inFlight.delete(res.id);
      h.jobs -= jobs.length;
      arm(h);
      const verdicts = res.verdicts;
      if (!(verdicts instanceof Uint8Array) || verdicts.length !== jobs.length) {
        for (const job of jobs) runFallback(job);
        retire(h, res.error ?? 'malformed answer');
        return;
      }
      for (let i = 0; i < jobs.length; i++) jobs[i]!.resolve(verdicts[i] === 1);
    });
    const onError = () => retire(h, 'helper failed');
    h.port.addEventListener('error', onError);
    h.port.addEventListener('messageerror', onError);
  }

  const send = (h: Helper, jobs: Job[]) => {
    const n = jobs.length;
    const sigs = new Uint8Array(n * 64);
    const keys = new Uint8Array(n * 32);
    const offsets = new Uint32Array(n + 1);
    let total = 0;
    for (let i = 0; i < n; i++) {
      offsets[i] = total;
      total += jobs[i]!.message.length;
    }
    offsets[n] = total;
    const msgs = new Uint8Array(total);
    for (let i = 0; i < n; i++) {
      const job = jobs[i]!;
      sigs.set(job.signature, i * 64);
      keys.set(job.publicKey, i * 32);
      msgs.set(job.message, offsets[i]!);
    }
    const id = nextId++;
    h.inFlight.set(id, jobs);
    h.jobs += n;
    if (h.watchdog === undefined) arm(h);
    const req: VerifyRequest = { id, sigs, keys, msgs, offsets };
    try {
      h.port.postMessage(req, [sigs.buffer, keys.buffer, msgs.buffer, offsets.buffer]);
    } catch (err) {
      retire(h, String(err));
    }
  };

  const flush = () => {
    scheduled = false;
    const jobs = queue;
    queue = [];
    if (quiet(jobs.length)) {
      for (const job of jobs) runFallback(job);
      return;
    }
    for (let i = 0; i < jobs.length; i += MAX_BATCH) {
      const batch = jobs.slice(i, i + MAX_BATCH);
      const live = helpers.filter((h) => h.alive);
      if (live.length === 0) {
        for (const job of batch) runFallback(job);
        continue;
      }
      // The least busy helper takes the batch.
      let best = live[0]!;
      for (const h of live) if (h.jobs < best.jobs) best = h;
      send(best, batch);
    }
  };

  return {
    name: `verify pool (${helpers.length} helper${helpers.length === 1 ? '' : 's'}; ${fallback.name})`,
    size: helpers.length,
    verify(signature, message, publicKey) {
      // Wrong lengths never reach a helper's packed buffers; the verifier's own rule refuses them.
      if (signature.length !== 64 || publicKey.length !== 32) return fallback.verify(signature, message, publicKey);
      return new Promise<boolean>((resolve) => {
        queue.push({ signature, message, publicKey, resolve });
        if (queue.length >= MAX_BATCH) flush();
        else if (!scheduled) {
          scheduled = true;
          queueMicrotask(flush);
        }
      });
    },
    close() {
      closing = true;
      for (const h of helpers) retire(h, 'closed');
    },
  };
}

/** A helper's side: answers VerifyRequests on `port` with `verifier`. */
export function serveVerifications(
  port: { postMessage(message: unknown, transfer: Transferable[]): void; addEventListener(type: 'message', l: (ev: MessageEvent) => void): void },
  verifier: Ed25519Verifier | Promise<Ed25519Verifier>,
): void {
  port.addEventListener('message', async (ev: MessageEvent) => {
    const req = ev.data as VerifyRequest;
    try {
      const v = await verifier;
      const n = req.offsets.length - 1;
      const results = await Promise.all(
        Array.from({ length: n }, (_, i) =>
          v
            .verify(
              req.sigs.subarray(i * 64, i * 64 + 64),
              req.msgs.subarray(req.offsets[i]!, req.offsets[i + 1]!),
              req.keys.subarray(i * 32, i * 32 + 32),
            )
            .catch(() => false),
        ),
      );
      const verdicts = Uint8Array.from(results, (ok) => (ok ? 1 : 0));
      const res: VerifyResponse = { id: req.id, verdicts };
      port.postMessage(res, [verdicts.buffer]);
    } catch (err) {
      const res: VerifyResponse = { id: req?.id, error: String((err as Error)?.message ?? err) };
      port.postMessage(res, []);
    }
  });
}

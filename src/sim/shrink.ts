/**
 * Delta debugging (ddmin) over a fault schedule: find a small sub-list of
 * faults that still makes the run fail. Tries removing halves first, then
 * quarters, down to single faults, keeping any removal after which the
 * predicate still fails. Runs are real simulations, so the search stops at
 * a time budget and returns the smallest failing list found so far.
 */

export interface ShrinkResult<T> {
  /** The smallest failing list found (the input itself if nothing could be removed). */
  minimal: T[];
  /** Predicate evaluations made. */
  tries: number;
  /** Whether the search finished (1-minimal) rather than running out of time. */
  complete: boolean;
}

export async function shrink<T>(
  items: readonly T[],
  fails: (subset: T[]) => Promise<boolean>,
  opts: { budgetMs?: number; now?: () => number } = {},
): Promise<ShrinkResult<T>> {
  const now = opts.now ?? (() => performance.now());
  const deadline = now() + (opts.budgetMs ?? 60_000);
  let current = [...items];
  let tries = 0;
  const test = async (subset: T[]): Promise<boolean> => {
    tries++;
    return fails(subset);
  };
  // The empty schedule first: if the run fails with no faults at all, the faults are not the cause.
  if (current.length > 0 && now() < deadline && (await test([]))) return { minimal: [], tries, complete: true };
  let n = 2;
  while (current.length >= 2) {
    if (now() >= deadline) return { minimal: current, tries, complete: false };
    const chunks = split(current, n);
    let reduced = false;
    for (let i = 0; i < chunks.length; i++) {
      if (now() >= deadline) return { minimal: current, tries, complete: false };
      const complement = chunks.filter((_, j) => j !== i).flat();
      if (await test(complement)) {
        current = complement;
        n = Math.max(n - 1, 2);
        reduced = true;
        break;
      }
    }
    if (!reduced) {
      if (n >= current.length) break;
      n = Math.min(n * 2, current.length);
    }
  }
  return { minimal: current, tries, complete: true };
}

function split<T>(items: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  const size = items.length / n;
  for (let i = 0; i < n; i++) out.push(items.slice(Math.round(i * size), Math.round((i + 1) * size)));
  return out.filter((c) => c.length > 0);
}

/**
 * Latency marks for the message path's stage-by-stage breakdown (bench/latency.ts,
 * docs/benchmarks.md). Off unless a benchmark switches it on: then each stage
 * records `performance.timeOrigin + performance.now()` under a key (an event ID,
 * or the message body before the event exists). Every context of one machine
 * shares that clock, so a page's and a worker's marks line up to well under a
 * millisecond. Each context (page, homeserver worker) has its own buffer; the
 * bench collects them (HomeserverService.takeLatencyTrace).
 */
export interface TraceMark {
  key: string;
  stage: string;
  at: number;
  /** What else the bench needs to join marks (the page's send: the message body). */
  note?: string;
}

/** A bound on what an unread buffer can grow to (a forgotten switch must not leak memory for ever). */
const MAX_MARKS = 50_000;

let marks: TraceMark[] | undefined;

/** The shared clock: ms since the epoch, sub-millisecond. */
export function traceNow(): number {
  return performance.timeOrigin + performance.now();
}

/** Records `stage` for `key` (now, or at `at`), when tracing is on (a no-op otherwise). */
export function traceMark(key: string, stage: string, at?: number, note?: string): void {
  if (marks === undefined || marks.length >= MAX_MARKS) return;
  marks.push({ key, stage, at: at ?? traceNow(), ...(note !== undefined ? { note } : {}) });
}

export function setLatencyTracing(on: boolean): void {
  marks = on ? (marks ?? []) : undefined;
}

export function latencyTracing(): boolean {
  return marks !== undefined;
}

/** The marks recorded since the last call (the buffer is emptied). */
export function takeLatencyTrace(): TraceMark[] {
  const out = marks ?? [];
  if (marks !== undefined) marks = [];
  return out;
}

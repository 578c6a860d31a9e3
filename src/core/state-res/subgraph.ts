/**
 * State resolution v2.1 (room version 12, MSC4297), definition "Conflicted
 * state subgraph": the events lying on some auth_events path from one event
 * of the conflicted state set to another, endpoints included.
 *
 * An event v is on such a path iff it is reachable from the conflicted set
 * by following auth_events (zero or more steps) and some conflicted event is
 * reachable from v (zero or more steps). The first half is the walk below;
 * the second is computed bottom-up over what the walk found (a post-order
 * pass, iterative because auth chains can be deep). Unknown events are
 * absent, and a cycle (impossible with hashed IDs, possible in hand-made
 * input) counts as not reaching further.
 */
import type { EventSource } from './types.ts';

const IN_PROGRESS = 1;
const DONE = 2;

export function conflictedStateSubgraph(conflicted: ReadonlySet<string>, source: EventSource): Set<string> {
  const status = new Map<string, number>();
  // Whether a conflicted event is reachable from the event (itself included).
  const reaches = new Map<string, boolean>();
  const subgraph = new Set<string>();

  for (const root of conflicted) {
    if (status.has(root) || source.get(root) === undefined) continue;
    const stack: Array<[id: string, expanded: boolean]> = [[root, false]];
    for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
      const [id, expanded] = item;
      const ev = source.get(id);
      if (ev === undefined) continue;
      if (!expanded) {
        if (status.has(id)) continue;
        status.set(id, IN_PROGRESS);
        stack.push([id, true]);
        for (const a of ev.auth_events) if (!status.has(a)) stack.push([a, false]);
        continue;
      }
      if (status.get(id) === DONE) continue;
      let r = conflicted.has(id);
      for (const a of ev.auth_events) if (a !== id && reaches.get(a) === true) r = true;
      reaches.set(id, r);
      status.set(id, DONE);
      if (r) subgraph.add(id);
    }
  }
  return subgraph;
}

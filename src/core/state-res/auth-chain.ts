/**
 * State resolution v2, definitions "Auth chain" and "Auth difference".
 *
 * The auth difference is ∪Cᵢ − ∩Cᵢ where Cᵢ, the full auth chain of state set
 * Sᵢ, is the union of the auth chains of Sᵢ's events. Like Synapse (whose
 * `_get_auth_chain_difference` seeds each chain with the event itself), we
 * count Sᵢ's own events as part of Cᵢ: the spec's sentence can be read
 * without them, but every deployed server includes them, and a homeserver
 * must reach the same resolved state as the rest of the federation. (It
 * matters for a state event held by every set but cited by only some sets'
 * other events: with the events included it is common, not in the difference.)
 *
 * Materialising every Cᵢ costs the room's whole auth history on every
 * resolution. Instead (as Synapse did before its chain cover index) we walk
 * backwards from the state sets' events in descending depth order, recording
 * for each event the bitmask of chains that contain it, and stop as soon as
 * every event still on the frontier is in all chains: everything beneath such
 * a frontier is in every Cᵢ, so it cannot be in the difference. The cost is
 * the part of the auth DAG above the deepest point of disagreement, not the
 * room's history.
 */
import { BinaryHeap } from './heap.ts';
import type { EventSource } from './types.ts';

/** The auth chain of one event, by a plain walk (for tests and small callers; resolution never needs it). */
export function authChainOf(id: string, source: EventSource): Set<string> {
  const out = new Set<string>();
  const stack = [id];
  for (let cur = stack.pop(); cur !== undefined; cur = stack.pop()) {
    const ev = source.get(cur);
    if (ev === undefined) continue;
    for (const a of ev.auth_events) {
      if (out.has(a) || source.get(a) === undefined) continue;
      out.add(a);
      stack.push(a);
    }
  }
  return out;
}

interface WalkNode {
  readonly id: string;
  readonly depth: number;
  readonly authEvents: readonly string[];
  /** Sets whose state contains this event (static). */
  readonly inSets: bigint;
  /** Sets whose full auth chain reaches this event through auth events (grows during the walk). */
  reached: bigint;
  expanded: boolean;
  /** Whether the node currently counts towards `unsettled`. */
  unsettled: boolean;
}

export interface AuthDifferenceResult {
  /** ∪Cᵢ − ∩Cᵢ (known events only). */
  readonly difference: Set<string>;
  /** Whether a state event is in every Cᵢ (∩Cᵢ); only meaningful for the sets' own events. */
  inEveryChain(id: string): boolean;
}

/**
 * `membership` maps each event that appears in some state set to the bitmask
 * of the sets containing it (bit i for set i); `setCount` is the number of sets.
 */
export function authDifference(
  membership: ReadonlyMap<string, bigint>,
  setCount: number,
  source: EventSource,
): AuthDifferenceResult {
  const full = (1n << BigInt(setCount)) - 1n;
  const nodes = new Map<string, WalkNode>();
  // Deepest first; ties by ID only so that the visiting order is reproducible.
  const frontier = new BinaryHeap<WalkNode>((a, b) => a.depth > b.depth || (a.depth === b.depth && a.id < b.id));
  let unsettled = 0;

  // A frontier node is settled when it is in every chain: then so are all of
  // its ancestors, and nothing beneath it can be in the difference.
  const isUnsettled = (n: WalkNode): boolean => (n.inSets | n.reached) !== full;
  const refresh = (n: WalkNode): void => {
    const now = !n.expanded && isUnsettled(n);
    if (now !== n.unsettled) {
      unsettled += now ? 1 : -1;
      n.unsettled = now;
    }
  };

  const nodeFor = (id: string): WalkNode | undefined => {
    const existing = nodes.get(id);
    if (existing !== undefined) return existing;
    const ev = source.get(id);
    if (ev === undefined) return undefined; // unknown events are absent
    const node: WalkNode = {
      id,
      depth: ev.depth,
      authEvents: ev.auth_events,
      inSets: membership.get(id) ?? 0n,
      reached: 0n,
      expanded: false,
      unsettled: false,
    };
    nodes.set(id, node);
    refresh(node);
    frontier.push(node);
    return node;
  };

  // Adds `bits` to `target.reached`; if `target` was already expanded (auth
  // DAGs whose depths are not monotone) the new bits are pushed down to its
  // ancestors too, so the result does not depend on depths being honest.
  const reach = (target: WalkNode, bits: bigint): void => {
    const work: Array<[WalkNode, bigint]> = [[target, bits]];
    for (let item = work.pop(); item !== undefined; item = work.pop()) {
      const [n, b] = item;
      if ((n.reached | b) === n.reached) continue;
      n.reached |= b;
      refresh(n);
      if (!n.expanded) continue;
      const flow = n.inSets | n.reached;
      for (const a of n.authEvents) {
        const child = nodes.get(a);
        if (child !== undefined) work.push([child, flow]);
      }
    }
  };

  for (const id of membership.keys()) nodeFor(id);

  while (unsettled > 0) {
    const n = frontier.pop();
    if (n === undefined) break;
    n.expanded = true;
    refresh(n);
    const flow = n.inSets | n.reached;
    for (const a of n.authEvents) {
      const child = nodeFor(a);
      if (child !== undefined) reach(child, flow);
    }
  }

  const difference = new Set<string>();
  for (const n of nodes.values()) {
    const chains = n.inSets | n.reached;
    if (chains !== 0n && chains !== full) difference.add(n.id);
  }
  return {
    difference,
    inEveryChain: (id) => {
      const n = nodes.get(id);
      return n !== undefined && (n.inSets | n.reached) === full;
    },
  };
}

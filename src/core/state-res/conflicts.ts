/**
 * State resolution v2, definition "Unconflicted state map and conflicted
 * state set": a (key, event) pair present in every state set with the same
 * event is unconflicted; every other event is conflicted.
 */
import type { StateKey } from '../pdu.ts';
import type { StateMap } from './types.ts';

export interface SeparatedState {
  readonly unconflicted: Map<StateKey, string>;
  readonly conflicted: Set<string>;
  /** For every event in some state set, the bitmask of the sets holding it (bit i = set i). */
  readonly membership: Map<string, bigint>;
}

export function separateState(stateSets: readonly StateMap[]): SeparatedState {
  const unconflicted = new Map<StateKey, string>();
  const conflicted = new Set<string>();
  const membership = new Map<string, bigint>();
  const full = (1n << BigInt(stateSets.length)) - 1n;
  const first = stateSets[0];
  if (first === undefined) return { unconflicted, conflicted, membership };

  // Keys of the first set: unconflicted iff every other set has the same event.
  for (const [key, id] of first) {
    let same = true;
    for (let i = 1; i < stateSets.length && same; i++) same = stateSets[i]!.get(key) === id;
    if (same) {
      unconflicted.set(key, id);
      membership.set(id, full);
    }
  }
  // Everything else is conflicted; record which sets hold each such event.
  stateSets.forEach((set, i) => {
    const bit = 1n << BigInt(i);
    for (const [key, id] of set) {
      if (unconflicted.get(key) === id) continue;
      conflicted.add(id);
      membership.set(id, (membership.get(id) ?? 0n) | bit);
    }
  });
  return { unconflicted, conflicted, membership };
}

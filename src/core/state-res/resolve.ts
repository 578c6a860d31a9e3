/**
 * State resolution v2 (room versions 10, 11 and I.1) and v2.1 (room version
 * 12, MSC4297), the "Algorithm" section, with each definition in its own module:
 *
 * 0. unconflicted state map and conflicted state set (conflicts.ts); full
 *    conflicted set = conflicted state set ∪ auth difference (auth-chain.ts),
 *    in v2.1 also ∪ the conflicted state subgraph (subgraph.ts);
 * 1. power events of the full conflicted set and the full-conflicted part of
 *    their auth chains, by reverse topological power ordering (power-ordering.ts);
 * 2. iterative auth checks from the unconflicted state map (iterative-auth.ts),
 *    in v2.1 from an empty state map;
 * 3. the remaining events by mainline ordering on the resolved power levels
 *    (mainline.ts);
 * 4. iterative auth checks on those;
 * 5. the unconflicted state map overrides the result.
 *
 * Pure and deterministic: every order used is total (ties end at event_id),
 * so neither the order of the state sets nor map iteration order matters.
 */
import type { AuthContext } from '../auth/index.ts';
import { type RoomEvent, type StateKey, stateKey } from '../pdu.ts';
import type { RoomVersionRules } from '../room-versions/types.ts';
import { authDifference } from './auth-chain.ts';
import { separateState } from './conflicts.ts';
import { iterativeAuthChecks } from './iterative-auth.ts';
import { mainlineSort } from './mainline.ts';
import { selectAndSortPowerEvents } from './power-ordering.ts';
import { conflictedStateSubgraph } from './subgraph.ts';
import type { EventSource, StateMap } from './types.ts';

/** Resolves state sets with the room version's algorithm (`rules.stateResolution`: v2 or v2.1). */
export function resolveState(
  stateSets: readonly StateMap[],
  source: EventSource,
  rules: RoomVersionRules,
  ctx: AuthContext,
): Map<StateKey, string> {
  const first = stateSets[0];
  if (first === undefined) return new Map();
  if (stateSets.length === 1) return new Map(first);

  const { unconflicted, conflicted, membership } = separateState(stateSets);
  // No conflicted events means identical sets, hence identical auth chains.
  if (conflicted.size === 0) return unconflicted;

  // Full conflicted set. A conflicted event we do not have cannot be
  // authorised, so it takes no part; the difference only holds known events.
  const diff = authDifference(membership, stateSets.length, source);
  const fullConflicted = new Set<string>(diff.difference);
  for (const id of conflicted) if (source.get(id) !== undefined) fullConflicted.add(id);
  const v21 = rules.stateResolution === 'v2.1';
  let inEveryChain = diff.inEveryChain;
  if (v21) {
    // A subgraph event outside the auth difference is in every full auth chain:
    // it is an ancestor of a conflicted event, hence in some chain, hence in all.
    const subgraph = conflictedStateSubgraph(conflicted, source);
    for (const id of subgraph) fullConflicted.add(id);
    inEveryChain = (id) => diff.inEveryChain(id) || (subgraph.has(id) && !conflicted.has(id) && !diff.difference.has(id));
  }

  // Step 1.
  const power = selectAndSortPowerEvents(fullConflicted, inEveryChain, source, rules);

  // Step 2 (v2.1: from an empty state map).
  const partial = iterativeAuthChecks(v21 ? new Map() : new Map(unconflicted), power.sorted, source, rules, ctx);

  // Step 3: everything else, by mainline on the partially resolved power levels.
  const rest: RoomEvent[] = [];
  for (const id of fullConflicted) {
    if (power.ids.has(id)) continue;
    const ev = source.get(id);
    if (ev !== undefined && typeof ev.state_key === 'string') rest.push(ev);
  }
  const plId = partial.get(stateKey('m.room.power_levels', ''));
  const pl = plId === undefined ? undefined : source.get(plId);
  const ordered = mainlineSort(rest, pl, source);

  // Step 4.
  const resolved = iterativeAuthChecks(partial, ordered, source, rules, ctx);

  // Step 5.
  for (const [key, id] of unconflicted) resolved.set(key, id);
  return resolved;
}

/** The name state resolution had when v2 was the only algorithm; it follows `rules.stateResolution` too. */
export const resolveStateV2 = resolveState;

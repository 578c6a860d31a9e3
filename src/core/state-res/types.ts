/**
 * Inputs shared by the state resolution v2 modules: where events come from,
 * and the authorization rules they are checked with (the rules themselves
 * live in `core/auth`; state resolution only calls them).
 */
import type { RoomEvent, StateKey } from '../pdu.ts';

/**
 * Where state resolution reads events. `get` returns undefined for events the
 * caller does not have: the algorithm then treats them as absent (an unknown
 * auth event is skipped, an unknown conflicted event cannot be applied).
 */
export interface EventSource {
  get(id: string): RoomEvent | undefined;
  /**
   * Optional cached auth chain of an event (its auth events, theirs, and so on;
   * not the event itself). Used only as an exact shortcut where the walk would
   * otherwise rely on `depth` to prune.
   */
  authChain?(id: string): ReadonlySet<string>;
}

export type StateMap = ReadonlyMap<StateKey, string>;

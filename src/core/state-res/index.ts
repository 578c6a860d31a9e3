/** State resolution v2 (room versions 10, 11, I.1), v2.1 (12) and the state at every event of a DAG. */
export { authChainOf, authDifference, type AuthDifferenceResult } from './auth-chain.ts';
export { separateState, type SeparatedState } from './conflicts.ts';
export { computeDagStates, type DagStates } from './dag.ts';
export { isPowerEvent, roomCreateEvent, senderPowerLevel } from './events.ts';
export { iterativeAuthChecks } from './iterative-auth.ts';
export { mainlineOf, mainlineSort } from './mainline.ts';
export { reverseTopologicalPowerSort, selectAndSortPowerEvents, type PowerSelection } from './power-ordering.ts';
export { resolveState, resolveStateV2 } from './resolve.ts';
export { conflictedStateSubgraph } from './subgraph.ts';
export type { EventSource, StateMap } from './types.ts';

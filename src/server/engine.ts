/**
 * What the engine's modules (local events, ingest, federation server,
 * membership flows, EDUs) share: the homeserver's internals, as one
 * interface so each module depends on exactly this and nothing else.
 */
import type { JsonObject } from '../core/json.ts';
import type { Clock, RandomSource } from './clock.ts';
import type { E2ee } from './e2ee/state.ts';
import type { FederationRequest, FederationResponse } from './federation/types.ts';
import type { ServerIdentity } from './identity.ts';
import type { Logger } from './log.ts';
import type { PendingInvite } from './membership.ts';
import type { Outbox } from './outbox.ts';
import type { Room } from './room.ts';
import type { Store, WriteBatch } from './store/types.ts';
import type { Transport } from './transport/types.ts';
import type { Update } from './updates.ts';

export interface EngineStats {
  pdusReceived: number;
  duplicates: number;
  rejected: number;
  softFailed: number;
  dropped: number;
  missingFetches: number;
  backfills: number;
}

/** Ephemeral room data carried by EDUs. */
export interface Ephemeral {
  /** room -> user -> typing expiry (ms since epoch) */
  typing: Map<string, Map<string, number>>;
  /** room -> user -> latest read receipt */
  receipts: Map<string, Map<string, { eventId: string; ts: number }>>;
  /** user -> presence */
  presence: Map<string, { presence: string; lastActiveTs: number; statusMsg?: string }>;
}

/** Tunables (the simulator and tests shrink them to reach rare paths). */
export interface EngineLimits {
  /** get_missing_events rounds (of 100 events) before falling back to state_ids. */
  missingEventRounds: number;
  /** Broadcast PDUs a room's inbox holds while the room is busy; more are shed (the outbox delivers them). */
  broadcastInbox: number;
  /** Presence entries kept for remote users; beyond it, users sharing no room and then the least recently updated are forgotten (edus.ts). */
  presenceEntries: number;
}

/** Invites and knocks for rooms this server is not in, by `room\nuser` (membership.ts; loaded at start). */
export interface PendingTables {
  invites: Map<string, PendingInvite>;
  knocks: Map<string, PendingInvite>;
}

export interface Engine {
  readonly ephemeral: Ephemeral;
  readonly pending: PendingTables;
  readonly limits: EngineLimits;
  readonly identity: ServerIdentity;
  readonly serverName: string;
  readonly store: Store;
  readonly transport: Transport;
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly log: Logger;
  readonly outbox: Outbox;
  /** Device keys, one-time keys, to-device queues (e2ee/state.ts). */
  readonly e2ee: E2ee;
  readonly rooms: Map<string, Room>;
  readonly stats: EngineStats;
  /** Next stream position (local arrival order). */
  nextStream(): number;
  allocateGroupId(): number;
  /** Persists a batch plus the engine counters, atomically; batches land in the order requested (possibly grouped). */
  commit(batch: WriteBatch): Promise<void>;
  /** A failed write waits to be written again with the next commit (nothing held may be skipped). */
  readonly hasUnstoredWrites: boolean;
  emit(update: Update): void;
  /** Creates (in memory) a room we just learned about; the caller commits its record. */
  openRoom(roomId: string, roomVersion: string): Room;
  request(destination: string, request: FederationRequest): Promise<FederationResponse>;
  /**
   * Resolves once the room's broadcast PDUs that arrived before this call
   * have been ingested; undefined when none are waiting. A transaction
   * waits for them, so events are ingested in the order they arrived,
   * whichever way they came (and its PDUs are then mostly held already).
   */
  broadcastsBefore(roomId: string): Promise<void> | undefined;
  /**
   * The copy of `raw` waiting in its room's broadcast inbox (the same event in the same form:
   * `samePdu`), if one is: a transaction waiting behind the broadcasts holds that one instead
   * of a second parsed copy of its own.
   */
  queuedCopy(raw: unknown): JsonObject | undefined;
  isLocalUser(userId: string): boolean;
}

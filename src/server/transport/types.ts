/**
 * What the engine needs from the network: request/response calls to another
 * server by name, and room-scoped fan-out. Implemented in-process (tests and
 * the simulator, with partitions) and over libp2p (streams + gossipsub).
 */
import type { JsonObject } from '../../core/json.ts';
import type { FederationRequest, FederationResponse } from '../federation/types.ts';

export type RequestHandler = (origin: string, request: FederationRequest) => Promise<FederationResponse>;

/** A room-scoped broadcast: new PDUs and room EDUs, best-effort (the outbox guarantees delivery). */
export interface RoomBroadcast {
  room_id: string;
  origin: string;
  pdus?: JsonObject[];
  edus?: { edu_type: string; content: JsonObject }[];
}

export interface TransportEvents {
  /** A peer became reachable (connected, healed, back online): time to flush and catch up. */
  onPeerUp?(peer: string): void;
  onPeerDown?(peer: string): void;
  onBroadcast?(from: string, message: RoomBroadcast): void;
}

export interface Transport {
  /** Our own server name (the PeerId). */
  readonly serverName: string;
  /** Starts serving requests with `handler` and reporting peer/broadcast events. */
  start(handler: RequestHandler, events: TransportEvents): Promise<void>;
  /** Sends one request; rejects with UnreachableError when the destination cannot be reached. */
  request(destination: string, request: FederationRequest, opts?: { timeoutMs?: number }): Promise<FederationResponse>;
  /** Joins/leaves a room's fan-out group. */
  subscribe(roomId: string): void;
  unsubscribe(roomId: string): void;
  /**
   * Best-effort fan-out to the room's other subscribers. Returns the servers it was handed to
   * (not a promise of delivery): the outbox gives them a head start before its own copy.
   */
  broadcast(message: RoomBroadcast): readonly string[];
  /** Peers currently reachable. */
  reachablePeers(): string[];
  stop(): Promise<void>;
}

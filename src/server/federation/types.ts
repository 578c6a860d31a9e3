/**
 * The federation API, transport-agnostic: each request is the Server-Server
 * API's request body plus the path parameters, each response its response
 * body. The transport authenticates the origin (libp2p: the Noise-verified
 * PeerId; in-process: the calling server) and passes it beside the request.
 */
import type { JsonObject } from '../../core/json.ts';
import type { Pdu } from '../../core/pdu.ts';

export interface Transaction {
  origin: string;
  origin_server_ts: number;
  pdus: Pdu[];
  edus: { edu_type: string; content: JsonObject }[];
}

export type FederationRequest =
  | { kind: 'send'; txn_id: string; body: Transaction }
  | { kind: 'make_join'; room_id: string; user_id: string; ver: string[] }
  | { kind: 'send_join'; room_id: string; event_id: string; body: Pdu }
  | { kind: 'invite'; room_id: string; event_id: string; body: { event: Pdu; invite_room_state: JsonObject[]; room_version: string } }
  | { kind: 'make_knock'; room_id: string; user_id: string; ver: string[] }
  | { kind: 'send_knock'; room_id: string; event_id: string; body: Pdu }
  | { kind: 'make_leave'; room_id: string; user_id: string }
  | { kind: 'send_leave'; room_id: string; event_id: string; body: Pdu }
  | { kind: 'event'; event_id: string }
  | { kind: 'state'; room_id: string; event_id: string }
  | { kind: 'state_ids'; room_id: string; event_id: string }
  | { kind: 'event_auth'; room_id: string; event_id: string }
  | { kind: 'backfill'; room_id: string; v: string[]; limit: number }
  | {
      kind: 'get_missing_events';
      room_id: string;
      body: { earliest_events: string[]; latest_events: string[]; limit?: number; min_depth?: number };
    }
  /** Hearth extension for catch-up: our forward extremities in the rooms we share with the caller. */
  | { kind: 'extremities'; room_ids: string[] }
  /**
   * Hearth extension for the outbox's catch-up (outbox.ts): which of these events of a room the
   * answering server holds (placed in its DAG), so that a sender need not send them again.
   */
  | { kind: 'holds'; room_id: string; event_ids: string[] }
  | { kind: 'publicRooms' }
  | { kind: 'media_download'; media_id: string }
  /** End-to-end encryption (e2ee/federation.ts): keys and device lists of the answering server's users. */
  | { kind: 'user_keys_query'; body: { device_keys: Record<string, string[]> } }
  | { kind: 'user_keys_claim'; body: { one_time_keys: Record<string, Record<string, string>> } }
  | { kind: 'user_devices'; user_id: string };

export type FederationKind = FederationRequest['kind'];

/** A Matrix error body (`errcode`, `error`), with the HTTP-like status a refusal would carry. */
export interface MatrixErrorBody {
  errcode: string;
  error: string;
}

export type FederationResponse = { ok: true; body: JsonObject } | { ok: false; status: number; body: MatrixErrorBody };

/** Thrown when a destination cannot be reached at all (partition, crash, offline). */
export class UnreachableError extends Error {
  override readonly name = 'UnreachableError';
  constructor(
    readonly destination: string,
    message = `${destination} is unreachable`,
  ) {
    super(message);
  }
}

/** A federation call answered with an error body. */
export class FederationError extends Error {
  override readonly name = 'FederationError';
  constructor(
    readonly destination: string,
    readonly status: number,
    readonly body: MatrixErrorBody,
  ) {
    super(`${destination}: ${body.errcode}: ${body.error}`);
  }
}

/**
 * The start of a transaction's per-PDU result for an event whose missing
 * history the receiver is still fetching (ingest-fetch.ts
 * `ingestTransaction`): not stored there yet, so not acknowledged — the
 * sender keeps it queued and sends it again later (Outbox), by when it is
 * placed (answered as held) or its history proved unobtainable (answered
 * with that error). Hearth's own convention within the spec's free-form
 * `error` string: a server that does not know it treats it as any failed PDU.
 */
export const HISTORY_PENDING = 'history pending:';

/**
 * The engine's storage interface. Narrow on purpose (as automerge-repo's
 * adapters): the engine keeps a room's working set in memory and writes
 * through; the Store is the durable truth it reloads from after a restart.
 *
 * Every `write` is ONE transaction: an event, its state group, the room's
 * new extremities and the outbox entries it creates commit together or not
 * at all, so a crash never leaves a half-written event.
 */
import type { JsonObject, JsonValue } from '../../core/json.ts';
import type { Pdu } from '../../core/pdu.ts';

/** What the engine decided about an event (the checks performed on receipt of a PDU). */
export type EventStatus =
  /** passed every check; part of the room's state and timeline */
  | 'accepted'
  /** passed auth against its auth events and the state before it, failed against current state */
  | 'soft_failed'
  /** failed auth against its auth events or the state before it; kept as a DAG node only */
  | 'rejected'
  /** known (e.g. from an auth chain or send_join state) but not placed in the DAG */
  | 'outlier';

export interface StoredEvent {
  event_id: string;
  room_id: string;
  /** Local arrival order across the whole server: the live-update stream position. */
  stream: number;
  status: EventStatus;
  /** Why it was rejected or soft-failed, for the UI and the event graph. */
  reason?: string;
  /** State group holding the room state *after* this event (undefined for plain outliers). */
  state_group?: number;
  /** The PDU as received/created; already redacted if its content hash did not match or it was redacted. */
  pdu: Pdu;
  /** Event ID of the redaction that redacted this event, if any. */
  redacted_by?: string;
  /**
   * Placed by a backfill of history older than what this server held (after
   * a join, or filling a gap): clients page back to it with /messages, and
   * /sync does not present it as new.
   */
  historical?: boolean;
}

/**
 * State groups store state as deltas: `delta` maps state keys (type NUL
 * state_key) to event IDs on top of `prev`. A group with no `prev` is a full
 * snapshot; the engine writes one every N deltas so chains stay short.
 */
export interface StateGroupRecord {
  id: number;
  room_id: string;
  prev?: number;
  delta: Record<string, string>;
  /** Number of deltas between this group and its snapshot (0 for snapshots). */
  chain: number;
}

export interface RoomRecord {
  room_id: string;
  room_version: string;
  /** Forward extremities: accepted events with no accepted children. */
  extremities: string[];
  /** State group of the current (resolved) state. */
  state_group: number;
  /** Servers believed to be in the room (joined members' domains), besides us. */
  servers: string[];
  /** Free-form engine bookkeeping (e.g. our membership, DM flag). */
  meta?: JsonObject;
}

export interface DeviceRecord {
  device_id: string;
  display_name: string;
  created_ts: number;
  /** SHA-256 (unpadded base64) of the device's current access token; none: no client session. */
  token_hash?: string;
  last_seen_ts?: number;
}

export interface AccountRecord {
  user_id: string;
  display_name: string;
  devices: DeviceRecord[];
  created_ts: number;
  /** Slow KDF of the account password (see client-api/passwords.ts); none: no password login. */
  password_hash?: string;
  /** Profile avatar (mxc:// URI). */
  avatar_url?: string;
  /** The account was deactivated: no login, no token accepted. */
  deactivated?: boolean;
}

/**
 * Per-user data the Client-Server API keeps (account data, filters,
 * transaction IDs, ...): one record per (user, kind, key). `user_id` '' is
 * server-wide data (room aliases). `stream` orders changes for /sync.
 */
export interface ClientDataRecord {
  user_id: string;
  kind: string;
  key: string;
  value: JsonValue;
  stream?: number;
}

/** A PDU or persistent EDU waiting to be delivered to one destination. */
export interface OutboxEntry {
  /** The server it is owed to, or EVERY_DESTINATION (outbox.ts) for one row naming several in `destinations`. */
  destination: string;
  /** Ordering key within the destination (monotonic). */
  seq: number;
  kind: 'pdu' | 'edu';
  /** For PDUs, the event ID (the event itself is read from the events store). */
  event_id?: string;
  /** For EDUs, the EDU body. */
  edu?: JsonObject;
  /**
   * For PDUs of a room since purged (forgotten by every local user): the
   * event itself, carried by the entry because the events store no longer
   * holds it — a leave sent just before forgetting still reaches its peers.
   */
  pdu?: Pdu;
  /**
   * For a row whose `destination` is EVERY_DESTINATION: the servers the PDU
   * was queued for (one row for a room's servers, instead of one each).
   */
  destinations?: string[];
}

export interface ReceiptRecord {
  room_id: string;
  user_id: string;
  receipt_type: string;
  event_id: string;
  ts: number;
  thread_id?: string;
}

export interface MediaRecord {
  media_id: string;
  content_type: string;
  bytes: Uint8Array;
  created_ts: number;
}

export interface WriteBatch {
  /**
   * Rooms to delete whole, applied before everything else in the batch: the
   * room record, every event, state group and receipt filed under it. In the
   * same transaction as the rest, so a crash leaves the room whole or gone.
   * What else belongs to the room (outbox entries, client data, media) the
   * caller deletes or rewrites explicitly in the same batch.
   */
  purgeRooms?: string[];
  meta?: Record<string, JsonValue>;
  accounts?: AccountRecord[];
  rooms?: RoomRecord[];
  events?: StoredEvent[];
  stateGroups?: StateGroupRecord[];
  outboxPut?: OutboxEntry[];
  outboxDelete?: { destination: string; seq: number }[];
  receipts?: ReceiptRecord[];
  media?: MediaRecord[];
  /** Media IDs to delete (applied before `media`): freeing space, e.g. dropping cached remote media. */
  mediaDelete?: string[];
  clientData?: ClientDataRecord[];
  clientDataDelete?: { user_id: string; kind: string; key: string }[];
}

export interface Store {
  /** Name of the underlying database (for error messages and wipe). */
  readonly name: string;
  getMeta(key: string): Promise<JsonValue | undefined>;
  /** Every meta entry (a handful of small values: the server key, stream positions, ...), for backups. */
  listMeta(): Promise<Record<string, JsonValue>>;
  listAccounts(): Promise<AccountRecord[]>;
  listRooms(): Promise<RoomRecord[]>;
  getRoom(roomId: string): Promise<RoomRecord | undefined>;
  getEvent(eventId: string): Promise<StoredEvent | undefined>;
  /** All events of a room in stream order. */
  roomEvents(roomId: string): Promise<StoredEvent[]>;
  /** All state groups of a room. */
  roomStateGroups(roomId: string): Promise<StateGroupRecord[]>;
  roomReceipts(roomId: string): Promise<ReceiptRecord[]>;
  /** Every pending outbox entry, ordered by destination then seq. */
  outbox(): Promise<OutboxEntry[]>;
  getMedia(mediaId: string): Promise<MediaRecord | undefined>;
  /** Every stored media ID (ours and cached remote copies), without the bytes: backups read them one at a time. */
  listMediaIds(): Promise<string[]>;
  /** Every client-data record (small: the engine keeps them in memory). */
  listClientData(): Promise<ClientDataRecord[]>;
  /** Applies the batch atomically (one IndexedDB transaction). */
  write(batch: WriteBatch): Promise<void>;
  /** Approximate bytes used by each object store (for benchmarks and the network panel). */
  usage(): Promise<Record<string, number>>;
  close(): Promise<void>;
}

/** A storage failure, naming the database and object store involved. */
export class StoreError extends Error {
  override readonly name = 'StoreError';
  constructor(
    message: string,
    readonly database: string,
    readonly objectStore?: string,
    options?: { cause?: unknown },
  ) {
    super(`${database}${objectStore ? `/${objectStore}` : ''}: ${message}`, options);
  }
}

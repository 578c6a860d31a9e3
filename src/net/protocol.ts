/**
 * Hearth's wire protocols over libp2p: one stream protocol per federation
 * endpoint family (so a peer's identify record says which endpoints it
 * serves, and per-protocol stream limits apply), one length-prefixed JSON
 * frame each way, and one gossipsub topic per room. Pure: no libp2p here.
 */
import type { FederationKind, FederationRequest, MatrixErrorBody } from '../server/federation/types.ts';

export const FEDERATION_PREFIX = '/hearth/federation/1';

/** Which protocol carries each request kind. `state` and `state_ids` get one each (different answers). */
const PROTOCOL_PATH: Record<FederationKind, string> = {
  send: 'send',
  make_join: 'make_join',
  send_join: 'send_join',
  invite: 'invite',
  make_knock: 'make_knock',
  send_knock: 'send_knock',
  make_leave: 'make_leave',
  send_leave: 'send_leave',
  event: 'event',
  state: 'state',
  state_ids: 'state_ids',
  event_auth: 'event_auth',
  backfill: 'backfill',
  get_missing_events: 'get_missing_events',
  extremities: 'extremities',
  holds: 'holds',
  publicRooms: 'publicRooms',
  media_download: 'media/download',
  user_keys_query: 'user/keys/query',
  user_keys_claim: 'user/keys/claim',
  user_devices: 'user/devices',
};

export const FEDERATION_KINDS = Object.keys(PROTOCOL_PATH) as FederationKind[];

export function protocolFor(kind: FederationKind): string {
  return `${FEDERATION_PREFIX}/${PROTOCOL_PATH[kind]}`;
}

/** The protocol every Hearth homeserver serves: a peer that identifies with it is a homeserver (a relay is not). */
export const HOMESERVER_MARKER_PROTOCOL = protocolFor('extremities');

export const ROOM_TOPIC_PREFIX = '/hearth/room/1/';
export const DISCOVERY_TOPIC = '/hearth/discovery/1';

export function roomTopic(roomId: string): string {
  return ROOM_TOPIC_PREFIX + roomId;
}

export function isKnownKind(kind: unknown): kind is FederationKind {
  return typeof kind === 'string' && Object.hasOwn(PROTOCOL_PATH, kind);
}

export interface WireLimits {
  /** Largest request frame accepted (bytes). */
  maxRequestBytes: number;
  /** Largest response frame accepted (bytes): backfill and send_join answers are the big ones. */
  maxResponseBytes: number;
  /** Largest gossip message (bytes). */
  maxGossipBytes: number;
  /**
   * Requests of one peer handled at once; more are answered 429 M_LIMIT_EXCEEDED at once. An
   * honest server keeps one transaction in flight and a few fetches (backfill, missing events,
   * media); without a bound, one peer's hundreds of heavy reads (state_ids) took the event loop
   * from everyone else for seconds.
   */
  maxInFlightPerPeer: number;
}

export const DEFAULT_LIMITS: WireLimits = {
  maxRequestBytes: 1024 * 1024,
  maxResponseBytes: 4 * 1024 * 1024,
  maxGossipBytes: 512 * 1024,
  maxInFlightPerPeer: 32,
};

export function errorBody(errcode: string, error: string): MatrixErrorBody {
  return { errcode, error };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** Parses a frame as JSON; undefined when it is not UTF-8 JSON. */
export function decodeJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(decoder.decode(bytes));
  } catch {
    return undefined;
  }
}

/**
 * Why a request frame that parsed as JSON cannot be served on `protocol` by
 * `origin`, or undefined when it can. The transport checks what it alone
 * knows — the stream's protocol and the Noise-authenticated peer — before the
 * engine sees the request (the engine repeats the origin check for `send`).
 */
export function requestProblem(value: unknown, protocol: string, origin: string): MatrixErrorBody | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return errorBody('M_NOT_JSON', 'a federation request must be a JSON object');
  }
  const kind = (value as { kind?: unknown }).kind;
  if (!isKnownKind(kind)) return errorBody('M_UNRECOGNIZED', `unknown request kind ${JSON.stringify(kind)}`);
  if (protocolFor(kind) !== protocol) {
    return errorBody('M_UNRECOGNIZED', `a ${kind} request does not belong on ${protocol}`);
  }
  const req = value as FederationRequest;
  if (req.kind === 'send') {
    const claimed = (req.body as { origin?: unknown } | undefined)?.origin;
    if (claimed !== origin) {
      return errorBody(
        'M_FORBIDDEN',
        `transaction claims origin ${JSON.stringify(claimed)} but the connection is authenticated as ${origin}`,
      );
    }
  }
  return undefined;
}

/** HTTP-like status for a refusal the transport makes itself. */
export function statusFor(errcode: string): number {
  switch (errcode) {
    case 'M_TOO_LARGE':
      return 413;
    case 'M_FORBIDDEN':
      return 403;
    case 'M_UNRECOGNIZED':
      return 404;
    case 'M_LIMIT_EXCEEDED':
      return 429;
    case 'M_UNKNOWN':
      return 500;
    default:
      return 400;
  }
}

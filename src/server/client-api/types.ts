/**
 * The Client-Server API as one transport-agnostic handler: a request in,
 * a response out. The doors (the Service Worker via the tab's homeserver
 * worker, `node:http` in `hearth serve`, tests) only convert to and from
 * these shapes.
 */
import type { JsonValue } from '../../core/json.ts';

export interface ClientRequest {
  method: string;
  /** The URL path, still percent-encoded (e.g. `/_matrix/client/v3/rooms/%21a%3Ax/send/...`). */
  path: string;
  /** The query string without its `?` ('' when none). */
  query: string;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body?: Uint8Array;
}

export interface ClientResponse {
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: Uint8Array;
}

/** What a route handler returns: JSON (the usual case) or raw bytes (media). */
export type Reply =
  | { status?: number; json: JsonValue; headers?: Record<string, string> }
  | { status?: number; bytes: Uint8Array; contentType: string; headers?: Record<string, string> };

/** The device a request's access token belongs to. */
export interface Session {
  userId: string;
  deviceId: string;
}

/**
 * A device's Client-Server API calls made straight into the homeserver's one handler (no HTTP,
 * no Service Worker): how the tab's own encryption device talks to the homeserver it lives
 * beside, and how tests give a device a server without a network door.
 */
import type { ClientApi } from '../server/client-api/api.ts';
import type { CsRequest } from './device.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Requests as the device holding `token`; a body that is not JSON reads as `json: undefined`. */
export function inProcessRequest(api: ClientApi, token: string): CsRequest {
  return async (method, path, body) => {
    const q = path.indexOf('?');
    const res = await api.handle({
      method,
      path: q < 0 ? path : path.slice(0, q),
      query: q < 0 ? '' : path.slice(q + 1),
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: encoder.encode(body) } : {}),
    });
    let json: unknown;
    try {
      json = JSON.parse(decoder.decode(res.body));
    } catch {
      json = undefined;
    }
    return { status: res.status, json };
  };
}

/**
 * The Service Worker's door onto the tab's homeserver (the Client-Server API).
 *
 * A Service Worker is stopped whenever the browser likes (idle for tens of
 * seconds, or by DevTools), so it holds no state and hosts nothing: it only
 * routes. Same-origin requests for `/_matrix/…` and `/.well-known/matrix/client`
 * are forwarded, one fresh MessageChannel per request, to a page that runs a
 * homeserver worker (src/app/sw-bridge.ts); that page hands them to its worker
 * (HomeserverService.handleClientRequest → ClientApi.handle) and answers on
 * the port. Everything else is left to the app shell (app-shell.ts) and the
 * network.
 *
 * Which page answers: each window client of this origin is asked
 * `{type: 'hearth-ping'}` on a port; a page whose homeserver is running
 * answers `{ok: true}`. The page that made the request is preferred (it is
 * usually the homeserver's own tab); otherwise the first other page that
 * says yes (e.g. a client in an iframe, or a second tab without a
 * homeserver). Then `{type: 'hearth-client-request', req}` goes to the chosen
 * page with a port, and `{type: 'hearth-client-response', res}` (or
 * `{type: 'hearth-client-error', error}`) comes back.
 *
 * No page with a homeserver, or no answer in time → 503 M_UNAVAILABLE.
 *
 * Limits (see docs/client-api.md): a page loaded with a hard reload
 * (shift-reload) is not controlled, so its own Matrix requests are not
 * intercepted until it is; the bridge asks this worker to claim it
 * (`{type: 'hearth-claim'}`). If the browser stops this worker during a
 * request (e.g. mid-/sync), that fetch fails with a network error; the
 * client's retry starts the worker again and is served.
 */
import type { FetchEventLike, SwClient, SwScope } from './scope.ts';

/** Longer than /sync's 30 s cap on the homeserver side. */
const REQUEST_TIMEOUT_MS = 45_000;
/** How long a page has to say whether it has a homeserver. */
const PING_TIMEOUT_MS = 1_500;
/** How long the requesting page is still preferred after another page said yes first. */
const REQUESTER_GRACE_MS = 150;

interface ForwardedResponse {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array<ArrayBuffer>;
}

interface PageAnswer {
  type?: string;
  ok?: unknown;
  res?: ForwardedResponse;
  error?: string;
}

export function isMatrixPath(pathname: string): boolean {
  return pathname.startsWith('/_matrix/') || pathname === '/.well-known/matrix/client';
}

/** Takes over pages at once (a new worker does not wait for old tabs) and routes the Matrix paths. */
export function installMatrixDoor(sw: SwScope): void {
  sw.addEventListener('install', () => {
    void sw.skipWaiting();
  });
  sw.addEventListener('activate', (event) => {
    event.waitUntil(sw.clients.claim());
  });
  sw.addEventListener('message', (event) => {
    // A page that is not controlled (first load before activation, or a hard reload) asks to be.
    const data = event.data as { type?: unknown } | null;
    if (data && data.type === 'hearth-claim') event.waitUntil(sw.clients.claim());
  });
  sw.addEventListener('fetch', (event) => {
    const url = new URL(event.request.url);
    if (url.origin !== sw.location.origin || !isMatrixPath(url.pathname)) return;
    event.respondWith(forward(sw, event));
  });
}

function jsonResponse(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', 'access-control-allow-origin': '*' },
  });
}

function unavailable(error: string): Response {
  return jsonResponse(503, { errcode: 'M_UNAVAILABLE', error });
}

/** Posts `message` to `client` on a fresh channel; resolves with the first answer, or undefined after `ms`. */
function ask(client: SwClient, message: unknown, ms: number, transfer: Transferable[] = []): Promise<PageAnswer | undefined> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    const timer = setTimeout(() => {
      channel.port1.close();
      resolve(undefined);
    }, ms);
    channel.port1.onmessage = (e) => {
      clearTimeout(timer);
      channel.port1.close();
      resolve(e.data as PageAnswer);
    };
    try {
      client.postMessage(message, [channel.port2, ...transfer]);
    } catch {
      clearTimeout(timer);
      resolve(undefined);
    }
  });
}

/** The window client that will answer: the requester if it has a homeserver, else another page that has one. */
async function choosePage(sw: SwScope, event: FetchEventLike): Promise<SwClient | undefined> {
  const all = await sw.clients.matchAll({ type: 'window', includeUncontrolled: true });
  const requesterId = event.clientId || event.resultingClientId;
  const requester = all.find((c) => c.id === requesterId);
  const others = all.filter((c) => c !== requester);
  const ping = (c: SwClient) => ask(c, { type: 'hearth-ping' }, PING_TIMEOUT_MS).then((a) => (a && a.ok === true ? c : undefined));
  const fromRequester = requester ? ping(requester) : Promise.resolve(undefined);
  const fromOthers = new Promise<SwClient | undefined>((resolve) => {
    let left = others.length;
    if (left === 0) resolve(undefined);
    for (const c of others) {
      void ping(c).then((yes) => {
        left--;
        if (yes) resolve(yes);
        else if (left === 0) resolve(undefined);
      });
    }
  });
  // The requester wins if it says yes; another page wins if the requester says no, or is slow to say anything.
  const first = await Promise.race([
    fromRequester.then((c) => ({ requester: true, c })),
    fromOthers.then((c) => ({ requester: false, c })),
  ]);
  if (first.requester) return first.c ?? (await fromOthers);
  if (!first.c) return fromRequester;
  const late = await Promise.race([fromRequester, new Promise<undefined>((r) => setTimeout(() => r(undefined), REQUESTER_GRACE_MS))]);
  return late ?? first.c;
}

async function forward(sw: SwScope, event: FetchEventLike): Promise<Response> {
  const request = event.request;
  const url = new URL(request.url);
  const headers: Record<string, string> = {};
  for (const [k, v] of request.headers) headers[k.toLowerCase()] = v;
  // A fetch event's request has no Host header; the well-known document needs the origin.
  headers.host = url.host;
  headers['x-forwarded-proto'] = url.protocol.replace(':', '');
  let body: Uint8Array<ArrayBuffer> | undefined;
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    const buf = await request.arrayBuffer();
    if (buf.byteLength > 0) body = new Uint8Array(buf);
  }
  const req = {
    method: request.method,
    path: url.pathname,
    query: url.search.startsWith('?') ? url.search.slice(1) : url.search,
    headers,
    ...(body ? { body } : {}),
  };

  const page = await choosePage(sw, event);
  if (!page) return unavailable('no open Hearth tab with a running homeserver answered (open the Hearth app in this browser)');
  const answer = await ask(page, { type: 'hearth-client-request', req }, REQUEST_TIMEOUT_MS, body ? [body.buffer] : []);
  if (!answer) return unavailable(`the homeserver did not answer within ${REQUEST_TIMEOUT_MS / 1000} s`);
  if (answer.type !== 'hearth-client-response' || !answer.res) return unavailable(`the homeserver failed: ${answer.error ?? 'unknown error'}`);
  const res = answer.res;
  const nullBody = res.status === 204 || res.status === 304 || request.method === 'HEAD';
  return new Response(nullBody ? null : res.body, { status: res.status, headers: res.headers });
}

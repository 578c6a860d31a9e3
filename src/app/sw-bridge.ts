/**
 * The page's half of the browser door (workers/sw.ts is the other half):
 * registers Hearth's Service Worker and answers the requests it forwards by
 * handing them to this tab's homeserver worker
 * (HomeserverService.handleClientRequest, over the page's Comlink proxy).
 *
 * The handshake, on a fresh MessagePort per message:
 *   SW → page {type: 'hearth-ping'}                    page → {ok: homeserver running?}
 *   SW → page {type: 'hearth-client-request', req}     page → {type: 'hearth-client-response', res}
 *                                                            or {type: 'hearth-client-error', error}
 * Bodies travel as Uint8Arrays whose buffers are transferred.
 *
 * Uncontrolled pages: the first load before the worker activates, and a
 * hard reload (shift-reload), are not controlled by the Service Worker, so
 * their own `/_matrix/` fetches go to the web server instead (which does not
 * serve them). Such a page still answers requests forwarded for other pages,
 * and asks the worker to claim it; `whenControlled()` waits for that.
 */
import { transfer } from 'comlink';
import type { ClientRequest, ClientResponse } from '../server/client-api/types.ts';

export interface ClientRequestHandler {
  handleClientRequest(req: ClientRequest): Promise<ClientResponse>;
}

/** workers/sw.ts: built to /sw.js; the dev server serves it as a module (vite-plugin-pwa's devOptions). */
// Built: next to the page (relative), so the app works under any path; its scope is that directory.
export const SW_URL = import.meta.env.DEV ? '/dev-sw.js?dev-sw' : 'sw.js';
const SW_SCOPE = import.meta.env.DEV ? '/' : './';
const SW_TYPE: WorkerType = import.meta.env.DEV ? 'module' : 'classic';

interface ForwardedMessage {
  type?: string;
  req?: ClientRequest;
}

let handler: ClientRequestHandler | undefined;
let running = false;
let installed = false;

function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'object' && err && 'message' in err && typeof err.message === 'string') return err.message;
  return String(err);
}

async function answer(port: MessagePort, req: ClientRequest): Promise<void> {
  try {
    if (!handler || !running) throw new Error('the homeserver is not running in this tab');
    const sent = req.body ? transfer(req, [req.body.buffer as ArrayBuffer]) : req;
    const res = await handler.handleClientRequest(sent);
    port.postMessage({ type: 'hearth-client-response', res }, [res.body.buffer as ArrayBuffer]);
  } catch (err) {
    port.postMessage({ type: 'hearth-client-error', error: errorText(err) });
  } finally {
    port.close();
  }
}

/**
 * Registers the Service Worker (once per page) and starts answering its
 * forwarded requests with `homeserver` once `started` resolves (the
 * homeserver worker has started). Until then pings are answered "no", so the
 * worker looks for another page. Does nothing where Service Workers are
 * unavailable (an insecure context: a LAN address over plain HTTP).
 */
export function installSwBridge(homeserver: ClientRequestHandler, started: Promise<unknown>): void {
  handler = homeserver;
  void started.then(
    () => {
      running = true;
    },
    () => {
      running = false;
    },
  );
  const sw = globalThis.navigator?.serviceWorker;
  if (!sw || installed) return;
  installed = true;
  sw.addEventListener('message', (event: MessageEvent<ForwardedMessage>) => {
    const port = event.ports[0];
    const data = event.data;
    if (!port || !data || typeof data !== 'object') return;
    if (data.type === 'hearth-ping') {
      port.postMessage({ ok: running });
      port.close();
    } else if (data.type === 'hearth-client-request' && data.req) {
      void answer(port, data.req);
    }
  });
  // Messages from the worker are queued until this is called (or a 'message' listener is set via onmessage).
  sw.startMessages();
  void registerServiceWorker();
}

async function registerServiceWorker(): Promise<void> {
  const sw = navigator.serviceWorker;
  try {
    await sw.register(SW_URL, { scope: SW_SCOPE, type: SW_TYPE, updateViaCache: 'none' });
    if (!sw.controller) (await sw.ready).active?.postMessage({ type: 'hearth-claim' });
  } catch (err) {
    console.warn('Hearth: the Service Worker could not be registered; standard Matrix clients cannot reach this tab', err);
  }
}

/**
 * Resolves once this page is controlled by the Service Worker (so its own
 * `/_matrix/` requests reach the homeserver); false after `timeoutMs`
 * (e.g. Service Workers unavailable).
 */
export async function whenControlled(timeoutMs = 10_000): Promise<boolean> {
  const sw = globalThis.navigator?.serviceWorker;
  if (!sw) return false;
  if (sw.controller) return true;
  return new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(Boolean(sw.controller)), timeoutMs);
    sw.addEventListener('controllerchange', () => {
      clearTimeout(timer);
      resolve(true);
    });
    // Ask again in case the worker activated before this page's first message.
    void sw.ready.then((r) => r.active?.postMessage({ type: 'hearth-claim' }));
  });
}

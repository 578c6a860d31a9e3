/**
 * hydrogen.html: a standard Matrix client (Hydrogen, hydrogen-view-sdk)
 * talking to a Hearth tab homeserver through the Service Worker — the
 * browser tests' proof that the door works for a real client.
 *
 * This page is both the homeserver tab and the client: it starts its own
 * homeserver worker and the Service Worker bridge exactly as the app does
 * (a Service Worker can only route to a page of the same origin that runs a
 * homeserver), then points Hydrogen at `location.origin`, where Hydrogen's
 * `/_matrix/client/r0/…` requests are intercepted by the Service Worker (src/sw/matrix-door.ts).
 *
 * Query parameters: `user` and `password` (defaults: hydro / a fixed test
 * password). The account is registered through the Service Worker with
 * `m.login.dummy`, then Hydrogen logs in with `m.login.password`. Invites are
 * accepted automatically and the first joined room is shown (timeline +
 * composer). Hydrogen's own Service Worker is not used (Hearth's owns the
 * scope); it would add the access token to authenticated media requests
 * (`/_matrix/client/v1/media/…`, which Hydrogen loads as `<img src>`), so this
 * page does that itself on the way to its homeserver, with the token Hydrogen
 * hands to a stand-in for its worker's handler.
 */
import { Client, FeatureSet, LoadStatus, Platform, RoomView, RoomViewModel, createNavigation, createRouter, viewClassForTile } from 'hydrogen-view-sdk';
import downloadSandbox from 'hydrogen-view-sdk/download-sandbox.html?url';
import 'hydrogen-view-sdk/theme-element-light.css';
import type { ClientRequest } from '../server/client-api/types.ts';
import { installSwBridge, whenControlled } from '../app/sw-bridge.ts';
import { connectWorker } from '../ui/api.ts';

const DB_KEY = 'hearth-hydrogen-db';
const RELOADED_KEY = 'hearth-hydrogen-reloaded';

const statusEl = document.getElementById('status')!;
const userIdEl = document.getElementById('user-id')!;
const app = document.getElementById('app')!;

function status(text: string): void {
  statusEl.textContent = text;
}

async function relayAddresses(): Promise<string[]> {
  try {
    const res = await fetch('hearth-config.json', { cache: 'no-store' });
    const cfg = (await res.json()) as { relays?: unknown };
    return Array.isArray(cfg.relays) ? cfg.relays.filter((r): r is string => typeof r === 'string') : [];
  } catch {
    return [];
  }
}

/** Hydrogen's access token, once logged in: added to media requests that carry none (see above). */
let mediaToken: string | undefined;

async function startHomeserver(): Promise<string> {
  const hs = connectWorker();
  const wanted = sessionStorage.getItem(DB_KEY) ?? undefined;
  const starting = hs.start({ ...(wanted ? { dbName: wanted } : {}), relays: await relayAddresses() });
  installSwBridge(
    {
      handleClientRequest(req: ClientRequest) {
        if (mediaToken && !req.headers.authorization && req.path.startsWith('/_matrix/client/v1/media/')) {
          req.headers.authorization = `Bearer ${mediaToken}`;
        }
        return hs.handleClientRequest(req);
      },
    },
    starting,
  );
  const started = await starting;
  sessionStorage.setItem(DB_KEY, started.dbName);
  return started.serverName;
}

/** Registers the account through the Service Worker (an existing one is fine: a reload of this page). */
async function register(user: string, password: string): Promise<void> {
  const res = await fetch('/_matrix/client/v3/register', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: user, password, auth: { type: 'm.login.dummy' }, inhibit_login: true }),
  });
  if (res.ok) return;
  const body = (await res.json().catch(() => ({}))) as { errcode?: string; error?: string };
  if (body.errcode === 'M_USER_IN_USE') return;
  throw new Error(`register: ${res.status} ${body.errcode ?? ''} ${body.error ?? ''}`);
}

interface MapHandler<V> {
  onAdd(key: string, value: V): void;
  onUpdate(key: string, value: V): void;
  onRemove(key: string, value: V): void;
  onReset(): void;
}

/** Calls `each` for every value now in a Hydrogen ObservableMap and every one added later. */
// biome-ignore lint/suspicious/noExplicitAny: Hydrogen has no types
function forEachValue(map: any, each: (value: any) => void): void {
  for (const v of map.values()) each(v);
  const handler: MapHandler<unknown> = {
    onAdd: (_k, v) => each(v),
    onUpdate: () => undefined,
    onRemove: () => undefined,
    onReset: () => undefined,
  };
  map.subscribe(handler);
}

/**
 * Hydrogen 0.3.1 tells the tiles from the first to the last visible one that they are visible
 * (TimelineViewModel._setVisibleTileRange: TilesCollection.getTileIndex of both, then `slice`), and an
 * image tile has no src before that (BaseMediaTile.thumbnailUrl is "" until notifyVisible). But
 * getTileIndex never finds a date header (DateTile.compare answers -1 even against itself), so with the
 * day's header at the top of the view the range starts at -1 and `slice(-1, …)` leaves only the last
 * tile: an image followed by any other tile stayed blank. This finds such tiles by identity.
 */
// biome-ignore lint/suspicious/noExplicitAny: Hydrogen has no types
function findDateHeaders(timeline: any): void {
  const tiles = timeline.tiles;
  const inOrder: (tile: unknown) => number = tiles.getTileIndex.bind(tiles);
  tiles.getTileIndex = (tile: unknown): number => {
    const index = inOrder(tile);
    return index >= 0 ? index : (tiles._tiles as unknown[]).indexOf(tile);
  };
}

async function main(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const user = params.get('user') ?? 'hydro';
  const password = params.get('password') ?? 'hydrogen test password';

  status('starting the homeserver');
  const serverName = await startHomeserver();
  status('waiting for the Service Worker');
  if (!(await whenControlled())) {
    // Only a page the Service Worker controls can reach its homeserver at this origin: try once more.
    if (!sessionStorage.getItem(RELOADED_KEY)) {
      sessionStorage.setItem(RELOADED_KEY, '1');
      location.reload();
      return;
    }
    throw new Error('this page is not controlled by the Service Worker');
  }
  status('registering');
  await register(user, password);

  status('logging in');
  const assetPaths = { downloadSandbox };
  const platform = new Platform({ container: app, assetPaths, config: {}, options: { development: import.meta.env.DEV } });
  const navigation = createNavigation();
  platform.setNavigation(navigation);
  await platform.init();
  // Hydrogen 0.3.1 hands the session's access token to its Service Worker handler unconditionally
  // (Client._loadSessionInfo → platform.updateService.updateAuthData): without its worker that
  // handler is null and loading fails. This stand-in keeps the token for media requests instead.
  platform._serviceWorkerHandler = {
    updateAuthData(auth: { accessToken?: string }) {
      if (auth.accessToken) mediaToken = auth.accessToken;
    },
  };
  const urlRouter = createRouter({ navigation, history: platform.history });
  urlRouter.attach();
  const client = new Client(platform);
  const loginOptions = await client.queryLogin(location.origin).result;
  await client.startWithLogin(loginOptions.password(user, password));
  await client.loadStatus.waitFor(
    (s: string) => s === LoadStatus.Ready || s === LoadStatus.Error || s === LoadStatus.LoginFailed,
  ).promise;
  if (client.loginFailure) throw new Error(`login failed: ${client.loginFailure}`);
  if (client.loadError) throw new Error(`load failed: ${client.loadError.message}`);
  const session = client.session;
  userIdEl.textContent = session.userId;
  status(`ready on ${serverName}`);

  // Accept every invite; show the first joined room.
  forEachValue(session.invites, (invite) => void invite.accept());
  const features = await FeatureSet.load(platform.settingsStorage);
  let shown = false;
  forEachValue(session.rooms, (room) => {
    if (shown) return;
    shown = true;
    void (async () => {
      const vm = new RoomViewModel({ room, session, ownUserId: session.userId, platform, urlRouter, navigation, features });
      await vm.load();
      findDateHeaders(vm.timelineViewModel);
      const view: HTMLElement = new RoomView(vm, viewClassForTile).mount();
      // Hydrogen only tells a tile it is visible from its timeline's scroll container: when the tiles
      // are shorter than the scroller, or on a scroll event. An image tile has no src before that
      // (BaseMediaTile.thumbnailUrl is "" until notifyVisible). Its own app sizes the room view through
      // the SessionView grid; mounted alone, the view would grow with its tiles, so the scroller would
      // always exactly fit them and neither would happen. Give it the page's height.
      view.style.height = '100%';
      app.replaceChildren(view);
      status(`ready on ${serverName}; room ${room.id} open`);
    })();
  });
}

main().catch((err: unknown) => {
  console.error(err);
  status(`failed: ${err instanceof Error ? err.message : String(err)}`);
});

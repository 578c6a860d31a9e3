/**
 * The app shell, offline: the built pages, scripts, styles and icons are
 * precached by Workbox from the manifest the build injects (each file with
 * a revision — hashed asset names, a content hash for the rest — so a new
 * build replaces exactly what changed and drops the old caches), and a page
 * reloaded while the server that served it is down still opens: the
 * homeserver itself lives in the tab (IndexedDB), only the files came from
 * the server.
 *
 * Navigations go to the network first (a running server's page is always the
 * current one); when the network fails, the precached copy of that page is
 * served, or the app's index.html. Scripts and styles come from the precache
 * (their names carry their hash). Requests for the Matrix paths never reach
 * this: the door (matrix-door.ts) answers them first.
 */
import { cleanupOutdatedCaches, matchPrecache, precacheAndRoute } from 'workbox-precaching';
import type { PrecacheEntry } from 'workbox-precaching';
import { NavigationRoute, registerRoute } from 'workbox-routing';

/** The precached copy of a page, else the app's own page — both under the worker's scope (the app may live under any path). */
async function cachedPage(url: URL): Promise<Response | undefined> {
  const scope = (globalThis as { registration?: { scope: string } }).registration?.scope ?? new URL('./', url).href;
  const page = url.pathname.endsWith('/') ? new URL('index.html', url) : url;
  return (await matchPrecache(page.href)) ?? (await matchPrecache(new URL('index.html', scope).href));
}

export function installAppShell(manifest: readonly (PrecacheEntry | string)[]): void {
  cleanupOutdatedCaches();
  registerRoute(
    new NavigationRoute(
      async ({ request }) => {
        try {
          return await fetch(request);
        } catch (err) {
          const page = await cachedPage(new URL(request.url));
          if (page) return page;
          throw err;
        }
      },
      // The Client-Server API's paths are the door's; a navigation there must not get the app.
      { denylist: [/^\/_matrix\//, /^\/\.well-known\//] },
    ),
  );
  precacheAndRoute([...manifest]);
}

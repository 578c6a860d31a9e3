/**
 * Hearth's Service Worker (built to /sw.js by vite-plugin-pwa, strategy
 * injectManifest; in `npm start`'s dev server it is served as a module at
 * /dev-sw.js?dev-sw). Two jobs, both stateless:
 *
 * 1. the Client-Server API door (src/sw/matrix-door.ts): `/_matrix/…` and
 *    `/.well-known/matrix/client` go to a page whose homeserver runs;
 * 2. in production builds only, the offline app shell (src/sw/app-shell.ts):
 *    the precached build, so a reload works while the web server is down.
 *    The dev server's files change on every edit, so nothing is precached there.
 *
 * The door's fetch listener is added first: it answers the Matrix paths, and
 * Workbox's router never sees them.
 */
import type { PrecacheEntry } from 'workbox-precaching';
import { installAppShell } from '../src/sw/app-shell.ts';
import { installMatrixDoor } from '../src/sw/matrix-door.ts';
import type { SwScope } from '../src/sw/scope.ts';

declare const self: SwScope & { __WB_MANIFEST: (PrecacheEntry | string)[] };

installMatrixDoor(self);
if (import.meta.env.PROD) installAppShell(self.__WB_MANIFEST);

/// <reference lib="webworker" />
/**
 * The tab's homeserver: engine + IndexedDB store + network, in a dedicated
 * worker so the page stays responsive. The page talks to it through Comlink
 * (see src/app/service.ts for the API, docs/api.md for its documentation).
 */
import * as Comlink from 'comlink';
import { HomeserverService } from '../src/app/service.ts';
import { createBrowserTransport } from '../src/app/browser-transport.ts';
import { readRelayConfig } from '../src/app/relay-config.ts';
import { startVerifyHelpers } from '../src/app/verify-helpers.ts';

Comlink.expose(new HomeserverService(createBrowserTransport, () => startVerifyHelpers(), () => readRelayConfig()));

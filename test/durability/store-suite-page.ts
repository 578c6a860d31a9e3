/**
 * The shared Store acceptance suite (test/server/store-suite.ts) for a
 * Chromium page: bundled by e2e/store-suite-chromium.spec.ts with `vitest`
 * aliased to test/helpers/browser-vitest.ts, run on the browser's own
 * IndexedDB through the same openIdbStore the homeserver worker uses.
 */
import { openIdbStore } from '../../src/server/store/idb-store.ts';
import { run } from '../helpers/browser-vitest.ts';
import { storeAcceptanceSuite } from '../server/store-suite.ts';

storeAcceptanceSuite('Chromium IndexedDB', (name) => openIdbStore(name));

export { run };

/** /sync (being written). */
import type { ClientApi } from './api.ts';
import type { Route } from './router.ts';

export class SyncNotifier {
  constructor(readonly api: ClientApi) {}
  wake(): void {}
}

export const syncRoutes: Route[] = [];

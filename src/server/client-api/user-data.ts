/** Profile, presence, account data, filters, push rules (being written). */
import type { Route } from './router.ts';

export const userDataRoutes: Route[] = [];

/** Media upload and download (being written). */
import type { Route } from './router.ts';

export const mediaRoutes: Route[] = [];

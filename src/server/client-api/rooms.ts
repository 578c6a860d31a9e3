/** Rooms (being written). */
import type { Route } from './router.ts';

export const roomRoutes: Route[] = [];

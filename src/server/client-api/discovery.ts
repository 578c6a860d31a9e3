/**
 * Discovery: `/versions` (advertising exactly what works), the client
 * well-known document and `/capabilities`, plus `/voip/turnServer` (Hearth
 * has no TURN server: an empty answer, as the spec allows).
 */
import { SUPPORTED_ROOM_VERSIONS } from '../../core/room-versions/registry.ts';
import type { Route } from './router.ts';

/** The spec versions whose endpoints we serve (see docs/client-api.md for each endpoint's status). */
export const SPEC_VERSIONS = ['r0.6.1', 'v1.1', 'v1.2', 'v1.3', 'v1.4', 'v1.5', 'v1.6', 'v1.7', 'v1.8', 'v1.9', 'v1.10', 'v1.11'];

/** The room version API clients get by default: 12, as current homeservers (I.1's m.message is not rendered by standard clients). */
export const CLIENT_DEFAULT_ROOM_VERSION = '12';

export const discoveryRoutes: Route[] = [
  {
    method: 'GET',
    // The one client endpoint without a version in its path.
    family: 'root',
    path: '/_matrix/client/versions',
    auth: 'none',
    handle: () => ({ json: { versions: SPEC_VERSIONS, unstable_features: {} } }),
  },
  {
    method: 'GET',
    family: 'root',
    path: '/.well-known/matrix/client',
    auth: 'none',
    handle: (ctx) => {
      // The homeserver is this origin: the doors know it from the request's Host.
      const host = ctx.req.headers['x-forwarded-host'] ?? ctx.req.headers.host;
      const proto = ctx.req.headers['x-forwarded-proto'] ?? 'http';
      return { json: { 'm.homeserver': { base_url: host ? `${proto}://${host}` : '/' } } };
    },
  },
  {
    method: 'GET',
    family: 'client',
    path: '/capabilities',
    auth: 'required',
    handle: () => {
      const available: Record<string, string> = {};
      for (const v of SUPPORTED_ROOM_VERSIONS) available[v] = v === 'I.1' ? 'unstable' : 'stable';
      return {
        json: {
          capabilities: {
            'm.room_versions': { default: CLIENT_DEFAULT_ROOM_VERSION, available },
            'm.change_password': { enabled: true },
            'm.set_displayname': { enabled: true },
            'm.set_avatar_url': { enabled: true },
            'm.3pid_changes': { enabled: false },
            'm.get_login_token': { enabled: false },
          },
        },
      };
    },
  },
  {
    method: 'GET',
    family: 'client',
    path: '/voip/turnServer',
    auth: 'required',
    handle: () => ({ json: {} }),
  },
];

/**
 * Route tables: each endpoint family exports a list of routes; the router
 * matches a request's method and path against them. Paths are written
 * relative to their family's prefix, with `:name` for one path segment and
 * `*name` for the rest of the path (possibly empty, e.g. a state key).
 */
import type { JsonObject } from '../../core/json.ts';
import type { ClientApi } from './api.ts';
import type { ClientRequest, Reply, Session } from './types.ts';

/** Which prefix a route lives under. */
export type Family =
  /** `/_matrix/client/{r0,v3,v1,unstable}` — Hydrogen still uses r0 */
  | 'client'
  /** `/_matrix/media/{r0,v3,v1}` (the unauthenticated media API) */
  | 'media'
  /** the path as given, e.g. `/.well-known/matrix/client` */
  | 'root';

export interface RouteContext {
  api: ClientApi;
  req: ClientRequest;
  params: Record<string, string>;
  query: URLSearchParams;
  /** The request body as a JSON object (M_NOT_JSON / M_BAD_JSON otherwise); `{}` when there is no body. */
  body(): JsonObject;
}

export interface AuthedContext extends RouteContext {
  session: Session;
}

export type Route =
  | { method: string; family: Family; path: string; auth: 'none'; handle(ctx: RouteContext): Promise<Reply> | Reply }
  | {
      method: string;
      family: Family;
      path: string;
      auth: 'optional';
      handle(ctx: RouteContext & { session?: Session }): Promise<Reply> | Reply;
    }
  | { method: string; family: Family; path: string; auth: 'required'; handle(ctx: AuthedContext): Promise<Reply> | Reply };

const PREFIXES: { family: Family; re: RegExp }[] = [
  { family: 'client', re: /^\/_matrix\/client\/(?:r0|v3|v1|unstable)(?=\/|$)/ },
  { family: 'media', re: /^\/_matrix\/media\/(?:r0|v3|v1)(?=\/|$)/ },
];

interface Compiled {
  route: Route;
  segments: string[];
}

export type Match = { route: Route; params: Record<string, string> } | { methodNotAllowed: string[] } | undefined;

export class Router {
  private readonly byFamily = new Map<Family, Compiled[]>();

  constructor(routes: readonly Route[]) {
    for (const route of routes) {
      const list = this.byFamily.get(route.family) ?? [];
      list.push({ route, segments: route.path.split('/').slice(1) });
      this.byFamily.set(route.family, list);
    }
  }

  /** Throws URIError for a path whose percent-encoding is malformed. */
  match(method: string, rawPath: string): Match {
    let family: Family = 'root';
    let rest = rawPath;
    for (const p of PREFIXES) {
      const m = p.re.exec(rawPath);
      if (m) {
        family = p.family;
        rest = rawPath.slice(m[0].length);
        break;
      }
    }
    const parts = rest.split('/').slice(1);
    const allowed: string[] = [];
    for (const c of this.byFamily.get(family) ?? []) {
      const params = matchSegments(c.segments, parts);
      if (!params) continue;
      if (c.route.method === method) return { route: c.route, params };
      allowed.push(c.route.method);
    }
    return allowed.length > 0 ? { methodNotAllowed: allowed } : undefined;
  }
}

function matchSegments(pattern: readonly string[], parts: readonly string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    if (p.startsWith('*')) {
      params[p.slice(1)] = parts.slice(i).map(decodeURIComponent).join('/');
      return params;
    }
    const part = parts[i];
    if (part === undefined) return undefined;
    if (p.startsWith(':')) {
      if (part === '') return undefined;
      params[p.slice(1)] = decodeURIComponent(part);
    } else if (p !== part) return undefined;
  }
  return parts.length === pattern.length ? params : undefined;
}

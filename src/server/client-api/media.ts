/**
 * The content repository: the authenticated media API of Matrix v1.11
 * (`/_matrix/client/v1/media/...`) and the legacy `/_matrix/media/v3/...`
 * (deprecated by the spec, still used by Hydrogen): upload, download,
 * thumbnail, config. Blobs live in the engine's media store (../media.ts);
 * a remote blob is fetched over federation from its origin or any peer that
 * holds a copy. Server names in mxc:// URIs are libp2p PeerIds here.
 *
 * Every response carries the spec's media security headers: a sandboxing
 * Content-Security-Policy, and `Content-Disposition: inline` only for the
 * content types the spec lists as safe to render inline.
 */
import { MatrixError } from '../errors.ts';
import { MAX_MEDIA_BYTES, type Media, downloadMedia } from '../media.ts';
import type { ClientApi } from './api.ts';
import { queryBool } from './params.ts';
import type { Family, Route, RouteContext } from './router.ts';
import type { Reply } from './types.ts';

/** The spec's "Serving inline content" list: types a browser will not run as script. */
const INLINE_TYPES = new Set([
  'text/css',
  'text/plain',
  'text/csv',
  'application/json',
  'application/ld+json',
  'image/jpeg',
  'image/gif',
  'image/png',
  'image/apng',
  'image/webp',
  'image/avif',
  'video/mp4',
  'video/webm',
  'video/ogg',
  'video/quicktime',
  'audio/mp4',
  'audio/webm',
  'audio/aac',
  'audio/mpeg',
  'audio/ogg',
  'audio/wave',
  'audio/wav',
  'audio/x-wav',
  'audio/x-pn-wav',
  'audio/flac',
  'audio/x-flac',
]);

/** Image types a thumbnail may have (the spec's thumbnail Content-Type enum). */
const THUMBNAIL_TYPES = new Set(['image/jpeg', 'image/png', 'image/apng', 'image/gif', 'image/webp']);

export const MEDIA_SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; style-src 'unsafe-inline'; object-src 'self';",
  'cross-origin-resource-policy': 'cross-origin',
};

const MEDIA_ID = /^[A-Za-z0-9_-]{1,255}$/;
const MAX_FILENAME = 255;
const CONTENT_TYPE = /^[\w.+-]+\/[\w.+-]+$/;

function baseType(contentType: string): string {
  return contentType.split(';')[0]!.trim().toLowerCase();
}

function checkFilename(name: string): string {
  if (name.length === 0 || name.length > MAX_FILENAME || /[\u0000-\u001f\u007f/\\]/.test(name)) {
    throw new MatrixError('M_INVALID_PARAM', `a file name must be 1 to ${MAX_FILENAME} characters without control characters or slashes`);
  }
  return name;
}

/** `inline` or `attachment`, with the file name quoted or (non-ASCII) RFC 5987-encoded. */
export function contentDisposition(contentType: string, filename: string | undefined, forceInline = false): string {
  const kind = forceInline || INLINE_TYPES.has(baseType(contentType)) ? 'inline' : 'attachment';
  if (!filename) return kind;
  if (/^[\x20-\x7e]*$/.test(filename) && !/["\\]/.test(filename)) return `${kind}; filename="${filename}"`;
  return `${kind}; filename*=utf-8''${encodeURIComponent(filename)}`;
}

function filenameKey(server: string, mediaId: string): string {
  return `mxc://${server}/${mediaId}`;
}

/** The blob named by the path's server and media ID (fetched from peers unless `allow_remote=false`). */
async function fetchMedia(ctx: RouteContext): Promise<{ media: Media; server: string; mediaId: string }> {
  const { serverName: server, mediaId } = ctx.params as { serverName: string; mediaId: string };
  if (!MEDIA_ID.test(mediaId)) throw new MatrixError('M_INVALID_PARAM', `${JSON.stringify(mediaId)} is not a media ID`);
  if (/[\s/]/.test(server)) throw new MatrixError('M_INVALID_PARAM', `${JSON.stringify(server)} is not a server name`);
  const api = ctx.api;
  const allowRemote = ctx.query.has('allow_remote') ? queryBool(ctx.query, 'allow_remote') : true;
  if (!allowRemote && server !== api.serverName) {
    const cached = await api.hs.store.getMedia(`${server}/${mediaId}`);
    if (!cached) throw new MatrixError('M_NOT_FOUND', `mxc://${server}/${mediaId} is not held here (allow_remote=false)`);
    return { media: { contentType: cached.content_type, bytes: cached.bytes }, server, mediaId };
  }
  try {
    return { media: await downloadMedia(api.hs, filenameKey(server, mediaId)), server, mediaId };
  } catch (err) {
    // No reachable server has it: the origin may just be offline. The spec names no errcode for this;
    // 502 says "upstream failed", which clients treat as worth retrying, unlike 404.
    if (err instanceof MatrixError && err.errcode === 'M_UNAVAILABLE') throw new MatrixError('M_UNAVAILABLE', err.reason, { status: 502 });
    throw err;
  }
}

async function download(ctx: RouteContext): Promise<Reply> {
  const { media, server, mediaId } = await fetchMedia(ctx);
  const asked = ctx.params.fileName;
  const stored = ctx.api.getData('', 'media_filename', filenameKey(server, mediaId));
  const filename = asked !== undefined ? checkFilename(asked) : typeof stored === 'string' ? stored : undefined;
  return {
    bytes: media.bytes,
    contentType: media.contentType,
    headers: { ...MEDIA_SECURITY_HEADERS, 'content-disposition': contentDisposition(media.contentType, filename) },
  };
}

function dimension(ctx: RouteContext, name: string): number {
  const raw = ctx.query.get(name);
  if (raw === null || raw === '') throw new MatrixError('M_MISSING_PARAM', `missing query parameter ${name}`);
  if (!/^\d{1,5}$/.test(raw) || Number(raw) === 0) {
    throw new MatrixError('M_INVALID_PARAM', `query parameter ${name} must be a positive integer, got ${JSON.stringify(raw.slice(0, 20))}`);
  }
  return Number(raw);
}

/**
 * Thumbnails: Hearth has no image scaling library, so the "thumbnail" of an
 * image is the image itself (the spec lets a thumbnail be larger than asked).
 * Other content cannot be thumbnailed.
 */
async function thumbnail(ctx: RouteContext): Promise<Reply> {
  dimension(ctx, 'width');
  dimension(ctx, 'height');
  const method = ctx.query.get('method');
  if (method !== null && method !== 'crop' && method !== 'scale') {
    throw new MatrixError('M_INVALID_PARAM', `query parameter method must be "crop" or "scale", got ${JSON.stringify(method.slice(0, 20))}`);
  }
  if (ctx.query.has('animated')) queryBool(ctx.query, 'animated');
  const { media } = await fetchMedia(ctx);
  const type = baseType(media.contentType);
  if (!THUMBNAIL_TYPES.has(type)) {
    throw new MatrixError('M_UNKNOWN', `cannot generate thumbnails for ${type} content`, { status: 400 });
  }
  return {
    bytes: media.bytes,
    contentType: media.contentType,
    headers: { ...MEDIA_SECURITY_HEADERS, 'content-disposition': contentDisposition(type, `thumbnail.${type.slice('image/'.length)}`, true) },
  };
}

async function upload(ctx: RouteContext & { session: { userId: string } }): Promise<Reply> {
  const api: ClientApi = ctx.api;
  const bytes = ctx.req.body ?? new Uint8Array();
  if (bytes.length > MAX_MEDIA_BYTES) throw new MatrixError('M_TOO_LARGE', `the upload is ${bytes.length} bytes; the limit is ${MAX_MEDIA_BYTES}`);
  const header = ctx.req.headers['content-type'];
  const contentType = header === undefined || header.trim() === '' ? 'application/octet-stream' : baseType(header);
  if (!CONTENT_TYPE.test(contentType)) throw new MatrixError('M_INVALID_PARAM', `${JSON.stringify(header)} is not a content type`);
  const rawName = ctx.query.get('filename');
  const filename = rawName === null ? undefined : checkFilename(rawName);
  const uri = await api.client.uploadMedia(ctx.session.userId, bytes, contentType);
  if (filename !== undefined) await api.putData([{ user_id: '', kind: 'media_filename', key: uri, value: filename }]);
  return { json: { content_uri: uri } };
}

const config = (): Reply => ({ json: { 'm.upload.size': MAX_MEDIA_BYTES } });

/** The download, thumbnail and config routes of one family under `prefix`. */
function readRoutes(family: Family, prefix: string, auth: 'required' | 'none'): Route[] {
  return [
    { method: 'GET', family, path: `${prefix}/download/:serverName/:mediaId`, auth, handle: download },
    { method: 'GET', family, path: `${prefix}/download/:serverName/:mediaId/:fileName`, auth, handle: download },
    { method: 'GET', family, path: `${prefix}/thumbnail/:serverName/:mediaId`, auth, handle: thumbnail },
  ];
}

export const mediaRoutes: Route[] = [
  // Authenticated media (v1.11).
  ...readRoutes('client', '/media', 'required'),
  { method: 'GET', family: 'client', path: '/media/config', auth: 'required', handle: config },
  // Legacy media/v3: downloads stay unauthenticated (Hydrogen loads them as <img src>).
  ...readRoutes('media', '', 'none'),
  { method: 'GET', family: 'media', path: '/config', auth: 'required', handle: config },
  { method: 'POST', family: 'media', path: '/upload', auth: 'required', handle: upload },
];

/**
 * Media: `mxc://<server>/<id>` blobs kept in the Store (IndexedDB), served
 * to peers over `/media/download`, and fetched from any peer that has them —
 * the origin first, then every reachable peer (store-and-forward: once a
 * server has fetched a blob it serves it too). Sizes are capped so a blob
 * always fits in one response frame.
 */
import { decodeBase64, encodeBase64, encodeBase64Url } from '../core/base64.ts';
import type { JsonObject } from '../core/json.ts';
import type { Engine } from './engine.ts';
import { MatrixError, badJson, notFound } from './errors.ts';

/** 2 MiB: base64 in a JSON frame stays well under the transport's 4 MiB response cap. */
export const MAX_MEDIA_BYTES = 2 * 1024 * 1024;

const MXC = /^mxc:\/\/([^/]+)\/([A-Za-z0-9_-]{1,255})$/;

export function parseMxc(uri: string): { server: string; mediaId: string } {
  const m = typeof uri === 'string' ? MXC.exec(uri) : null;
  if (!m) throw badJson(`${JSON.stringify(uri)} is not an mxc://server/id URI`);
  return { server: m[1]!, mediaId: m[2]! };
}

/** Store key of a blob: unique across servers, so cached copies of remote media fit beside ours. */
function key(server: string, mediaId: string): string {
  return `${server}/${mediaId}`;
}

export interface Media {
  contentType: string;
  bytes: Uint8Array;
}

function checkSize(bytes: Uint8Array): void {
  if (bytes.length > MAX_MEDIA_BYTES) {
    throw new MatrixError('M_TOO_LARGE', `media is ${bytes.length} bytes; the limit is ${MAX_MEDIA_BYTES}`);
  }
}

export async function uploadMedia(e: Engine, bytes: Uint8Array, contentType: string): Promise<string> {
  checkSize(bytes);
  if (typeof contentType !== 'string' || !/^[\w.+-]+\/[\w.+-]+$/.test(contentType)) {
    throw badJson(`${JSON.stringify(contentType)} is not a content type`);
  }
  const mediaId = encodeBase64Url(e.random(18));
  await e.store.write({
    media: [{ media_id: key(e.serverName, mediaId), content_type: contentType, bytes, created_ts: e.clock.now() }],
  });
  return `mxc://${e.serverName}/${mediaId}`;
}

/** The blob behind an mxc URI: ours, cached, or fetched from the origin or any reachable peer. */
export async function downloadMedia(e: Engine, uri: string): Promise<Media> {
  const { server, mediaId } = parseMxc(uri);
  const local = await e.store.getMedia(key(server, mediaId));
  if (local) return { contentType: local.content_type, bytes: local.bytes };
  if (server === e.serverName) throw notFound(`${uri} does not exist`);
  const candidates = [server, ...e.transport.reachablePeers().filter((p) => p !== server)];
  for (const peer of candidates) {
    try {
      const res = await e.request(peer, { kind: 'media_download', media_id: key(server, mediaId) });
      if (!res.ok || typeof res.body.data !== 'string' || typeof res.body.content_type !== 'string') continue;
      const bytes = decodeBase64(res.body.data);
      checkSize(bytes);
      await e.store.write({
        media: [{ media_id: key(server, mediaId), content_type: res.body.content_type, bytes, created_ts: e.clock.now() }],
      });
      return { contentType: res.body.content_type, bytes };
    } catch {
      // unreachable or refused: try the next peer
    }
  }
  throw new MatrixError('M_UNAVAILABLE', `no reachable server has ${uri}`);
}

/** The `/media/download` handler: any blob we hold, ours or cached. */
export async function serveMedia(e: Engine, mediaKey: unknown): Promise<JsonObject> {
  if (typeof mediaKey !== 'string' || !/^[^/]+\/[A-Za-z0-9_-]{1,255}$/.test(mediaKey)) {
    throw badJson('media_id must be "<server>/<id>"');
  }
  const m = await e.store.getMedia(mediaKey);
  if (!m) throw notFound(`media ${mediaKey} is not held here`);
  return { content_type: m.content_type, data: encodeBase64(m.bytes) };
}

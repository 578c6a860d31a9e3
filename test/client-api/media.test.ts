import { afterEach, describe, expect, it } from 'vitest';
import { MAX_MEDIA_BYTES } from '../../src/server/media.ts';
import { Cluster } from '../../src/sim/cluster.ts';
import { type ApiUser, call, expectError, twoApiServers } from './helpers.ts';

let cluster: Cluster;
afterEach(async () => cluster?.stopAll());

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...Array.from({ length: 500 }, (_, i) => i % 251)]);

async function setup() {
  cluster = new Cluster();
  return twoApiServers(cluster);
}

async function upload(api: Parameters<typeof call>[0], user: ApiUser, bytes: Uint8Array, contentType: string, query = '') {
  return call(api, 'POST', `/_matrix/media/v3/upload${query}`, undefined, user.token, { raw: bytes, headers: { 'content-type': contentType } });
}

function path(uri: string): string {
  return uri.slice('mxc://'.length);
}

describe('client API: media', () => {
  it('uploads, downloads (authenticated and legacy) with the security headers, and serves a second server over federation', async () => {
    const { a, b, alice, bob } = await setup();
    const up = await upload(a.api, alice, PNG, 'image/png', '?filename=cat.png');
    expect(up.status, JSON.stringify(up.json)).toBe(200);
    const uri: string = up.json.content_uri;
    expect(uri).toMatch(new RegExp(`^mxc://${a.hs.serverName}/[A-Za-z0-9_-]+$`));

    const dl = await call(a.api, 'GET', `/_matrix/client/v1/media/download/${path(uri)}`, undefined, alice.token);
    expect(dl.status).toBe(200);
    expect(dl.body).toEqual(PNG);
    expect(dl.headers['content-type']).toBe('image/png');
    expect(dl.headers['content-disposition']).toBe('inline; filename="cat.png"');
    expect(dl.headers['content-security-policy']).toMatch(/^sandbox; default-src 'none'; script-src 'none'/);
    expect(dl.headers['cross-origin-resource-policy']).toBe('cross-origin');

    // The file name in the path wins; the legacy API needs no token.
    const named = await call(a.api, 'GET', `/_matrix/media/v3/download/${path(uri)}/other%20name.png`);
    expect(named.status).toBe(200);
    expect(named.body).toEqual(PNG);
    expect(named.headers['content-disposition']).toBe('inline; filename="other name.png"');
    const r0 = await call(a.api, 'GET', `/_matrix/media/r0/download/${path(uri)}`);
    expect(r0.body).toEqual(PNG);

    // Another server fetches it over federation (and then holds a copy).
    const remote = await call(b.api, 'GET', `/_matrix/client/v1/media/download/${path(uri)}`, undefined, bob.token);
    expect(remote.status, JSON.stringify(remote.json)).toBe(200);
    expect(remote.body).toEqual(PNG);
    expect(remote.headers['content-type']).toBe('image/png');
    const cached = await call(b.api, 'GET', `/_matrix/media/v3/download/${path(uri)}?allow_remote=false`);
    expect(cached.status).toBe(200);

    // Thumbnails of images are the image itself.
    const th = await call(b.api, 'GET', `/_matrix/client/v1/media/thumbnail/${path(uri)}?width=32&height=32&method=scale`, undefined, bob.token);
    expect(th.status).toBe(200);
    expect(th.body).toEqual(PNG);
    expect(th.headers['content-disposition']).toBe('inline; filename="thumbnail.png"');
    const legacyTh = await call(a.api, 'GET', `/_matrix/media/v3/thumbnail/${path(uri)}?width=800&height=600&method=crop&animated=true`);
    expect(legacyTh.status).toBe(200);
  });

  it('serves risky content types as attachments, with a non-ASCII file name encoded', async () => {
    const { a, alice } = await setup();
    const html = new TextEncoder().encode('<script>alert(1)</script>');
    const up = await upload(a.api, alice, html, 'text/html; charset=utf-8', `?filename=${encodeURIComponent('页.html')}`);
    expect(up.status).toBe(200);
    const dl = await call(a.api, 'GET', `/_matrix/client/v1/media/download/${path(up.json.content_uri)}`, undefined, alice.token);
    expect(dl.headers['content-type']).toBe('text/html');
    expect(dl.headers['content-disposition']).toBe(`attachment; filename*=utf-8''${encodeURIComponent('页.html')}`);
    // No Content-Type: octet-stream; no filename: none in the header.
    const bin = await upload(a.api, alice, new Uint8Array([1, 2, 3]), '');
    const got = await call(a.api, 'GET', `/_matrix/media/v3/download/${path(bin.json.content_uri)}`);
    expect(got.headers['content-type']).toBe('application/octet-stream');
    expect(got.headers['content-disposition']).toBe('attachment');
  });

  it('answers config on both APIs', async () => {
    const { a, alice } = await setup();
    for (const p of ['/_matrix/client/v1/media/config', '/_matrix/media/v3/config']) {
      const r = await call(a.api, 'GET', p, undefined, alice.token);
      expect(r.status).toBe(200);
      expect(r.json).toEqual({ 'm.upload.size': MAX_MEDIA_BYTES });
    }
  });

  it('refuses each malformed or impossible request with its spec error', async () => {
    const { a, b, alice, bob } = await setup();
    const img = (await upload(a.api, alice, PNG, 'image/png')).json.content_uri as string;
    const txt = (await upload(a.api, alice, new TextEncoder().encode('hi'), 'text/plain')).json.content_uri as string;
    const A = a.hs.serverName;
    const cases: { name: string; run: () => ReturnType<typeof call>; status: number; errcode: string }[] = [
      { name: 'upload without a token', run: () => call(a.api, 'POST', '/_matrix/media/v3/upload', undefined, undefined, { raw: PNG }), status: 401, errcode: 'M_MISSING_TOKEN' },
      { name: 'upload too large', run: () => upload(a.api, alice, new Uint8Array(MAX_MEDIA_BYTES + 1), 'image/png'), status: 413, errcode: 'M_TOO_LARGE' },
      { name: 'upload with a bogus content type', run: () => upload(a.api, alice, PNG, 'not a type'), status: 400, errcode: 'M_INVALID_PARAM' },
      { name: 'upload with a bad file name', run: () => upload(a.api, alice, PNG, 'image/png', '?filename=a%2Fb'), status: 400, errcode: 'M_INVALID_PARAM' },
      { name: 'authenticated download without a token', run: () => call(a.api, 'GET', `/_matrix/client/v1/media/download/${path(img)}`), status: 401, errcode: 'M_MISSING_TOKEN' },
      { name: 'missing local media', run: () => call(a.api, 'GET', `/_matrix/client/v1/media/download/${A}/nosuchmedia`, undefined, alice.token), status: 404, errcode: 'M_NOT_FOUND' },
      { name: 'malformed media ID', run: () => call(a.api, 'GET', `/_matrix/client/v1/media/download/${A}/a.b`, undefined, alice.token), status: 400, errcode: 'M_INVALID_PARAM' },
      { name: 'remote media no server has', run: () => call(b.api, 'GET', `/_matrix/client/v1/media/download/${A}/nosuchmedia`, undefined, bob.token), status: 502, errcode: 'M_UNAVAILABLE' },
      { name: 'remote media with allow_remote=false', run: () => call(b.api, 'GET', `/_matrix/media/v3/download/${A}/other?allow_remote=false`), status: 404, errcode: 'M_NOT_FOUND' },
      { name: 'bad allow_remote', run: () => call(a.api, 'GET', `/_matrix/media/v3/download/${path(img)}?allow_remote=maybe`), status: 400, errcode: 'M_INVALID_PARAM' },
      { name: 'thumbnail without width', run: () => call(a.api, 'GET', `/_matrix/media/v3/thumbnail/${path(img)}?height=3`), status: 400, errcode: 'M_MISSING_PARAM' },
      { name: 'thumbnail with a non-integer width', run: () => call(a.api, 'GET', `/_matrix/media/v3/thumbnail/${path(img)}?width=1.5&height=3`), status: 400, errcode: 'M_INVALID_PARAM' },
      { name: 'thumbnail with a zero height', run: () => call(a.api, 'GET', `/_matrix/media/v3/thumbnail/${path(img)}?width=1&height=0`), status: 400, errcode: 'M_INVALID_PARAM' },
      { name: 'thumbnail with an unknown method', run: () => call(a.api, 'GET', `/_matrix/media/v3/thumbnail/${path(img)}?width=1&height=1&method=zoom`), status: 400, errcode: 'M_INVALID_PARAM' },
      { name: 'thumbnail of text', run: () => call(a.api, 'GET', `/_matrix/media/v3/thumbnail/${path(txt)}?width=1&height=1`), status: 400, errcode: 'M_UNKNOWN' },
      { name: 'config without a token', run: () => call(a.api, 'GET', '/_matrix/client/v1/media/config'), status: 401, errcode: 'M_MISSING_TOKEN' },
      { name: 'upload on the authenticated prefix (there is none)', run: () => upload(a.api, alice, PNG, 'image/png').then(() => call(a.api, 'POST', '/_matrix/client/v1/media/upload', undefined, alice.token, { raw: PNG })), status: 404, errcode: 'M_UNRECOGNIZED' },
    ];
    for (const c of cases) {
      const r = await c.run();
      expect({ case: c.name, status: r.status, errcode: r.json?.errcode }).toEqual({ case: c.name, status: c.status, errcode: c.errcode });
    }
    expectError(await call(a.api, 'PUT', `/_matrix/media/v3/download/${path(img)}`), 405, 'M_UNRECOGNIZED');
  });
});

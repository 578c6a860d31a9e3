import { afterEach, describe, expect, it } from 'vitest';
import { handleFederationRequest } from '../../src/server/federation-server.ts';
import { MAX_MEDIA_BYTES } from '../../src/server/media.ts';
import { Cluster } from '../../src/sim/cluster.ts';

let cluster: Cluster;
afterEach(async () => cluster?.stopAll());

describe('media', () => {
  it('uploads, serves to peers, caches and re-serves (store-and-forward), caps sizes', async () => {
    cluster = new Cluster();
    const a = await cluster.add('a');
    const b = await cluster.add('b');
    const c = await cluster.add('c');
    const alice = await a.hs.register('alice');
    const bytes = new Uint8Array(300_000).map((_, i) => i % 251);
    const uri = await a.client.uploadMedia(alice, bytes, 'image/png');
    expect(uri).toMatch(new RegExp(`^mxc://${a.hs.serverName}/[A-Za-z0-9_-]+$`));
    const got = await b.client.downloadMedia(uri);
    expect(got.contentType).toBe('image/png');
    expect(got.bytes).toEqual(bytes);
    // a goes away; c still gets the blob, from b's copy.
    await cluster.crash('a');
    const fromB = await c.client.downloadMedia(uri);
    expect(fromB.bytes).toEqual(bytes);
    await expect(a.client.uploadMedia(alice, new Uint8Array(MAX_MEDIA_BYTES + 1), 'image/png')).rejects.toThrow(/M_TOO_LARGE/);
    await expect(b.client.downloadMedia('http://x/y')).rejects.toThrow(/not an mxc/);
    await expect(b.client.downloadMedia(`mxc://${a.hs.serverName}/doesnotexist`)).rejects.toThrow(/no reachable server/);
    const bad = await handleFederationRequest(b.hs, c.hs.serverName, { kind: 'media_download', media_id: '../../etc' });
    expect(bad.ok).toBe(false);
  });
});

/**
 * Repeated peer-store merges skipped (src/net/peer-store-merges.ts), on a
 * real libp2p node's peer store: a repeat within the TTL changes nothing and
 * is skipped; anything new, anything after the TTL, and whatever a rewrite of
 * the peer's record may have undone goes through and lands in the store.
 */
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { Libp2p, PeerId } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { skipRepeatedMerges } from '../../src/net/peer-store-merges.ts';

let node: Libp2p;
let peer: PeerId;
let clock = 0;
const TTL = 1_000;

beforeEach(async () => {
  node = await createLibp2p({ start: false });
  peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519'));
  clock = 0;
});

afterEach(async () => {
  await node.stop();
});

const protocols = async () => (await node.peerStore.get(peer)).protocols.sort();
const addrs = async () => (await node.peerStore.get(peer)).addresses.map((a) => a.multiaddr.toString()).sort();

describe('skipRepeatedMerges', () => {
  it('skips a repeated protocol merge within the TTL, and records a new protocol', async () => {
    const stats = skipRepeatedMerges(node.peerStore, { ttlMs: TTL, now: () => clock });
    await node.peerStore.merge(peer, { protocols: ['/a/1'] });
    await node.peerStore.merge(peer, { protocols: ['/a/1'] });
    expect(stats).toEqual({ merged: 1, skipped: 1 });
    await node.peerStore.merge(peer, { protocols: ['/b/1'] });
    expect(stats).toEqual({ merged: 2, skipped: 1 });
    expect(await protocols()).toEqual(['/a/1', '/b/1']);
  });

  it('merges again once the TTL has passed (the record is refreshed)', async () => {
    const stats = skipRepeatedMerges(node.peerStore, { ttlMs: TTL, now: () => clock });
    await node.peerStore.merge(peer, { protocols: ['/a/1'] });
    clock += TTL - 1;
    await node.peerStore.merge(peer, { protocols: ['/a/1'] });
    clock += 1;
    await node.peerStore.merge(peer, { protocols: ['/a/1'] });
    expect(stats).toEqual({ merged: 2, skipped: 1 });
    expect(await protocols()).toEqual(['/a/1']);
  });

  it('skips identical addresses and records changed ones', async () => {
    const stats = skipRepeatedMerges(node.peerStore, { ttlMs: TTL, now: () => clock });
    const one = multiaddr('/ip4/127.0.0.1/tcp/4001');
    const two = multiaddr('/ip4/127.0.0.1/tcp/4002');
    await node.peerStore.merge(peer, { multiaddrs: [one] });
    await node.peerStore.merge(peer, { multiaddrs: [multiaddr(one.toString())] });
    await node.peerStore.merge(peer, { multiaddrs: [one, two] });
    expect(stats).toEqual({ merged: 2, skipped: 1 });
    expect(await addrs()).toEqual(['/ip4/127.0.0.1/tcp/4001', '/ip4/127.0.0.1/tcp/4002']);
  });

  it('always lets a merge with anything else through (tags, metadata)', async () => {
    const stats = skipRepeatedMerges(node.peerStore, { ttlMs: TTL, now: () => clock });
    for (let i = 0; i < 2; i++) await node.peerStore.merge(peer, { protocols: ['/a/1'], tags: { keep: { value: 50 } } });
    expect(stats).toEqual({ merged: 2, skipped: 0 });
    expect((await node.peerStore.get(peer)).tags.get('keep')?.value).toBe(50);
  });

  it('after save or patch (identify) merges addresses again; after delete, everything', async () => {
    const stats = skipRepeatedMerges(node.peerStore, { ttlMs: TTL, now: () => clock });
    const one = multiaddr('/ip4/127.0.0.1/tcp/4001');
    const two = multiaddr('/ip4/127.0.0.1/tcp/4002');
    await node.peerStore.merge(peer, { protocols: ['/a/1'] });
    await node.peerStore.merge(peer, { multiaddrs: [one] });
    // Identify replaces the record's addresses (and protocols) with what the peer reports.
    await node.peerStore.patch(peer, { protocols: ['/a/1', '/other/1'], multiaddrs: [two] });
    await node.peerStore.merge(peer, { multiaddrs: [one] });
    await node.peerStore.merge(peer, { protocols: ['/a/1'] });
    expect(stats).toEqual({ merged: 3, skipped: 1 });
    expect(await addrs()).toEqual(['/ip4/127.0.0.1/tcp/4001', '/ip4/127.0.0.1/tcp/4002']);
    await node.peerStore.save(peer, { protocols: ['/a/1'] });
    await node.peerStore.merge(peer, { multiaddrs: [one] });
    expect(await addrs()).toEqual(['/ip4/127.0.0.1/tcp/4001']);
    await node.peerStore.delete(peer);
    await node.peerStore.merge(peer, { protocols: ['/a/1'] });
    await node.peerStore.merge(peer, { multiaddrs: [one] });
    expect(await protocols()).toEqual(['/a/1']);
    expect(await addrs()).toEqual(['/ip4/127.0.0.1/tcp/4001']);
    expect(stats).toEqual({ merged: 6, skipped: 1 });
  });

  it('remembers at most `max` merges, then starts over', async () => {
    const stats = skipRepeatedMerges(node.peerStore, { ttlMs: TTL, max: 2, now: () => clock });
    for (const p of ['/a/1', '/b/1', '/c/1', '/a/1']) await node.peerStore.merge(peer, { protocols: [p] });
    expect(stats).toEqual({ merged: 4, skipped: 0 });
    await node.peerStore.merge(peer, { protocols: ['/a/1'] });
    expect(stats).toEqual({ merged: 4, skipped: 1 });
  });
});

import { publicKeyFromRaw } from '@libp2p/crypto/keys';
import { peerIdFromPublicKey as libp2pPeerId } from '@libp2p/peer-id';
import { describe, expect, it } from 'vitest';
import { keyPairFromSeed } from '../../src/core/ed25519.ts';
import { isPeerIdServerName, peerIdFromPublicKey, publicKeyFromPeerId } from '../../src/core/peer-id.ts';
import { serverNameError } from '../../src/core/ids.ts';

describe('PeerId server names', () => {
  it('round-trips an Ed25519 key through a 12D3KooW… PeerId that is a valid server name', () => {
    for (let i = 0; i < 20; i++) {
      const { publicKey } = keyPairFromSeed(new Uint8Array(32).fill(i));
      const id = peerIdFromPublicKey(publicKey);
      expect(id).toMatch(/^12D3KooW[1-9A-HJ-NP-Za-km-z]{44}$/);
      expect(serverNameError(id)).toBeUndefined();
      expect(publicKeyFromPeerId(id)).toEqual(publicKey);
    }
  });
  it('matches the PeerIds libp2p computes for the same keys', () => {
    for (let i = 0; i < 10; i++) {
      const raw = keyPairFromSeed(new Uint8Array(32).fill(i + 100)).publicKey;
      expect(peerIdFromPublicKey(raw)).toBe(libp2pPeerId(publicKeyFromRaw(raw)).toString());
    }
  });
  it('refuses names that are not Ed25519 PeerIds', () => {
    expect(publicKeyFromPeerId('example.org')).toBeUndefined();
    expect(publicKeyFromPeerId('12D3KooW0000')).toBeUndefined();
    expect(isPeerIdServerName('QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N')).toBe(false);
  });
});

/**
 * The gossipsub fast message ID (libp2p-transport.ts): it stands in for
 * StrictSign's (from, seqno) message ID before the signature check, so it
 * must tell every (from, seqno) pair apart and give one pair one ID.
 */
import { describe, expect, it } from 'vitest';
import { gossipFastMsgId } from '../../src/net/libp2p-transport.ts';

const bytes = (...b: number[]) => new Uint8Array(b);

describe('gossipFastMsgId', () => {
  it('is the same for the same sender and sequence number', () => {
    expect(gossipFastMsgId({ from: bytes(1, 2, 3), seqno: bytes(0, 0, 7) })).toBe(gossipFastMsgId({ from: bytes(1, 2, 3), seqno: bytes(0, 0, 7) }));
  });

  it.each([
    ['another sequence number', { from: bytes(1, 2, 3), seqno: bytes(0, 0, 8) }],
    ['another sender', { from: bytes(1, 2, 4), seqno: bytes(0, 0, 7) }],
    ['the same bytes split differently', { from: bytes(1, 2), seqno: bytes(3, 0, 0, 7) }],
    ['no sequence number', { from: bytes(1, 2, 3) }],
  ])('differs for %s', (_what, other) => {
    expect(gossipFastMsgId(other)).not.toBe(gossipFastMsgId({ from: bytes(1, 2, 3), seqno: bytes(0, 0, 7) }));
  });
});

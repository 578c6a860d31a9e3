/**
 * Server names are libp2p PeerIds. For an Ed25519 key the PeerId is the
 * base58btc encoding of an *identity* multihash of the protobuf-encoded
 * public key — the key itself is inside the name, so any server derives a
 * peer's verify key from its name: no key server, no trust on first use.
 *
 *   protobuf PublicKey { Type = Ed25519 (1); Data = 32 bytes } = 08 01 12 20 ‖ key
 *   identity multihash = 00 24 ‖ protobuf (36 bytes)            → "12D3KooW…"
 */
const ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
const INDEX = new Map([...ALPHABET].map((c, i) => [c, i]));
const PREFIX = [0x00, 0x24, 0x08, 0x01, 0x12, 0x20];

/** The key ID under which a Hearth server signs with its PeerId key. */
export const SERVER_KEY_ID = 'ed25519:hearth';

function base58Encode(bytes: Uint8Array): string {
  let zeros = 0;
  while (zeros < bytes.length && bytes[zeros] === 0) zeros++;
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  let out = '';
  while (n > 0n) {
    out = ALPHABET[Number(n % 58n)]! + out;
    n /= 58n;
  }
  return '1'.repeat(zeros) + out;
}

function base58Decode(text: string): Uint8Array | undefined {
  let zeros = 0;
  while (zeros < text.length && text[zeros] === '1') zeros++;
  let n = 0n;
  for (const c of text) {
    const v = INDEX.get(c);
    if (v === undefined) return undefined;
    n = n * 58n + BigInt(v);
  }
  const body: number[] = [];
  while (n > 0n) {
    body.unshift(Number(n & 0xffn));
    n >>= 8n;
  }
  return new Uint8Array([...new Array(zeros).fill(0), ...body]);
}

export function peerIdFromPublicKey(publicKey: Uint8Array): string {
  if (publicKey.length !== 32) throw new RangeError(`an Ed25519 public key is 32 bytes, got ${publicKey.length}`);
  const bytes = new Uint8Array(38);
  bytes.set(PREFIX);
  bytes.set(publicKey, 6);
  return base58Encode(bytes);
}

const cache = new Map<string, Uint8Array | null>();

/** The Ed25519 public key inside a PeerId, or undefined if the name is not an Ed25519 PeerId. */
export function publicKeyFromPeerId(peerId: string): Uint8Array | undefined {
  const hit = cache.get(peerId);
  if (hit !== undefined) return hit ?? undefined;
  let key: Uint8Array | null = null;
  if (peerId.length >= 40 && peerId.length <= 60 && peerId.startsWith('12D3KooW')) {
    const bytes = base58Decode(peerId);
    if (bytes && bytes.length === 38 && PREFIX.every((b, i) => bytes[i] === b)) key = bytes.slice(6);
  }
  if (cache.size > 10_000) cache.clear();
  cache.set(peerId, key);
  return key ?? undefined;
}

export function isPeerIdServerName(name: string): boolean {
  return publicKeyFromPeerId(name) !== undefined;
}

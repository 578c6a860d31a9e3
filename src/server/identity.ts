/**
 * A homeserver's identity: one Ed25519 key, generated at first start and
 * persisted. Its libp2p PeerId is the server name, and the same key signs
 * events (key ID `ed25519:hearth`) and — over libp2p — authenticates
 * connections, so peers derive our verify key from our name.
 */
import { decodeBase64, encodeBase64, encodeBase64Url } from '../core/base64.ts';
import { type Ed25519Verifier, keyPairFromSeed, nobleVerifier, signSync } from '../core/ed25519.ts';
import { SERVER_KEY_ID, peerIdFromPublicKey } from '../core/peer-id.ts';
import { bestVerifier, createWebCryptoSigner } from '../crypto/webcrypto-ed25519.ts';
import type { RandomSource } from './clock.ts';
import { IMPORT_MARK_META, MOVED_META, movedAwayError, parseMovedAway } from './moved.ts';
import type { Store } from './store/types.ts';

export interface ServerIdentity {
  readonly serverName: string;
  readonly keyId: string;
  readonly seed: Uint8Array;
  readonly publicKey: Uint8Array;
  sign(message: Uint8Array): Promise<Uint8Array>;
  /** Set when this homeserver moved away (moved.ts): `sign` then refuses, so this copy signs nothing. */
  readonly movedAway?: { ts: number; to?: string };
  /** Which implementation signs: Node's OpenSSL (synchronous), WebCrypto, or the pure one. */
  readonly signer: 'node' | 'webcrypto' | 'noble';
  readonly verifier: Ed25519Verifier;
}

const SEED_META = 'server_key_seed';

interface NodeCrypto {
  createPrivateKey(key: { key: object; format: 'jwk' }): unknown;
  sign(algorithm: null, data: Uint8Array, key: unknown): Uint8Array;
}
type GetBuiltin = (id: 'node:crypto') => NodeCrypto | undefined;

/**
 * Under Node, OpenSSL's Ed25519 signing, synchronous. WebCrypto's runs on
 * libuv's thread pool, where a signature — taken under the room's lock —
 * queues behind every verification already submitted (in the simulator,
 * those of a hundred servers), so the room waited seconds per message sent.
 * Ed25519 is deterministic: a self-test against the pure signer must agree.
 */
function nodeSigner(seed: Uint8Array, publicKey: Uint8Array): ((m: Uint8Array) => Uint8Array) | undefined {
  const proc = (globalThis as { process?: { versions?: { node?: string }; getBuiltinModule?: GetBuiltin } }).process;
  if (typeof proc?.versions?.node !== 'string') return undefined;
  try {
    const crypto = proc.getBuiltinModule?.('node:crypto');
    if (!crypto) return undefined;
    const key = crypto.createPrivateKey({
      key: { kty: 'OKP', crv: 'Ed25519', d: encodeBase64Url(seed), x: encodeBase64Url(publicKey) },
      format: 'jwk',
    });
    const sign = (m: Uint8Array) => new Uint8Array(crypto.sign(null, m, key));
    const probe = new TextEncoder().encode('hearth signer self-test');
    return encodeBase64(sign(probe)) === encodeBase64(signSync(probe, seed)) ? sign : undefined;
  } catch {
    return undefined;
  }
}

export async function identityFromSeed(seed: Uint8Array, given?: Ed25519Verifier): Promise<ServerIdentity> {
  const { publicKey } = keyPairFromSeed(seed);
  let sign: (m: Uint8Array) => Promise<Uint8Array>;
  let signer: ServerIdentity['signer'];
  const native = nodeSigner(seed, publicKey);
  if (native) {
    sign = async (m) => native(m);
    signer = 'node';
  } else {
    try {
      const webcrypto = await createWebCryptoSigner(seed, publicKey);
      sign = (m) => webcrypto.sign(m);
      signer = 'webcrypto';
    } catch {
      sign = async (m) => signSync(m, seed);
      signer = 'noble';
    }
  }
  let verifier: Ed25519Verifier;
  try {
    verifier = given ?? (await bestVerifier());
  } catch {
    verifier = nobleVerifier;
  }
  return { serverName: peerIdFromPublicKey(publicKey), keyId: SERVER_KEY_ID, seed, publicKey, sign, signer, verifier };
}

/**
 * Loads the server key from the store, creating and persisting one on first
 * start. A store holding a cut-off backup import is refused (a fresh key
 * would make it a different homeserver); one whose homeserver moved away
 * gets an identity that refuses to sign — every local event, invite answer
 * and join then fails with "This homeserver moved…" (moved.ts).
 */
export async function loadOrCreateIdentity(store: Store, random: RandomSource, verifier?: Ed25519Verifier): Promise<ServerIdentity> {
  if ((await store.getMeta(IMPORT_MARK_META)) !== undefined) {
    throw new Error(`${store.name}: a backup import into this homeserver was cut off; import the backup again (into the same place)`);
  }
  const saved = await store.getMeta(SEED_META);
  if (typeof saved === 'string') {
    const identity = await identityFromSeed(decodeBase64(saved), verifier);
    const moved = parseMovedAway(await store.getMeta(MOVED_META));
    if (!moved) return identity;
    return { ...identity, movedAway: moved, sign: () => Promise.reject(movedAwayError(moved)) };
  }
  const seed = random(32);
  await store.write({ meta: { [SEED_META]: encodeBase64(seed) } });
  return identityFromSeed(seed, verifier);
}

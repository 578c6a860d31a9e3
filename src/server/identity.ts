/**
 * A homeserver's identity: one Ed25519 key, generated at first start and
 * persisted. Its libp2p PeerId is the server name, and the same key signs
 * events (key ID `ed25519:hearth`) and — over libp2p — authenticates
 * connections, so peers derive our verify key from our name.
 */
import { decodeBase64, encodeBase64 } from '../core/base64.ts';
import { type Ed25519Verifier, keyPairFromSeed, nobleVerifier, signSync } from '../core/ed25519.ts';
import { SERVER_KEY_ID, peerIdFromPublicKey } from '../core/peer-id.ts';
import { bestVerifier, createWebCryptoSigner } from '../crypto/webcrypto-ed25519.ts';
import type { RandomSource } from './clock.ts';
import type { Store } from './store/types.ts';

export interface ServerIdentity {
  readonly serverName: string;
  readonly keyId: string;
  readonly seed: Uint8Array;
  readonly publicKey: Uint8Array;
  sign(message: Uint8Array): Promise<Uint8Array>;
  readonly verifier: Ed25519Verifier;
}

const SEED_META = 'server_key_seed';

export async function identityFromSeed(seed: Uint8Array, given?: Ed25519Verifier): Promise<ServerIdentity> {
  const { publicKey } = keyPairFromSeed(seed);
  let sign: (m: Uint8Array) => Promise<Uint8Array>;
  try {
    const signer = await createWebCryptoSigner(seed, publicKey);
    sign = (m) => signer.sign(m);
  } catch {
    sign = async (m) => signSync(m, seed);
  }
  let verifier: Ed25519Verifier;
  try {
    verifier = given ?? (await bestVerifier());
  } catch {
    verifier = nobleVerifier;
  }
  return { serverName: peerIdFromPublicKey(publicKey), keyId: SERVER_KEY_ID, seed, publicKey, sign, verifier };
}

/** Loads the server key from the store, creating and persisting one on first start. */
export async function loadOrCreateIdentity(store: Store, random: RandomSource, verifier?: Ed25519Verifier): Promise<ServerIdentity> {
  const saved = await store.getMeta(SEED_META);
  if (typeof saved === 'string') return identityFromSeed(decodeBase64(saved), verifier);
  const seed = random(32);
  await store.write({ meta: { [SEED_META]: encodeBase64(seed) } });
  return identityFromSeed(seed, verifier);
}

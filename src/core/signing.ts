/**
 * Signing JSON (spec appendix "Signing JSON"): the signature covers the
 * canonical JSON of the object without its `signatures` and `unsigned`
 * members; it is stored as `signatures[server_name][key_id]` in unpadded
 * base64, keeping any signatures already present.
 */
import { decodeBase64, encodeBase64 } from './base64.ts';
import { canonicalJsonBytes } from './canonical-json.ts';
import { type Ed25519Verifier, nobleVerifier, signSync, verifyStrictSync } from './ed25519.ts';
import { CoreError } from './errors.ts';
import { type JsonObject, isJsonObject } from './json.ts';

export { keyPairFromSeed } from './ed25519.ts';

export type SignedJson<T> = T & { signatures: Record<string, Record<string, string>> };

/** The key ID grammar: `ed25519:` followed by a non-empty version of [a-zA-Z0-9_]. */
const KEY_ID = /^ed25519:[A-Za-z0-9_]+$/;

export function checkKeyId(keyId: string): void {
  if (!KEY_ID.test(keyId)) {
    throw new CoreError('M_INVALID_PARAM', `key ID ${JSON.stringify(keyId)} must be 'ed25519:' followed by [A-Za-z0-9_]+`);
  }
}

/** The bytes a signature covers. */
export function signingBytes(obj: JsonObject): Uint8Array {
  const { signatures: _s, unsigned: _u, ...rest } = obj;
  return canonicalJsonBytes(rest);
}

/** Returns a copy of `obj` with this server's signature added. */
export function signJson<T extends JsonObject>(obj: T, serverName: string, keyId: string, seed: Uint8Array): SignedJson<T> {
  checkKeyId(keyId);
  const signature = encodeBase64(signSync(signingBytes(obj), seed));
  return withSignature(obj, serverName, keyId, signature);
}

export function withSignature<T extends JsonObject>(obj: T, serverName: string, keyId: string, signature: string): SignedJson<T> {
  const existing = isJsonObject(obj.signatures) ? (obj.signatures as Record<string, Record<string, string>>) : {};
  const unsigned = obj.unsigned;
  const signatures = { ...existing, [serverName]: { ...(existing[serverName] ?? {}), [keyId]: signature } };
  const out = { ...obj, signatures } as SignedJson<T>;
  if (unsigned !== undefined) (out as JsonObject).unsigned = unsigned;
  return out;
}

/** The signature string of `serverName`/`keyId`, decoded; undefined when absent or not base64. */
export function findSignature(obj: JsonObject, serverName: string, keyId: string): Uint8Array | undefined {
  const sigs = obj.signatures;
  if (!isJsonObject(sigs)) return undefined;
  const byServer = sigs[serverName];
  if (!isJsonObject(byServer)) return undefined;
  const sig = byServer[keyId];
  if (typeof sig !== 'string') return undefined;
  try {
    return decodeBase64(sig);
  } catch {
    return undefined;
  }
}

/** Synchronous verification with the pure backend (the rule in ed25519.ts). */
export function verifyJsonSync(obj: JsonObject, serverName: string, keyId: string, publicKey: Uint8Array): boolean {
  const sig = findSignature(obj, serverName, keyId);
  if (!sig) return false;
  let message: Uint8Array;
  try {
    message = signingBytes(obj);
  } catch {
    return false; // not canonicalisable: cannot have been signed
  }
  return verifyStrictSync(sig, message, publicKey);
}

/** Verification with any backend (WebCrypto fast path or noble). */
export async function verifyJson(
  obj: JsonObject,
  serverName: string,
  keyId: string,
  publicKey: Uint8Array,
  verifier: Ed25519Verifier = nobleVerifier,
): Promise<boolean> {
  const sig = findSignature(obj, serverName, keyId);
  if (!sig) return false;
  let message: Uint8Array;
  try {
    message = signingBytes(obj);
  } catch {
    return false;
  }
  return verifier.verify(sig, message, publicKey);
}

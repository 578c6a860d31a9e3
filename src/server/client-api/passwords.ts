/**
 * Account passwords, stored as PBKDF2-HMAC-SHA-256 through WebCrypto (a
 * well-kept implementation in every browser and in Node; no hand-written
 * KDF). The record names its algorithm and cost, so the cost can rise later
 * without invalidating existing passwords:
 * `pbkdf2-sha256$<iterations>$<salt, base64>$<hash, base64>`.
 */
import { decodeBase64, encodeBase64 } from '../../core/base64.ts';

/** OWASP's 2023 figure for PBKDF2-HMAC-SHA-256. */
export const DEFAULT_PBKDF2_ITERATIONS = 600_000;

async function derive(password: string, salt: Uint8Array<ArrayBuffer>, iterations: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(password), 'PBKDF2', false, ['deriveBits']);
  const bits = await crypto.subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt, iterations }, key, 256);
  return new Uint8Array(bits);
}

export async function hashPassword(password: string, iterations = DEFAULT_PBKDF2_ITERATIONS): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const hash = await derive(password, salt, iterations);
  return `pbkdf2-sha256$${iterations}$${encodeBase64(salt)}$${encodeBase64(hash)}`;
}

export async function verifyPassword(password: string, record: string): Promise<boolean> {
  const [alg, iter, salt, hash] = record.split('$');
  const iterations = Number(iter);
  if (alg !== 'pbkdf2-sha256' || !Number.isInteger(iterations) || iterations < 1 || !salt || !hash) return false;
  const expected = decodeBase64(hash);
  const got = await derive(password, new Uint8Array(decodeBase64(salt)), iterations);
  // Constant time in the length of the hash.
  let diff = expected.length ^ got.length;
  for (let i = 0; i < expected.length; i++) diff |= expected[i]! ^ (got[i] ?? 0);
  return diff === 0;
}

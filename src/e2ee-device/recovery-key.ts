/**
 * The recovery key's text form: the spec's "cryptographic key
 * representation" (Client-Server API, appendices) — the 32-byte backup
 * decryption key behind the prefix 0x8B 0x01, a parity byte (XOR of all
 * bytes before it), base58 (bitcoin alphabet) in groups of four. This is an
 * encoding, not cryptography: the key itself is made by the Rust crypto
 * (BackupDecryptionKey.createRandomKey), and the same text works in Element.
 */
import bs58 from 'bs58';
import { decodeBase64, encodeBase64 } from '../core/base64.ts';

const PREFIX = [0x8b, 0x01] as const;
const KEY_BYTES = 32;

/** Formats a backup decryption key (unpadded base64, as BackupDecryptionKey.toBase64 gives it) as a recovery key. */
export function encodeRecoveryKey(keyBase64: string): string {
  const key = decodeBase64(keyBase64);
  if (key.length !== KEY_BYTES) throw new Error(`a backup key has ${KEY_BYTES} bytes, not ${key.length}`);
  const buf = new Uint8Array(PREFIX.length + KEY_BYTES + 1);
  buf.set(PREFIX, 0);
  buf.set(key, PREFIX.length);
  buf[buf.length - 1] = buf.subarray(0, buf.length - 1).reduce((p, b) => p ^ b, 0);
  return (bs58.encode(buf).match(/.{1,4}/g) ?? []).join(' ');
}

/**
 * The backup decryption key (unpadded base64) in a recovery key as typed or
 * pasted (spaces and line breaks ignored); throws an Error whose message says
 * what is wrong, in words for the person typing it.
 */
export function decodeRecoveryKey(text: string): string {
  const compact = text.replace(/\s+/g, '');
  if (compact === '') throw new Error('The recovery key is empty.');
  let bytes: Uint8Array;
  try {
    bytes = bs58.decode(compact);
  } catch {
    throw new Error('That is not a recovery key: it has characters a recovery key never has (such as 0, O, I or l).');
  }
  if (bytes.length !== PREFIX.length + KEY_BYTES + 1 || bytes[0] !== PREFIX[0] || bytes[1] !== PREFIX[1]) {
    throw new Error('That is not a recovery key: it has the wrong length. Check that it was copied whole.');
  }
  if (bytes.reduce((p, b) => p ^ b, 0) !== 0) throw new Error('The recovery key has a typo: its check digit does not match.');
  return encodeBase64(bytes.subarray(PREFIX.length, PREFIX.length + KEY_BYTES));
}

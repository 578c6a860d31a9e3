/**
 * Base64 as the spec's appendix defines it: standard alphabet without `=`
 * padding, and the URL-safe alphabet (`-`, `_`) used for event IDs. Decoding
 * accepts input with or without padding (the spec says SHOULD) but refuses
 * any other character and impossible lengths.
 */
import { CoreError } from './errors.ts';

const STD = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

function makeDecodeTable(alphabet: string): Int16Array {
  const table = new Int16Array(128).fill(-1);
  for (let i = 0; i < alphabet.length; i++) table[alphabet.charCodeAt(i)] = i;
  return table;
}
const STD_DECODE = makeDecodeTable(STD);
const URL_DECODE = makeDecodeTable(URL);

function encode(bytes: Uint8Array, alphabet: string): string {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += alphabet[n >> 18]! + alphabet[(n >> 12) & 63]! + alphabet[(n >> 6) & 63]! + alphabet[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += alphabet[n >> 18]! + alphabet[(n >> 12) & 63]!;
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += alphabet[n >> 18]! + alphabet[(n >> 12) & 63]! + alphabet[(n >> 6) & 63]!;
  }
  return out;
}

function decode(text: string, table: Int16Array, what: string): Uint8Array {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 61 /* = */) end--;
  if (text.length - end > 2 || (text.length !== end && text.length % 4 !== 0)) {
    throw new CoreError('M_INVALID_PARAM', `${what}: bad padding`);
  }
  if (end % 4 === 1) throw new CoreError('M_INVALID_PARAM', `${what}: impossible length ${end}`);
  const out = new Uint8Array(Math.floor((end * 3) / 4));
  let bits = 0;
  let acc = 0;
  let o = 0;
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    const v = c < 128 ? table[c]! : -1;
    if (v < 0) throw new CoreError('M_INVALID_PARAM', `${what}: invalid character ${JSON.stringify(text[i])}`);
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}

/** Standard unpadded base64. */
export function encodeBase64(bytes: Uint8Array): string {
  return encode(bytes, STD);
}
/** Decodes standard base64, padded or not. Throws CoreError on bad input. */
export function decodeBase64(text: string): Uint8Array {
  return decode(text, STD_DECODE, 'base64');
}
/** URL-safe unpadded base64 (RFC 4648 §5), as used in event IDs. */
export function encodeBase64Url(bytes: Uint8Array): string {
  return encode(bytes, URL);
}
export function decodeBase64Url(text: string): Uint8Array {
  return decode(text, URL_DECODE, 'url-safe base64');
}

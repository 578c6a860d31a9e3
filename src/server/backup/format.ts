/**
 * The Hearth backup file: a header, then frames each sealed with AES-256-GCM
 * under a key derived from a passphrase with PBKDF2-HMAC-SHA-256 — all
 * WebCrypto (browser and Node alike), no cryptography written here. The
 * framing is the STREAM construction (Hoang et al., "Online
 * Authenticated-Encryption and its Nonce-Reuse Misuse-Resistance", as age and
 * Tink's streaming AEAD use it): a frame's nonce is the file's random prefix
 * plus the frame's index, and the additional data binds the whole header,
 * the index and whether the frame is the last, so frames cannot be
 * reordered, dropped, spliced from another file or cut off at the end
 * without a tag failing. Frames let a large homeserver be written and read
 * a frame at a time (see backup.ts for what is held in memory).
 *
 * Layout (version 1; integers big-endian; docs/data.md describes it too):
 *
 *   offset size  field
 *   0      8     magic "HEARTHBK"
 *   8      1     format version (1)
 *   9      1     KDF: 1 = PBKDF2-HMAC-SHA-256
 *   10     4     KDF iterations
 *   14     16    KDF salt (random)
 *   30     8     nonce prefix (random)
 *   38     …     frames: u32 (bit 31 = last frame; bits 0–30 = ciphertext
 *                length, tag included) then the ciphertext
 *
 * Frame i: nonce = prefix ‖ u32(i); additional data = header[0..38) ‖ u32(i)
 * ‖ u8(last). Its plaintext is whole UTF-8 JSON lines (records, backup.ts).
 */

export const MAGIC = new TextEncoder().encode('HEARTHBK');
export const FORMAT_VERSION = 1;
export const KDF_PBKDF2_SHA256 = 1;
/** OWASP's 2023 figure for PBKDF2-HMAC-SHA-256: ~0.3–1 s on a laptop, per guess. */
export const DEFAULT_ITERATIONS = 600_000;
/** A file asking for more is refused (deriving the key would hang the importer). */
export const MAX_ITERATIONS = 10_000_000;
/** Fewer is refused when reading: a file this weak was not written by Hearth. */
export const MIN_ITERATIONS = 1_000;
export const HEADER_SIZE = 38;
/** Plaintext per frame the writer aims at; a record bigger than this gets a frame of its own. */
export const FRAME_TARGET = 1 << 20;
/** The largest frame accepted (bounds what a reader allocates for one frame). */
export const MAX_FRAME = 256 << 20;
const LAST_BIT = 0x8000_0000;
const TAG_SIZE = 16;

/** Why a backup could not be read. `kind` lets the app and the CLI say it plainly. */
export class BackupError extends Error {
  override readonly name = 'BackupError';
  constructor(
    readonly kind: 'not_a_backup' | 'unsupported' | 'wrong_passphrase' | 'corrupted' | 'truncated' | 'refused',
    message: string,
  ) {
    super(message);
  }
}

export interface BackupHeader {
  version: number;
  kdf: 'PBKDF2-SHA-256';
  iterations: number;
  salt: Uint8Array<ArrayBuffer>;
  noncePrefix: Uint8Array<ArrayBuffer>;
  /** The header's 38 bytes, bound into every frame. */
  bytes: Uint8Array<ArrayBuffer>;
}

function subtle(): SubtleCrypto {
  const s = globalThis.crypto?.subtle;
  if (!s) throw new Error('WebCrypto is not available here (a page needs a secure context: https or localhost)');
  return s;
}

export function newHeader(iterations = DEFAULT_ITERATIONS): BackupHeader {
  if (!Number.isSafeInteger(iterations) || iterations < 1 || iterations > MAX_ITERATIONS) {
    throw new RangeError(`KDF iterations must be 1..${MAX_ITERATIONS}`);
  }
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const noncePrefix = crypto.getRandomValues(new Uint8Array(8));
  const bytes = new Uint8Array(HEADER_SIZE);
  bytes.set(MAGIC, 0);
  bytes[8] = FORMAT_VERSION;
  bytes[9] = KDF_PBKDF2_SHA256;
  new DataView(bytes.buffer).setUint32(10, iterations);
  bytes.set(salt, 14);
  bytes.set(noncePrefix, 30);
  return { version: FORMAT_VERSION, kdf: 'PBKDF2-SHA-256', iterations, salt, noncePrefix, bytes };
}

export function parseHeader(bytes: Uint8Array): BackupHeader {
  if (bytes.length < MAGIC.length || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new BackupError('not_a_backup', 'this is not a Hearth backup file');
  }
  if (bytes.length < HEADER_SIZE) throw new BackupError('truncated', 'the backup file is cut off (its header is incomplete)');
  const version = bytes[8]!;
  if (version !== FORMAT_VERSION) {
    throw new BackupError('unsupported', `this backup is format version ${version}; this Hearth reads version ${FORMAT_VERSION}`);
  }
  if (bytes[9] !== KDF_PBKDF2_SHA256) throw new BackupError('unsupported', `unknown key derivation ${bytes[9]} in the backup header`);
  const iterations = new DataView(bytes.buffer, bytes.byteOffset).getUint32(10);
  if (iterations < MIN_ITERATIONS || iterations > MAX_ITERATIONS) {
    throw new BackupError('corrupted', `the backup header asks for ${iterations} KDF iterations (${MIN_ITERATIONS}..${MAX_ITERATIONS} allowed)`);
  }
  const copy = bytes.slice(0, HEADER_SIZE);
  return { version, kdf: 'PBKDF2-SHA-256', iterations, salt: copy.slice(14, 30), noncePrefix: copy.slice(30, 38), bytes: copy };
}

/** The AES-256-GCM key for this header's salt and iterations (slow on purpose). */
export async function deriveKey(passphrase: string, header: BackupHeader): Promise<CryptoKey> {
  const s = subtle();
  const base = await s.importKey('raw', new TextEncoder().encode(passphrase.normalize('NFC')), 'PBKDF2', false, ['deriveKey']);
  return s.deriveKey(
    { name: 'PBKDF2', salt: header.salt, iterations: header.iterations, hash: 'SHA-256' },
    base,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  );
}

function frameParams(header: BackupHeader, index: number, last: boolean): AesGcmParams {
  const iv = new Uint8Array(12);
  iv.set(header.noncePrefix, 0);
  new DataView(iv.buffer).setUint32(8, index);
  const ad = new Uint8Array(HEADER_SIZE + 5);
  ad.set(header.bytes, 0);
  new DataView(ad.buffer).setUint32(HEADER_SIZE, index);
  ad[HEADER_SIZE + 4] = last ? 1 : 0;
  return { name: 'AES-GCM', iv, additionalData: ad, tagLength: TAG_SIZE * 8 };
}

/** Frame `index` as written: its length word, then the ciphertext. */
export async function sealFrame(key: CryptoKey, header: BackupHeader, index: number, last: boolean, plain: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  if (index > 0xffff_ffff) throw new RangeError('too many frames');
  const sealed = new Uint8Array(await subtle().encrypt(frameParams(header, index, last), key, plain));
  if (sealed.length > MAX_FRAME) throw new RangeError(`one record is too large for a backup frame (${sealed.length} bytes)`);
  const out = new Uint8Array(4 + sealed.length);
  new DataView(out.buffer).setUint32(0, (last ? LAST_BIT : 0) | sealed.length);
  out.set(sealed, 4);
  return out;
}

/**
 * Reads exactly the bytes asked for from a stream of chunks, holding only
 * what has been received and not yet taken (at most one frame plus one
 * incoming chunk).
 */
class ByteReader {
  private readonly it: AsyncIterator<Uint8Array>;
  private parts: Uint8Array[] = [];
  private held = 0;
  private done = false;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.it = source[Symbol.asyncIterator]();
  }

  /** Up to `n` bytes: fewer only at the end of the stream. */
  async read(n: number): Promise<Uint8Array<ArrayBuffer>> {
    while (this.held < n && !this.done) {
      const next = await this.it.next();
      if (next.done) this.done = true;
      else if (next.value.length > 0) {
        this.parts.push(next.value);
        this.held += next.value.length;
      }
    }
    const take = Math.min(n, this.held);
    const out = new Uint8Array(take);
    let filled = 0;
    while (filled < take) {
      const p = this.parts[0]!;
      const k = Math.min(p.length, take - filled);
      out.set(p.subarray(0, k), filled);
      filled += k;
      if (k === p.length) this.parts.shift();
      else this.parts[0] = p.subarray(k);
    }
    this.held -= take;
    return out;
  }

  async atEnd(): Promise<boolean> {
    const probe = await this.read(1);
    if (probe.length === 0) return true;
    this.parts.unshift(probe);
    this.held += 1;
    return false;
  }

  async close(): Promise<void> {
    await this.it.return?.();
  }
}

/**
 * The plaintext of every frame in order, checking each tag. A wrong
 * passphrase fails the first frame (reported as such); a later failure,
 * a missing last frame or bytes after it are corruption or truncation.
 */
export async function* openFrames(source: AsyncIterable<Uint8Array>, passphrase: string): AsyncGenerator<Uint8Array> {
  const reader = new ByteReader(source);
  try {
    const header = parseHeader(await reader.read(HEADER_SIZE));
    const key = await deriveKey(passphrase, header);
    for (let index = 0; ; index++) {
      const word = await reader.read(4);
      if (word.length === 0) throw new BackupError('truncated', 'the backup file is cut off (its last part is missing)');
      if (word.length < 4) throw new BackupError('truncated', 'the backup file is cut off mid-frame');
      const w = new DataView(word.buffer).getUint32(0);
      const last = (w & LAST_BIT) !== 0;
      const len = w & ~LAST_BIT;
      if (len < TAG_SIZE || len > MAX_FRAME) throw new BackupError('corrupted', `the backup file is damaged (frame ${index} claims ${len} bytes)`);
      const sealed = await reader.read(len);
      if (sealed.length < len) throw new BackupError('truncated', 'the backup file is cut off mid-frame');
      let plain: Uint8Array;
      try {
        plain = new Uint8Array(await subtle().decrypt(frameParams(header, index, last), key, sealed));
      } catch {
        throw index === 0
          ? new BackupError('wrong_passphrase', 'wrong passphrase (or the file is damaged): nothing was imported')
          : new BackupError('corrupted', `the backup file is damaged (part ${index} does not decrypt)`);
      }
      yield plain;
      if (last) {
        if (!(await reader.atEnd())) throw new BackupError('corrupted', 'the backup file has unexpected bytes after its end');
        return;
      }
    }
  } finally {
    await reader.close();
  }
}

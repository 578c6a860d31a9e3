/**
 * Export a homeserver's Store to one encrypted backup file and import it into
 * an empty Store — the same code in the browser worker and in `hearth
 * export` / `hearth serve --import`. The file format is in format.ts; its
 * plaintext is one JSON record per line:
 *
 *   manifest     {type, format, server_name, created_ts, mode, media}   first
 *   meta         {type, key, value}          the server key seed, stream positions, …
 *   account      {type, record}              accounts with password hashes and devices
 *   client_data  {type, records}             account data, filters, aliases, …
 *   room         {type, record}              a room's record, then its parts:
 *   state_groups {type, room_id, records}
 *   events       {type, room_id, records}    every stored event (status, state group, stream)
 *   receipts     {type, room_id, records}
 *   outbox       {type, records}             deliveries still pending
 *   media        {type, media_id, content_type, created_ts, bytes (base64)}   only with media
 *   end          {type, counts}              last: counts of what came before
 *
 * Memory: the exporter holds one room's events (Store.roomEvents loads a room
 * whole, as the engine does at start) or one media blob, plus one frame of
 * plaintext (~1 MiB) and its ciphertext; it yields frames as it goes, so the
 * caller decides where they go (a file in Node; Blob parts in a browser).
 * The importer reads the file twice — once to check every frame and record
 * before writing anything, so a wrong passphrase or a damaged file changes
 * nothing — and each pass holds one frame and one batch of records (≤
 * BATCH_RECORDS) at a time.
 */
import { decodeBase64, encodeBase64 } from '../../core/base64.ts';
import { keyPairFromSeed } from '../../core/ed25519.ts';
import type { JsonObject, JsonValue } from '../../core/json.ts';
import { peerIdFromPublicKey } from '../../core/peer-id.ts';
import { IMPORT_MARK_META, MOVED_META, type MovedAway, movedAwayJson } from '../moved.ts';
import type {
  AccountRecord,
  ClientDataRecord,
  OutboxEntry,
  ReceiptRecord,
  RoomRecord,
  StateGroupRecord,
  Store,
  StoredEvent,
  WriteBatch,
} from '../store/types.ts';
import { BackupError, DEFAULT_ITERATIONS, FRAME_TARGET, newHeader, deriveKey, openFrames, sealFrame } from './format.ts';

export { BackupError } from './format.ts';

/** The meta key of the server's Ed25519 seed (identity.ts): written last on import. */
const SEED_META = 'server_key_seed';
/** Records per events/state_groups/… line and per store write on import. */
const BATCH_RECORDS = 500;
/** The shortest passphrase accepted for a new backup. */
export const MIN_PASSPHRASE = 8;

export type BackupMode = 'backup' | 'move';

export interface BackupManifest {
  type: 'manifest';
  format: 1;
  server_name: string;
  created_ts: number;
  mode: BackupMode;
  media: boolean;
}

export interface ExportOptions {
  passphrase: string;
  /** 'move' marks the file as the homeserver moving (the caller retires the old copy). Default 'backup'. */
  mode?: BackupMode;
  /** Include media (uploads and cached remote copies). Default true. */
  media?: boolean;
  /** PBKDF2 iterations (default 600,000; tests use fewer). */
  iterations?: number;
  now?: () => number;
}

export type BackupCounts = Record<'meta' | 'accounts' | 'client_data' | 'rooms' | 'state_groups' | 'events' | 'receipts' | 'outbox' | 'media', number>;

export interface ImportSummary {
  manifest: BackupManifest;
  counts: BackupCounts;
}

type BackupRecord =
  | BackupManifest
  | { type: 'meta'; key: string; value: JsonValue }
  | { type: 'account'; record: AccountRecord }
  | { type: 'client_data'; records: ClientDataRecord[] }
  | { type: 'room'; record: RoomRecord }
  | { type: 'state_groups'; room_id: string; records: StateGroupRecord[] }
  | { type: 'events'; room_id: string; records: StoredEvent[] }
  | { type: 'receipts'; room_id: string; records: ReceiptRecord[] }
  | { type: 'outbox'; records: OutboxEntry[] }
  | { type: 'media'; media_id: string; content_type: string; created_ts: number; bytes: string }
  | { type: 'end'; counts: BackupCounts };

function zeroCounts(): BackupCounts {
  return { meta: 0, accounts: 0, client_data: 0, rooms: 0, state_groups: 0, events: 0, receipts: 0, outbox: 0, media: 0 };
}

export function serverNameOfSeed(seedBase64: string): string {
  return peerIdFromPublicKey(keyPairFromSeed(decodeBase64(seedBase64)).publicKey);
}

function* inBatches<T>(items: readonly T[]): Generator<T[]> {
  for (let i = 0; i < items.length; i += BATCH_RECORDS) yield items.slice(i, i + BATCH_RECORDS);
}

/** The records of `store`, in file order. Refuses a store with no homeserver or one that moved away. */
async function* storeRecords(store: Store, opts: ExportOptions): AsyncGenerator<BackupRecord> {
  const meta = await store.listMeta();
  const seed = meta[SEED_META];
  if (typeof seed !== 'string') throw new BackupError('refused', 'there is no homeserver here to back up');
  if (meta[IMPORT_MARK_META] !== undefined) throw new BackupError('refused', 'this homeserver is half-imported: import its backup again first');
  if (meta[MOVED_META] !== undefined) throw new BackupError('refused', 'this homeserver moved away: back it up from where it lives now');
  const counts = zeroCounts();
  const media = opts.media ?? true;
  yield {
    type: 'manifest',
    format: 1,
    server_name: serverNameOfSeed(seed),
    created_ts: (opts.now ?? Date.now)(),
    mode: opts.mode ?? 'backup',
    media,
  };
  for (const [key, value] of Object.entries(meta)) {
    counts.meta++;
    yield { type: 'meta', key, value };
  }
  for (const record of await store.listAccounts()) {
    counts.accounts++;
    yield { type: 'account', record };
  }
  for (const records of inBatches(await store.listClientData())) {
    counts.client_data += records.length;
    yield { type: 'client_data', records };
  }
  for (const room of await store.listRooms()) {
    const room_id = room.room_id;
    counts.rooms++;
    yield { type: 'room', record: room };
    for (const records of inBatches(await store.roomStateGroups(room_id))) {
      counts.state_groups += records.length;
      yield { type: 'state_groups', room_id, records };
    }
    for (const records of inBatches(await store.roomEvents(room_id))) {
      counts.events += records.length;
      yield { type: 'events', room_id, records };
    }
    for (const records of inBatches(await store.roomReceipts(room_id))) {
      counts.receipts += records.length;
      yield { type: 'receipts', room_id, records };
    }
  }
  for (const records of inBatches(await store.outbox())) {
    counts.outbox += records.length;
    yield { type: 'outbox', records };
  }
  if (media) {
    for (const id of await store.listMediaIds()) {
      const m = await store.getMedia(id);
      if (!m) continue; // deleted meanwhile
      counts.media++;
      yield { type: 'media', media_id: m.media_id, content_type: m.content_type, created_ts: m.created_ts, bytes: encodeBase64(m.bytes) };
    }
  }
  yield { type: 'end', counts };
}

/**
 * The backup file of `store`, as a sequence of byte chunks to write out in
 * order (header, then frames). The store must not change meanwhile: the CLI
 * holds the data directory's lock; a running homeserver pauses its writes
 * (Homeserver.withWritesPaused).
 */
export async function* exportBackup(store: Store, opts: ExportOptions): AsyncGenerator<Uint8Array> {
  if (typeof opts.passphrase !== 'string' || [...opts.passphrase].length < MIN_PASSPHRASE) {
    throw new BackupError('refused', `choose a passphrase of at least ${MIN_PASSPHRASE} characters`);
  }
  const header = newHeader(opts.iterations ?? DEFAULT_ITERATIONS);
  const key = await deriveKey(opts.passphrase, header);
  yield header.bytes;
  const enc = new TextEncoder();
  let lines: Uint8Array[] = [];
  let size = 0;
  let index = 0;
  const seal = (last: boolean) => {
    const plain = new Uint8Array(size);
    let at = 0;
    for (const l of lines) {
      plain.set(l, at);
      at += l.length;
    }
    lines = [];
    size = 0;
    return sealFrame(key, header, index++, last, plain);
  };
  for await (const record of storeRecords(store, opts)) {
    const line = enc.encode(`${JSON.stringify(record)}\n`);
    if (size > 0 && size + line.length > FRAME_TARGET) yield await seal(false);
    lines.push(line);
    size += line.length;
  }
  yield await seal(true); // holds at least the end record
}

/** The records of a backup file, every frame checked; throws BackupError on any damage. */
async function* fileRecords(source: AsyncIterable<Uint8Array>, passphrase: string): AsyncGenerator<BackupRecord> {
  const dec = new TextDecoder('utf-8', { fatal: true });
  let first = true;
  for await (const plain of openFrames(source, passphrase)) {
    let text: string;
    try {
      text = dec.decode(plain);
    } catch {
      throw new BackupError('corrupted', 'the backup holds text that is not UTF-8');
    }
    if (!text.endsWith('\n')) throw new BackupError('corrupted', 'a part of the backup ends mid-record');
    for (const line of text.slice(0, -1).split('\n')) {
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        throw new BackupError('corrupted', 'the backup holds a record that is not JSON');
      }
      const record = checkRecord(value);
      if (first !== (record.type === 'manifest')) {
        throw new BackupError('corrupted', first ? 'the backup does not start with its manifest' : 'the backup has a second manifest');
      }
      first = false;
      yield record;
    }
  }
}

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === 'string';
const isArrayOfObjects = (v: unknown): v is JsonObject[] => Array.isArray(v) && v.every(isObject);

/** Shape checks of one record (the store's own checks come on write; the file is authenticated by its tags). */
function checkRecord(v: unknown): BackupRecord {
  const bad = (what: string): never => {
    throw new BackupError('corrupted', `the backup holds a malformed ${what} record`);
  };
  if (!isObject(v) || !isString(v['type'])) return bad('');
  const r = v as Record<string, unknown>;
  switch (r['type']) {
    case 'manifest':
      if (r['format'] !== 1) throw new BackupError('unsupported', `this backup's records are format ${String(r['format'])}`);
      if (!isString(r['server_name']) || typeof r['created_ts'] !== 'number' || (r['mode'] !== 'backup' && r['mode'] !== 'move')) bad('manifest');
      break;
    case 'meta':
      if (!isString(r['key']) || r['value'] === undefined) bad('meta');
      break;
    case 'account':
    case 'room':
      if (!isObject(r['record'])) bad(r['type']);
      break;
    case 'client_data':
    case 'outbox':
      if (!isArrayOfObjects(r['records'])) bad(r['type']);
      break;
    case 'state_groups':
    case 'events':
    case 'receipts':
      if (!isString(r['room_id']) || !isArrayOfObjects(r['records'])) bad(r['type']);
      break;
    case 'media':
      if (!isString(r['media_id']) || !isString(r['content_type']) || typeof r['created_ts'] !== 'number' || !isString(r['bytes'])) bad('media');
      break;
    case 'end':
      if (!isObject(r['counts'])) bad('end');
      break;
    default:
      return bad(`"${String(r['type'])}"`);
  }
  return v as unknown as BackupRecord;
}

function count(counts: BackupCounts, r: BackupRecord): void {
  switch (r.type) {
    case 'meta':
      counts.meta++;
      break;
    case 'account':
      counts.accounts++;
      break;
    case 'room':
      counts.rooms++;
      break;
    case 'media':
      counts.media++;
      break;
    case 'client_data':
    case 'outbox':
    case 'state_groups':
    case 'events':
    case 'receipts':
      counts[r.type] += r.records.length;
      break;
    default:
      break;
  }
}

/** Reads and checks a whole backup file without writing anything; returns its manifest and counts. */
export async function verifyBackup(source: AsyncIterable<Uint8Array>, passphrase: string): Promise<ImportSummary> {
  let manifest: BackupManifest | undefined;
  let seed: string | undefined;
  const counts = zeroCounts();
  let ended = false;
  for await (const r of fileRecords(source, passphrase)) {
    if (ended) throw new BackupError('corrupted', 'the backup has records after its end');
    if (r.type === 'manifest') manifest = r;
    else if (r.type === 'end') {
      for (const [k, n] of Object.entries(counts)) {
        if (r.counts[k as keyof BackupCounts] !== n) throw new BackupError('corrupted', `the backup's ${k} do not add up (${n} read, ${String(r.counts[k as keyof BackupCounts])} written)`);
      }
      ended = true;
    } else {
      count(counts, r);
      if (r.type === 'meta' && r.key === SEED_META) seed = isString(r.value) ? r.value : undefined;
    }
  }
  if (!manifest || !ended) throw new BackupError('truncated', 'the backup ends before its last record');
  if (!seed) throw new BackupError('corrupted', 'the backup holds no server key');
  let name: string;
  try {
    name = serverNameOfSeed(seed);
  } catch {
    throw new BackupError('corrupted', 'the backup holds a malformed server key');
  }
  if (name !== manifest.server_name) throw new BackupError('corrupted', "the backup's server key does not match its server name");
  return { manifest, counts };
}

/** Whether `store` may receive an import: it holds no homeserver (or only a cut-off import). */
export async function storeIsEmpty(store: Store): Promise<boolean> {
  const meta = await store.listMeta();
  if (meta[IMPORT_MARK_META] !== undefined) return true;
  if (meta[SEED_META] !== undefined) return false;
  return (await store.listAccounts()).length === 0 && (await store.listRooms()).length === 0;
}

/**
 * Imports the backup that `open()` reads (called twice: check, then write)
 * into `store`, which must be empty. Nothing is written unless the whole
 * file checks out. The writes are batches of records; the first sets
 * IMPORT_MARK_META and the last writes the server key and clears it, so a
 * store whose import was cut off (a crash) is no homeserver — it opens
 * only to another import.
 */
export async function importBackup(
  open: () => AsyncIterable<Uint8Array>,
  store: Store,
  opts: { passphrase: string; /** Called once the file checked out, before anything is written; throw to refuse. */ beforeWrite?: (s: ImportSummary) => void },
): Promise<ImportSummary> {
  if (!(await storeIsEmpty(store))) {
    throw new BackupError('refused', 'there is already a homeserver here: import only into an empty place');
  }
  const summary = await verifyBackup(open(), opts.passphrase);
  opts.beforeWrite?.(summary);
  await store.write({ meta: { [IMPORT_MARK_META]: true } });
  let seed: string | undefined;
  let batch: WriteBatch = {};
  let held = 0;
  const flush = async () => {
    if (held === 0) return;
    await store.write(batch);
    batch = {};
    held = 0;
  };
  const add = async <K extends keyof WriteBatch>(key: K, items: NonNullable<WriteBatch[K]>) => {
    if (batch[key] === undefined) batch[key] = [] as never;
    (batch[key] as unknown[]).push(...(items as unknown[]));
    held += (items as unknown[]).length;
    if (held >= BATCH_RECORDS) await flush();
  };
  for await (const r of fileRecords(open(), opts.passphrase)) {
    switch (r.type) {
      case 'meta':
        if (r.key === SEED_META) seed = r.value as string;
        else if (r.key !== IMPORT_MARK_META && r.key !== MOVED_META) {
          batch.meta = { ...(batch.meta ?? {}), [r.key]: r.value };
          held++;
        }
        break;
      case 'account':
        await add('accounts', [r.record]);
        break;
      case 'client_data':
        await add('clientData', r.records);
        break;
      case 'room':
        await add('rooms', [r.record]);
        break;
      case 'state_groups':
        await add('stateGroups', r.records);
        break;
      case 'events':
        await add('events', r.records);
        break;
      case 'receipts':
        await add('receipts', r.records);
        break;
      case 'outbox':
        await add('outboxPut', r.records);
        break;
      case 'media':
        await add('media', [{ media_id: r.media_id, content_type: r.content_type, created_ts: r.created_ts, bytes: decodeBase64(r.bytes) }]);
        break;
      default:
        break;
    }
  }
  await flush();
  if (!seed) throw new BackupError('corrupted', 'the backup holds no server key'); // verified above; the file changed between reads
  await store.write({ meta: { [SEED_META]: seed, [IMPORT_MARK_META]: undefined as unknown as JsonValue } });
  return summary;
}

/** Collects an async sequence of chunks (a backup being exported) into one array of parts, for a Blob. */
export async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const c of chunks) out.push(c);
  return out;
}

/**
 * Retires the homeserver in `store` after its "move" backup was made: from
 * its next start it signs nothing and stays off the network (moved.ts,
 * identity.ts). The caller stops a running homeserver first.
 */
export async function retireStore(store: Pick<Store, 'write'>, moved: MovedAway): Promise<void> {
  await store.write({ meta: { [MOVED_META]: movedAwayJson(moved) } });
}

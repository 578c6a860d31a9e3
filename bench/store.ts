/**
 * Store write throughput: 2,000 event records of ~1 KiB written one
 * transaction per record, in batches of 100, and in one transaction. Runs on
 * any Store (fake-indexeddb in Node, native IndexedDB in Chromium), so the
 * cost of a commit shows next to the cost of the data itself.
 */
import type { Store, StoredEvent } from '../src/server/store/types.ts';

export interface StoreWriteBench {
  /** records/s, one transaction per record */
  perTxn: number;
  /** records/s, 100 records per transaction */
  batched100: number;
  /** records/s, all records in one transaction */
  oneTxn: number;
}

const ROOM = '!bench:bench.example';

/** An accepted message event whose structured-clone/JSON size is ~1 KiB. */
function benchEvent(run: string, i: number): StoredEvent {
  const body = `${run} message ${i} `.padEnd(250, 'lorem ipsum dolor sit amet ');
  return {
    event_id: `$${run}-${i.toString().padStart(6, '0')}-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`,
    room_id: ROOM,
    stream: i,
    status: 'accepted',
    state_group: 1,
    pdu: {
      room_id: ROOM,
      sender: '@alice:bench.example',
      type: 'm.room.message',
      content: { msgtype: 'm.text', body },
      origin_server_ts: 1_700_000_000_000 + i,
      depth: i + 10,
      prev_events: [`$${run}-${Math.max(0, i - 1)}-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`],
      auth_events: [
        '$create-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
        '$power-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
        '$member-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
      ],
      hashes: { sha256: 'kS4Zq5Y2e8b9m1hQ4x7Jm0sQ9d3f8a2c6e1b7d4f0a9' },
      signatures: {
        'bench.example': {
          'ed25519:a_AAAA': 'Z2VuZXJpY3NpZ25hdHVyZWJ5dGVzZ2VuZXJpY3NpZ25hdHVyZWJ5dGVzZ2VuZXJpY3NpZ25hdHVyZQ',
        },
      },
    },
  };
}

/** Runs `write` on a fresh database and returns records/s. */
async function timed(
  open: (name: string) => Promise<Store>,
  name: string,
  records: StoredEvent[],
  batchSize: number,
  cleanup?: (name: string) => Promise<void>,
): Promise<number> {
  const store = await open(name);
  try {
    const start = performance.now();
    for (let i = 0; i < records.length; i += batchSize) {
      await store.write({ events: records.slice(i, i + batchSize) });
    }
    const seconds = (performance.now() - start) / 1000;
    const written = (await store.roomEvents(ROOM)).length;
    if (written !== records.length) throw new Error(`${name}: wrote ${written} of ${records.length} records`);
    return records.length / seconds;
  } finally {
    await store.close();
    await cleanup?.(name);
  }
}

/**
 * Records/s writing `records` (default 2,000) ~1 KiB events three ways, each
 * into a fresh database named `hearth-bench-store-…`; `cleanup` (e.g.
 * deleteIdbStore) removes each database afterwards so browser runs leave none.
 */
export async function benchStoreWrites(
  open: (name: string) => Promise<Store>,
  opts?: { records?: number; cleanup?: (name: string) => Promise<void> },
): Promise<StoreWriteBench> {
  const n = opts?.records ?? 2000;
  const run = Date.now().toString(36);
  const records = Array.from({ length: n }, (_, i) => benchEvent(run, i));
  const name = (mode: string) => `hearth-bench-store-${run}-${mode}`;
  return {
    perTxn: await timed(open, name('per-txn'), records, 1, opts?.cleanup),
    batched100: await timed(open, name('batched100'), records, 100, opts?.cleanup),
    oneTxn: await timed(open, name('one-txn'), records, n, opts?.cleanup),
  };
}

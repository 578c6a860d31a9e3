/**
 * Merges write batches into one, in order: list fields are concatenated
 * (a record written twice ends as the later copy, as the store applies a
 * batch's puts in order), meta keys of later batches win, and an outbox
 * entry put by one batch and deleted by a later one is dropped (the store
 * applies a batch's outbox deletes before its puts); client data likewise.
 * A room purged by a later batch takes the earlier batches' records of that
 * room with it (the store applies a batch's purges before its puts, so a
 * record put earlier and left in the merged batch would outlive the purge);
 * media deleted by a later batch likewise drops an earlier put of it.
 */
import type { WriteBatch } from './types.ts';

type ListKey = Exclude<keyof WriteBatch, 'meta'>;
const LIST_KEYS: readonly ListKey[] = [
  'purgeRooms',
  'accounts',
  'rooms',
  'events',
  'stateGroups',
  'outboxPut',
  'outboxDelete',
  'receipts',
  'media',
  'mediaDelete',
  'clientData',
  'clientDataDelete',
];

const clientKey = (r: { user_id: string; kind: string; key: string }) => `${r.user_id}\n${r.kind}\n${r.key}`;

export function mergeWriteBatches(batches: readonly WriteBatch[]): WriteBatch {
  const out: Record<string, unknown[]> & { meta?: WriteBatch['meta'] } = {};
  for (const b of batches) {
    if (b.outboxDelete && out.outboxPut) {
      const gone = new Set(b.outboxDelete.map((d) => `${d.destination}\n${d.seq}`));
      out.outboxPut = (out.outboxPut as { destination: string; seq: number }[]).filter((e) => !gone.has(`${e.destination}\n${e.seq}`));
    }
    if (b.clientDataDelete && out.clientData) {
      // Same rule for client data: the store applies a batch's deletes before its puts.
      const gone = new Set(b.clientDataDelete.map(clientKey));
      out.clientData = (out.clientData as { user_id: string; kind: string; key: string }[]).filter((r) => !gone.has(clientKey(r)));
    }
    if (b.purgeRooms && b.purgeRooms.length > 0) {
      const gone = new Set(b.purgeRooms);
      for (const key of ['rooms', 'events', 'stateGroups', 'receipts'] as const) {
        const list = out[key] as { room_id: string }[] | undefined;
        const kept = list?.filter((r) => !gone.has(r.room_id));
        if (kept && kept.length > 0) out[key] = kept;
        else delete out[key];
      }
    }
    if (b.mediaDelete && out.media) {
      const gone = new Set(b.mediaDelete);
      out.media = (out.media as { media_id: string }[]).filter((m) => !gone.has(m.media_id));
    }
    if (b.meta) out.meta = { ...(out.meta ?? {}), ...b.meta };
    for (const key of LIST_KEYS) {
      const list = b[key];
      if (list && list.length > 0) out[key] = [...(out[key] ?? []), ...list];
    }
  }
  return out as WriteBatch;
}

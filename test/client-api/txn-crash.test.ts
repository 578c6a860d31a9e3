/**
 * A send's transaction ID → event ID mapping commits in the event's own
 * store transaction: the crash soak (bench/crash-soak.ts) found that with two
 * writes, a SIGKILL between them kept the event and lost the mapping, and the
 * client's retry after the restart created the event a second time. Here:
 * every store write holding a sent event (message, redaction through /send,
 * redaction through /redact) also holds its txn record, and the retry answers
 * the same event.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster } from '../../src/sim/cluster.ts';
import type { JsonValue } from '../../src/core/json.ts';
import type { WriteBatch } from '../../src/server/store/types.ts';
import { apiServer, call, enc, register } from './helpers.ts';

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.stopAll();
  cluster = undefined;
});

describe('PUT send/redact with a transaction ID', () => {
  it('writes the txn mapping in the same store transaction as the event', async () => {
    cluster = new Cluster();
    const a = await apiServer(cluster, 'a');
    const alice = await register(a.api, 'alice');
    const created = await call(a.api, 'POST', '/createRoom', { preset: 'private_chat' }, alice.token);
    expect(created.status).toBe(200);
    const roomId = created.json.room_id as string;

    const writes: WriteBatch[] = [];
    const realWrite = a.store.write.bind(a.store);
    a.store.write = (batch: WriteBatch) => {
      writes.push(batch);
      return realWrite(batch);
    };
    const sends: [string, string, JsonValue][] = [
      ['m1', `/rooms/${enc(roomId)}/send/m.room.message/m1`, { msgtype: 'm.text', body: 'one' }],
      ['m2', `/rooms/${enc(roomId)}/send/m.room.message/m2`, { msgtype: 'm.text', body: 'two' }],
    ];
    const ids: string[] = [];
    for (const [, path, body] of sends) {
      const r = await call(a.api, 'PUT', path, body, alice.token);
      expect(r.status, JSON.stringify(r.json)).toBe(200);
      ids.push(r.json.event_id);
    }
    const viaSend = await call(a.api, 'PUT', `/rooms/${enc(roomId)}/send/m.room.redaction/r1`, { redacts: ids[0]! }, alice.token);
    expect(viaSend.status, JSON.stringify(viaSend.json)).toBe(200);
    const viaRedact = await call(a.api, 'PUT', `/rooms/${enc(roomId)}/redact/${enc(ids[1]!)}/r2`, {}, alice.token);
    expect(viaRedact.status, JSON.stringify(viaRedact.json)).toBe(200);

    const all: [string, string][] = [
      ['m1', ids[0]!],
      ['m2', ids[1]!],
      ['r1', viaSend.json.event_id],
      ['r2', viaRedact.json.event_id],
    ];
    for (const [txnId, eventId] of all) {
      const holding = writes.filter((w) => w.events?.some((e) => e.event_id === eventId));
      expect(holding.length, `writes holding ${txnId}'s event`).toBeGreaterThan(0);
      // The first write of the event carries the mapping.
      expect(holding[0]!.clientData?.find((r) => r.kind === 'txn' && r.key.endsWith(`\n${txnId}`))?.value, txnId).toBe(eventId);
    }
    // A retry answers the same event.
    const again = await call(a.api, 'PUT', sends[0]![1], sends[0]![2], alice.token);
    expect(again.json.event_id).toBe(ids[0]);
  });
});

/**
 * Events this server builds have their keys in canonical order, content
 * included, and keep it through redaction: every server that canonicalises
 * them for their hashes and signature (each receiver, twice per event) then
 * takes canonicalJson's fast path. Nothing depends on it for correctness — the
 * reference writer handles any order — so this guards the speed only.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { canonicalJsonFast } from '../../src/core/canonical-json.ts';
import type { JsonObject } from '../../src/core/json.ts';
import { redactEvent } from '../../src/core/redaction.ts';
import { Cluster } from '../../src/sim/cluster.ts';
import { addThreeServers } from './engine-helpers.ts';

let cluster: Cluster;
afterEach(() => cluster?.stopAll());

describe('key order of locally built events', () => {
  it('is canonical for the content hash input and the signing bytes', async () => {
    cluster = new Cluster();
    const { a, alice } = await addThreeServers(cluster);
    const roomId = await a.client.createRoom(alice, { preset: 'public_chat', name: 'Key order', topic: 't' });
    const ids = [
      await a.client.sendMessage(alice, roomId, 'hello'),
      // Content given in non-canonical order, nested.
      await a.client.sendEvent(alice, roomId, 'm.room.message', { msgtype: 'm.text', body: 'x', 'm.relates_to': { rel_type: 'm.thread', event_id: '$x' } }),
      await a.client.setState(alice, roomId, 'm.room.topic', '', { topic: 'z', 'm.topic': [{ mimetype: 'text/plain', body: 'z' }] }),
    ];
    const room = a.hs.rooms.get(roomId)!;
    for (const id of ids) {
      const { event_id: _id, unsigned: _u, signatures, hashes: _h, ...hashed } = room.get(id)! as unknown as Record<string, unknown>;
      expect(canonicalJsonFast(hashed), `content hash input of ${id}`).toBeDefined();
      const { signatures: _s, unsigned: _u2, ...signing } = redactEvent({ ...hashed, signatures } as JsonObject, room.rules);
      expect(canonicalJsonFast(signing), `signing bytes of ${id}`).toBeDefined();
    }
  });
});

/**
 * Repeated peer-store merges, skipped. libp2p records in its peer store the
 * protocol of every stream opened or accepted (`merge(peer, { protocols })`,
 * on both sides of every stream), and we record a peer's addresses on every
 * discovery announcement it makes. Each merge reads the peer's record,
 * decodes it (every address parsed back into a multiaddr, its PeerIds
 * base58-encoded again), merges and writes it back. A federation request is a
 * stream, so that was two full record rewrites per request: during the heal
 * of `scenarios/libp2p-10-heal.json`, ~1,500 merges, nearly all repeats, and
 * ~9% of the one thread's CPU (peer store, multiaddr, multiformats, protons).
 *
 * A merge that only adds protocols and/or addresses, identical to one that
 * completed for the same peer less than `ttlMs` ago, changes nothing but the
 * record's timestamp, so it is skipped. The timestamp is what expires a peer
 * (6 h) and its addresses (1 h) in libp2p's store: with a TTL of minutes, a
 * peer in use still has its record refreshed that often. Any other merge
 * (metadata, tags, keys, another protocol or address) goes through as before,
 * and a failed merge is not remembered. A peer's record rewritten otherwise
 * forgets what it may have undone: `delete`, all its merges; `save` and
 * `patch` (identify's, on every new connection, replaces the record's
 * addresses with what the peer reports), its merges of addresses. Its merges
 * of protocols are kept: a protocol we negotiated a stream for is one the
 * peer lists in its identify answer too.
 */
import type { Peer, PeerData, PeerId, PeerStore } from '@libp2p/interface';

export interface MergeDedupeOptions {
  /** How long a completed merge makes an identical one redundant. */
  ttlMs: number;
  /** Merges remembered at most (all are forgotten when full: the next ones just go through). */
  max?: number;
  now?: () => number;
}

export interface MergeDedupeStats {
  merged: number;
  skipped: number;
}

/** The key of a merge that only records protocols and/or addresses (within its peer); undefined for any other. */
function mergeKey(data: PeerData): string | undefined {
  for (const k of Object.keys(data) as (keyof PeerData)[]) {
    if (data[k] === undefined) continue;
    if (k !== 'protocols' && k !== 'multiaddrs') return undefined;
  }
  const protocols = data.protocols ?? [];
  const addrs = (data.multiaddrs ?? []).map((m) => m.toString());
  if (protocols.length === 0 && addrs.length === 0) return undefined;
  return `${protocols.join(' ')} | ${addrs.join(' ')}`;
}

/**
 * Makes `store.merge` skip a merge identical to one that completed for the same peer within
 * `ttlMs` (see the header). Returns counters a test or a bench can read.
 */
export function skipRepeatedMerges(store: PeerStore, opts: MergeDedupeOptions): MergeDedupeStats {
  const max = opts.max ?? 4096;
  const now = opts.now ?? (() => Date.now());
  const stats: MergeDedupeStats = { merged: 0, skipped: 0 };
  // Per peer: merge key → when it completed, and the record it returned (what a skipped merge returns).
  const done = new Map<string, Map<string, { at: number; peer: Peer; addresses: boolean }>>();
  let remembered = 0;
  const forget = (peerId: PeerId, addressesOnly: boolean) => {
    const mine = done.get(peerId.toString());
    if (!mine) return;
    for (const key of mine.keys()) {
      if (addressesOnly && !mine.get(key)!.addresses) continue;
      mine.delete(key);
      remembered--;
    }
    // No empty maps left behind: peers come and go (any key can announce itself).
    if (mine.size === 0) done.delete(peerId.toString());
  };
  const merge = store.merge.bind(store);
  store.merge = async (peerId, data, options) => {
    const key = mergeKey(data);
    const hit = key === undefined ? undefined : done.get(peerId.toString())?.get(key);
    if (hit && now() - hit.at < opts.ttlMs) {
      stats.skipped++;
      return hit.peer;
    }
    const peer = await merge(peerId, data, options);
    stats.merged++;
    if (key !== undefined) {
      if (remembered >= max) {
        done.clear();
        remembered = 0;
      }
      let mine = done.get(peerId.toString());
      if (!mine) {
        mine = new Map();
        done.set(peerId.toString(), mine);
      }
      if (!mine.has(key)) remembered++;
      mine.set(key, { at: now(), peer, addresses: (data.multiaddrs?.length ?? 0) > 0 });
    }
    return peer;
  };
  for (const name of ['save', 'patch', 'delete'] as const) {
    const original = store[name].bind(store) as (peerId: PeerId, ...rest: unknown[]) => Promise<unknown>;
    (store as unknown as Record<string, unknown>)[name] = (peerId: PeerId, ...rest: unknown[]) => {
      forget(peerId, name !== 'delete');
      return original(peerId, ...rest);
    };
  }
  return stats;
}

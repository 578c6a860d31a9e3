/**
 * Several relays, in order of preference (hearth-config.json's `relays`,
 * `hearth serve --relay a,b`): which to dial and which to let go, given which
 * are connected. Pure; the transport applies it on every bootstrap tick.
 *
 *  - None connected (start-up, or the one in use died): dial them all at
 *    once — whichever answers first is used, so a dead first relay costs no
 *    extra timeout before the second is tried.
 *  - Some connected: the earliest connected one in the list is the one in
 *    use. The relays before it are dialled again on every tick (the first
 *    relay coming back is found within one tick), and the ones after it are
 *    hung up: a homeserver holds its circuit reservation on one relay, and
 *    everyone converging on the same (first reachable) relay keeps discovery
 *    on one gossip mesh.
 *
 * A relay may appear under several addresses (ws and tcp): they are grouped
 * by the PeerId at their end. Addresses without one are always dialled and
 * never hung up (they cannot be matched to a connection).
 */

export interface RelayPlan {
  /** Addresses to dial now. */
  dial: string[];
  /** PeerIds of relays to hang up (later in the list than the one in use). */
  hangUp: string[];
  /** The PeerId of the relay in use, if any. */
  inUse?: string;
}

/** The PeerId at the end of a `/…/p2p/<id>` multiaddr, if any. */
export function peerAtEnd(addr: string): string | undefined {
  return /\/p2p\/([^/]+)$/.exec(addr)?.[1];
}

export function relayPlan(addrs: readonly string[], connected: (peer: string) => boolean, self?: string): RelayPlan {
  const peers: string[] = [];
  const byPeer = new Map<string, string[]>();
  const anonymous: string[] = [];
  for (const a of addrs) {
    const p = peerAtEnd(a);
    if (!p) {
      anonymous.push(a);
      continue;
    }
    if (p === self) continue;
    if (!byPeer.has(p)) {
      byPeer.set(p, []);
      peers.push(p);
    }
    byPeer.get(p)!.push(a);
  }
  const best = peers.findIndex((p) => connected(p));
  if (best === -1) return { dial: [...peers.flatMap((p) => byPeer.get(p)!), ...anonymous], hangUp: [] };
  return {
    dial: [...peers.slice(0, best).flatMap((p) => byPeer.get(p)!), ...anonymous],
    hangUp: peers.slice(best + 1).filter((p) => connected(p)),
    inUse: peers[best]!,
  };
}

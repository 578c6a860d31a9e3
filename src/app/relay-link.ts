/**
 * The tab's link to its relay, watched: connected, still connecting, or
 * unreachable since when — and, while it is down, the relay configuration is
 * read again (relay-config.ts) with backoff, so a relay that came back with a
 * new identity (a new PeerId at the same address, or a new address) is found
 * and dialled instead of the old address forever.
 *
 * No I/O of its own: the transport and the config reader come in as functions
 * (the worker wires libp2p and fetch; tests drive it with a clock).
 */

export interface RelayStatus {
  state: 'none' | 'connecting' | 'connected' | 'failed';
  /** The relay's multiaddr: the one connected (several relays fail over in order), else the first configured one. */
  addr?: string;
  /** With 'failed': since when (ms since the epoch) no relay has answered. */
  since?: number;
}

export interface RelayLinkDeps {
  /** Whether a connection to one of these relay PeerIds is open. */
  connected(relayPeers: readonly string[]): boolean;
  /** Use these relays from now on (dial them, forget the old ones). */
  setRelays(relays: readonly string[]): void;
  /** Reads the relay configuration again; undefined when it cannot be read. Absent: never re-read. */
  readConfig?: () => Promise<string[] | undefined>;
  /** Told whenever the status changes. */
  onChange(status: RelayStatus): void;
  now?: () => number;
}

export interface RelayLinkTiming {
  /** How long a relay that has never answered is "connecting" before it counts as unreachable. */
  graceMs: number;
  /** First wait before re-reading the config once the relay is down; doubles up to maxRetryMs. */
  firstRetryMs: number;
  maxRetryMs: number;
}

export const RELAY_LINK_TIMING: RelayLinkTiming = { graceMs: 10_000, firstRetryMs: 2_000, maxRetryMs: 30_000 };

/** The PeerId at the end of a `/…/p2p/<id>` multiaddr, if any. */
export function relayPeerOf(addr: string): string | undefined {
  return /\/p2p\/([^/]+)$/.exec(addr)?.[1];
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export class RelayLink {
  private relays: string[];
  /** When the relay was last found down (lost, or not yet reached); undefined while connected. */
  private downSince: number | undefined;
  private everUp = false;
  /** The last config read failed (its server is down): with no relay known, that is "unreachable", not "none". */
  private configUnreadable = false;
  private retryMs: number;
  private nextRead: number;
  private reading = false;
  private lastReported = '';
  private readonly now: () => number;

  constructor(
    relays: readonly string[],
    private readonly deps: RelayLinkDeps,
    private readonly timing: RelayLinkTiming = RELAY_LINK_TIMING,
  ) {
    this.relays = [...relays];
    this.now = deps.now ?? Date.now;
    this.downSince = this.now();
    this.retryMs = timing.firstRetryMs;
    this.nextRead = this.downSince + timing.firstRetryMs;
  }

  get current(): readonly string[] {
    return this.relays;
  }

  private isUp(): boolean {
    const peers = this.relays.map(relayPeerOf).filter((p): p is string => p !== undefined);
    return peers.length > 0 && this.deps.connected(peers);
  }

  status(): RelayStatus {
    const inUse = this.relays.find((r) => {
      const p = relayPeerOf(r);
      return p !== undefined && this.deps.connected([p]);
    });
    if (inUse) return { state: 'connected', addr: inUse };
    const addr = this.relays[0];
    const at = addr ? { addr } : {};
    const since = this.downSince ?? this.now();
    if (this.relays.length === 0) return this.configUnreadable ? { state: 'failed', since } : { state: 'none' };
    if (!this.everUp && this.now() - since < this.timing.graceMs) return { state: 'connecting', ...at };
    return { state: 'failed', ...at, since };
  }

  /** Called periodically (and after connection events): notes changes and re-reads the config when due. */
  tick(): void {
    const t = this.now();
    if (this.isUp()) {
      this.everUp = true;
      this.downSince = undefined;
      this.retryMs = this.timing.firstRetryMs;
    } else if (this.downSince === undefined) {
      this.downSince = t;
      this.nextRead = t + this.retryMs;
    } else if (t >= this.nextRead && !this.reading && this.deps.readConfig) {
      void this.reread(this.deps.readConfig);
    }
    this.report();
  }

  private async reread(read: () => Promise<string[] | undefined>): Promise<void> {
    this.reading = true;
    try {
      const relays = await read().catch(() => undefined);
      this.configUnreadable = relays === undefined;
      if (relays && !sameList(relays, this.relays)) {
        this.relays = [...relays];
        this.deps.setRelays(relays);
        // Still unreachable since the link was lost, until the new relay answers; if it does not, look again soon.
        this.retryMs = this.timing.firstRetryMs;
      } else {
        this.retryMs = Math.min(this.retryMs * 2, this.timing.maxRetryMs);
      }
      this.nextRead = this.now() + this.retryMs;
    } finally {
      this.reading = false;
    }
    this.report();
  }

  private report(): void {
    const s = this.status();
    const key = JSON.stringify(s);
    if (key === this.lastReported) return;
    this.lastReported = key;
    this.deps.onChange(s);
  }
}

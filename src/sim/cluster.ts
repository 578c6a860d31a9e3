/**
 * Building blocks for multi-server runs in one process (tests, the
 * simulator, benchmarks): homeservers on fake-indexeddb (or SQLite on disk)
 * over an in-process network, plus a convergence probe.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServerIdentity } from '../server/identity.ts';
import { createNodeTransport } from '../net/node.ts';
import type { Libp2pTransport, TransportStats } from '../net/libp2p-transport.ts';
import { type Relay, startRelay } from '../net/relay.ts';
import { IDBFactory } from 'fake-indexeddb';
import { HomeserverClient } from '../server/client.ts';
import type { Clock } from '../server/clock.ts';
import { Homeserver, type HomeserverOptions } from '../server/homeserver.ts';
import type { Logger } from '../server/log.ts';
import { openNodeStore } from '../server/store/node.ts';
import type { Store } from '../server/store/types.ts';
import { InProcessNetwork, type LinkStats } from '../server/transport/in-process.ts';

/** What a server sent over libp2p (Cluster.libp2pSent), in the in-process network's terms (libp2p links drop nothing on purpose). */
export type Libp2pSent = LinkStats;

export interface ClusterServer {
  label: string;
  hs: Homeserver;
  client: HomeserverClient;
  store: Store;
  /** The IndexedDB factory holding this server's database (survives crash/restart). */
  idb: IDBFactory;
  /** The server's timers, which `pause` freezes. */
  clock: PausableClock;
}

/**
 * Real time, but timers that come due while the server is paused are held
 * and fire on resume: a frozen tab's setTimeout does not run either.
 */
export class PausableClock implements Clock {
  private paused = false;
  private held: (() => void)[] = [];

  now(): number {
    return Date.now();
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const h: { timer?: ReturnType<typeof setTimeout>; cancelled: boolean } = { cancelled: false };
    h.timer = setTimeout(() => {
      if (h.cancelled) return;
      if (this.paused) this.held.push(() => !h.cancelled && fn());
      else fn();
    }, ms);
    return h;
  }

  clearTimeout(handle: unknown): void {
    const h = handle as { timer?: ReturnType<typeof setTimeout>; cancelled: boolean } | undefined;
    if (!h) return;
    h.cancelled = true;
    clearTimeout(h.timer);
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    const held = this.held;
    this.held = [];
    for (const fn of held) fn();
  }

  get isPaused(): boolean {
    return this.paused;
  }
}

export interface ClusterOptions {
  antiEntropyMs?: number;
  log?: Logger;
  outbox?: HomeserverOptions['outbox'];
  limits?: HomeserverOptions['limits'];
  /** [0, 1) source for link loss and jitter (seed it for reproducible runs). */
  random?: () => number;
  /** Called with every server once it is up (first start, restart, wipe). */
  onStart?: (server: ClusterServer) => void;
  /**
   * 'libp2p': every server is a real libp2p node on 127.0.0.1 (TCP), meeting
   * the others through a relay; partitions are enforced by each transport's
   * block list. Link faults, pause and wipe need the in-process network.
   */
  transport?: 'in-process' | 'libp2p';
  /**
   * libp2p: how often each server re-announces itself on the discovery topic
   * (default 500 ms, so a few servers meet at once). Every announcement is
   * signed, verified and merged into the peer store by every other server,
   * all in this one process: twenty servers at 500 ms starved everything else
   * (a room's first events took 50 s). The runner scales it with the servers.
   */
  libp2pAnnounceMs?: number;
  /**
   * Each server's Store: 'idb' (default) is IndexedDB's code on
   * fake-indexeddb, all in this process's memory, as in the browser;
   * 'sqlite' is the SQLite store of `hearth serve --data`, one database per
   * server in a temporary directory (removed by `stopAll`), so what the
   * process holds is the engines' working sets and not a second copy of
   * every room. Crash, restart and wipe work with both.
   */
  store?: 'idb' | 'sqlite';
}

export class Cluster {
  readonly net: InProcessNetwork;
  readonly servers = new Map<string, ClusterServer>();
  /** Labels of crashed servers (kept in `servers` so their names and stores stay known). */
  private readonly crashed = new Set<string>();
  /** Every server name a label has had, oldest first (a wipe gives it a new one). */
  readonly names = new Map<string, string[]>();
  /** Name of a server whose transport exists but whose Homeserver.open has not returned yet. */
  private readonly starting = new Map<string, string>();

  constructor(private readonly opts: ClusterOptions = {}) {
    this.net = new InProcessNetwork(opts.random ? { random: opts.random } : {});
  }

  /** libp2p mode: the relay every server bootstraps from, and each server's transport. */
  private relay?: Relay;
  private readonly libp2p = new Map<string, Libp2pTransport>();
  /** libp2p mode: pairs (by name, "a b" with a < b) that must not talk. */
  private readonly blockedPairs = new Set<string>();
  /** libp2p mode: every incarnation's transport counters (a crash ends one), by server name. */
  private readonly libp2pStats = new Map<string, TransportStats[]>();

  /**
   * libp2p mode: what the server of this name sent over libp2p, all incarnations (undefined: not a
   * libp2p server). Requests as the in-process network counts them (the request's bytes); gossip
   * once per publish — the mesh, not the sender, sends it on to each peer.
   */
  libp2pSent(name: string): Libp2pSent | undefined {
    const all = this.libp2pStats.get(name);
    if (!all) return undefined;
    const out: Libp2pSent = { requests: 0, requestBytes: 0, broadcasts: 0, broadcastBytes: 0 };
    for (const { federation, gossip } of all) {
      out.requests += federation.requestsSent;
      out.requestBytes += federation.requestBytesSent;
      out.broadcasts += gossip.published;
      out.broadcastBytes += gossip.bytesPublished;
    }
    return out;
  }

  /** libp2p mode: federation requests answered so far, per kind, summed over every server and incarnation. */
  libp2pRequestsByKind(): TransportStats['federation']['byKind'] {
    const out: TransportStats['federation']['byKind'] = {};
    for (const all of this.libp2pStats.values()) {
      for (const stats of all) {
        for (const [kind, k] of Object.entries(stats.federation.byKind)) {
          out[kind] ??= { requests: 0, requestBytes: 0, responseBytes: 0 };
          const o = out[kind]!;
          o.requests += k.requests;
          o.requestBytes += k.requestBytes;
          o.responseBytes += k.responseBytes;
        }
      }
    }
    return out;
  }

  private async libp2pTransport(identity: ServerIdentity): Promise<Libp2pTransport> {
    this.relay ??= await startRelay({ port: 0, tcpPort: 0, gossipHeartbeatMs: 200 });
    const t = await createNodeTransport(identity, {
      bootstrap: [this.relay.tcpAddr],
      announceMs: this.opts.libp2pAnnounceMs ?? 500,
      bootstrapRetryMs: 500,
      gossipHeartbeatMs: 200,
      requestTimeoutMs: 10_000,
    });
    this.libp2p.set(identity.serverName, t);
    this.libp2pStats.set(identity.serverName, [...(this.libp2pStats.get(identity.serverName) ?? []), t.stats]);
    // A restarted server honours the partition it comes back into.
    for (const pair of this.blockedPairs) {
      const [a, b] = pair.split(' ') as [string, string];
      if (a === identity.serverName) t.block(b);
      if (b === identity.serverName) t.block(a);
    }
    return t;
  }

  private applyLibp2pBlocks(): void {
    for (const [name, t] of this.libp2p) {
      for (const other of this.libp2p.keys()) {
        if (other === name) continue;
        const blocked = this.blockedPairs.has([name, other].sort().join(' '));
        if (blocked && !t.isBlocked(other)) t.block(other);
        if (!blocked && t.isBlocked(other)) t.unblock(other);
      }
    }
  }

  /** Ends every partition and link fault. */
  healAll(): void {
    this.net.healAll();
    this.blockedPairs.clear();
    this.applyLibp2pBlocks();
  }

  /** store 'sqlite': the directory holding every server's database, and each database's directory by its server's IDBFactory (a restart passes the same factory, a wipe a new one). */
  private sqliteRoot?: string;
  private readonly sqliteDirs = new Map<IDBFactory, string>();

  private async openStore(label: string, idb: IDBFactory): Promise<Store> {
    if (this.opts.store !== 'sqlite') return openNodeStore(`hearth-${label}`, { indexedDB: idb });
    this.sqliteRoot ??= await mkdtemp(join(tmpdir(), 'hearth-cluster-'));
    let dir = this.sqliteDirs.get(idb);
    if (!dir) {
      dir = join(this.sqliteRoot, `${label}-${this.sqliteDirs.size}`);
      this.sqliteDirs.set(idb, dir);
    }
    // Imported here: better-sqlite3 is a native module the in-memory runs never need to load.
    const { openSqliteStore } = await import('../server/store/sqlite-store.ts');
    return openSqliteStore(dir);
  }

  async add(label: string, idb: IDBFactory = new IDBFactory(), replaces?: string): Promise<ClusterServer> {
    const store = await this.openStore(label, idb);
    const clock = new PausableClock();
    const hs = await Homeserver.open({
      store,
      clock,
      transport: (name, identity) => {
        if (this.opts.transport === 'libp2p') {
          this.starting.set(label, name);
          return this.libp2pTransport(identity);
        }
        this.starting.set(label, name);
        // A wiped server takes its predecessor's place in the network (its cuts and link faults)
        // before its transport starts, so it does not get a moment of connectivity it should not have.
        if (replaces && replaces !== name) this.net.transferLinks(replaces, name);
        return this.net.transport(name);
      },
      antiEntropyMs: this.opts.antiEntropyMs ?? 0,
      outbox: this.opts.outbox ?? { baseBackoffMs: 50, maxBackoffMs: 1000 },
      ...(this.opts.log ? { log: this.opts.log } : {}),
      ...(this.opts.limits ? { limits: this.opts.limits } : {}),
    });
    const server: ClusterServer = { label, hs, client: new HomeserverClient(hs), store, idb, clock };
    this.servers.set(label, server);
    this.starting.delete(label);
    this.crashed.delete(label);
    const names = this.names.get(label) ?? [];
    if (names[names.length - 1] !== hs.serverName) names.push(hs.serverName);
    this.names.set(label, names);
    this.opts.onStart?.(server);
    return server;
  }

  /**
   * Freezes a server: deliveries to and from it wait, and its timers
   * (outbox retries, anti-entropy) do not fire, until `resume`.
   */
  pause(label: string): void {
    const s = this.get(label);
    s.clock.pause();
    this.net.pause(s.hs.serverName);
  }

  resume(label: string): void {
    const s = this.get(label);
    this.net.resume(s.hs.serverName);
    s.clock.resume();
  }

  isPaused(label: string): boolean {
    return this.servers.get(label)?.clock.isPaused ?? false;
  }

  /**
   * Storage evicted: stops the server, throws its database away and starts
   * a new, empty one in its place. The new server has a new identity (keys,
   * hence name) — it is a different server to its peers.
   */
  async wipe(label: string): Promise<ClusterServer> {
    const s = this.get(label);
    if (this.isRunning(label)) await this.crash(label);
    // The old entry stays until the new server replaces it: concurrent fault actions still find a name.
    return this.add(label, new IDBFactory(), s.hs.serverName);
  }

  get(label: string): ClusterServer {
    const s = this.servers.get(label);
    if (!s) throw new Error(`no server ${label}`);
    return s;
  }

  name(label: string): string {
    return this.starting.get(label) ?? this.get(label).hs.serverName;
  }

  /** Abrupt stop: the transport goes dark, nothing is flushed; the database survives. */
  async crash(label: string): Promise<void> {
    const s = this.get(label);
    this.crashed.add(label);
    // Release whatever waits on a paused server: a crash ends the freeze (its held timers are dropped).
    if (s.clock.isPaused) this.net.resume(s.hs.serverName);
    await s.hs.stop();
    this.net.detach(s.hs.serverName);
    this.libp2p.delete(s.hs.serverName);
  }

  isRunning(label: string): boolean {
    return this.servers.has(label) && !this.crashed.has(label);
  }

  /** Labels of the servers that are up (not crashed). */
  running(): string[] {
    return [...this.servers.keys()].filter((l) => !this.crashed.has(l));
  }

  /**
   * Partitions by server *labels*. Like `net.partition`, plus the links of
   * crashed servers: the network forgets a crashed node, so `net.partition`
   * alone would leave it fully connected when it restarts mid-partition.
   * Cuts are kept by name, so pre-cutting them makes the partition hold
   * from the restarted server's first packet.
   */
  partition(groups: string[][]): void {
    const nameGroups = groups.map((g) => g.map((l) => this.name(l)));
    if (this.opts.transport === 'libp2p') {
      const groupOf = new Map<string, number>();
      nameGroups.forEach((g, i) => {
        for (const n of g) groupOf.set(n, i);
      });
      const all = [...this.servers.keys()].map((l) => this.name(l));
      this.blockedPairs.clear();
      for (const a of all) {
        for (const b of all) {
          if (a < b && (groupOf.get(a) === undefined || groupOf.get(a) !== groupOf.get(b))) this.blockedPairs.add(`${a} ${b}`);
        }
      }
      this.applyLibp2pBlocks();
      return;
    }
    this.net.partition(nameGroups);
    const groupOf = new Map<string, number>();
    nameGroups.forEach((g, i) => {
      for (const n of g) groupOf.set(n, i);
    });
    const all = [...this.servers.keys()].map((l) => this.name(l));
    const present = new Set(this.net.serverNames());
    for (const a of all) {
      if (present.has(a)) continue;
      for (const b of all) {
        if (a === b) continue;
        const ga = groupOf.get(a);
        if (ga === undefined || ga !== groupOf.get(b)) this.net.cut(a, b);
        else this.net.heal(a, b);
      }
    }
  }

  /** One-way cuts by label: every server in `from` loses its link to every server in `to`. */
  cutOneWay(from: string[], to: string[]): void {
    for (const a of from) for (const b of to) if (a !== b) this.net.cut(this.name(a), this.name(b), true);
  }

  async restart(label: string): Promise<ClusterServer> {
    const s = this.get(label);
    return this.add(label, s.idb);
  }

  async stopAll(): Promise<void> {
    for (const s of this.servers.values()) await s.hs.stop().catch(() => undefined);
    await this.relay?.stop().catch(() => undefined);
    if (this.sqliteRoot) await rm(this.sqliteRoot, { recursive: true, force: true }).catch(() => undefined);
  }

  /** Waits until `check` holds, polling; throws with `describe()` on timeout. */
  async until(check: () => boolean, timeoutMs = 5000, describe: () => string = () => 'condition'): Promise<number> {
    const start = Date.now();
    while (!check()) {
      if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${describe()}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    return Date.now() - start;
  }

  /**
   * Whether every server in `labels` holds the same accepted event set and
   * current state for the room. A cheap pass first (counts of accepted events
   * and state entries): sorting and serialising every server's event set is
   * only worth it once those agree — with 100 servers of 10,000 events each,
   * doing it on every poll ate most of the process.
   */
  converged(roomId: string, labels: string[] = [...this.servers.keys()]): boolean {
    let counts: string | undefined;
    for (const l of labels) {
      const room = this.get(l).hs.rooms.get(roomId);
      if (!room || room.currentGroup < 0) return false;
      let accepted = 0;
      for (const e of room.events.values()) if (e.status === 'accepted' || e.status === 'soft_failed') accepted++;
      const sig = `${accepted} ${room.currentState().size}`;
      if (counts === undefined) counts = sig;
      else if (sig !== counts) return false;
    }
    let first: string | undefined;
    for (const l of labels) {
      const c = this.get(l).client;
      let sig: string;
      try {
        sig = JSON.stringify([c.acceptedEventIds(roomId), c.stateIds(roomId)]);
      } catch {
        return false;
      }
      if (first === undefined) first = sig;
      else if (sig !== first) return false;
    }
    return true;
  }
}

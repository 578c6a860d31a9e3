/**
 * Building blocks for multi-server runs in one process (tests, the
 * simulator, benchmarks): homeservers on fake-indexeddb over an in-process
 * network, plus a convergence probe.
 */
import { IDBFactory } from 'fake-indexeddb';
import { HomeserverClient } from '../server/client.ts';
import { Homeserver, type HomeserverOptions } from '../server/homeserver.ts';
import type { Logger } from '../server/log.ts';
import { openNodeStore } from '../server/store/node.ts';
import type { Store } from '../server/store/types.ts';
import { InProcessNetwork } from '../server/transport/in-process.ts';

export interface ClusterServer {
  label: string;
  hs: Homeserver;
  client: HomeserverClient;
  store: Store;
  /** The IndexedDB factory holding this server's database (survives crash/restart). */
  idb: IDBFactory;
}

export interface ClusterOptions {
  antiEntropyMs?: number;
  log?: Logger;
  outbox?: HomeserverOptions['outbox'];
  limits?: HomeserverOptions['limits'];
}

export class Cluster {
  readonly net = new InProcessNetwork();
  readonly servers = new Map<string, ClusterServer>();
  /** Labels of crashed servers (kept in `servers` so their names and stores stay known). */
  private readonly crashed = new Set<string>();

  constructor(private readonly opts: ClusterOptions = {}) {}

  async add(label: string, idb: IDBFactory = new IDBFactory()): Promise<ClusterServer> {
    const store = await openNodeStore(`hearth-${label}`, { indexedDB: idb });
    const hs = await Homeserver.open({
      store,
      transport: (name) => this.net.transport(name),
      antiEntropyMs: this.opts.antiEntropyMs ?? 0,
      outbox: this.opts.outbox ?? { baseBackoffMs: 50, maxBackoffMs: 1000 },
      ...(this.opts.log ? { log: this.opts.log } : {}),
      ...(this.opts.limits ? { limits: this.opts.limits } : {}),
    });
    const server: ClusterServer = { label, hs, client: new HomeserverClient(hs), store, idb };
    this.servers.set(label, server);
    this.crashed.delete(label);
    return server;
  }

  get(label: string): ClusterServer {
    const s = this.servers.get(label);
    if (!s) throw new Error(`no server ${label}`);
    return s;
  }

  name(label: string): string {
    return this.get(label).hs.serverName;
  }

  /** Abrupt stop: the transport goes dark, nothing is flushed; the database survives. */
  async crash(label: string): Promise<void> {
    const s = this.get(label);
    this.crashed.add(label);
    await s.hs.stop();
    this.net.detach(s.hs.serverName);
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

  async restart(label: string): Promise<ClusterServer> {
    const s = this.get(label);
    this.servers.delete(label);
    return this.add(label, s.idb);
  }

  async stopAll(): Promise<void> {
    for (const s of this.servers.values()) await s.hs.stop().catch(() => undefined);
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

  /** Whether every server in `labels` holds the same accepted event set and current state for the room. */
  converged(roomId: string, labels: string[] = [...this.servers.keys()]): boolean {
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

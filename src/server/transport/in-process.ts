/**
 * An in-process network of servers, for tests and the simulator: every
 * server is a node; links between nodes can be cut in one or both
 * directions (partitions) and healed; a node can be stopped abruptly (crash)
 * and started again. Requests are delivered asynchronously with an optional
 * per-link latency, and payloads are deep-copied so no server ever shares an
 * object with another (as on a real wire).
 */
import type { FederationRequest, FederationResponse } from '../federation/types.ts';
import { UnreachableError } from '../federation/types.ts';
import type { RequestHandler, RoomBroadcast, Transport, TransportEvents } from './types.ts';

interface Node {
  name: string;
  handler?: RequestHandler;
  events?: TransportEvents;
  rooms: Set<string>;
  running: boolean;
}

export interface LinkStats {
  requests: number;
  requestBytes: number;
  broadcasts: number;
  broadcastBytes: number;
}

export class InProcessNetwork {
  private readonly nodes = new Map<string, Node>();
  /** Directed cuts: "from\u0000to" present = from cannot reach to. */
  private readonly cuts = new Set<string>();
  private readonly latency = new Map<string, number>();
  readonly stats = new Map<string, LinkStats>();

  /** Creates the transport for one server. */
  transport(serverName: string): Transport {
    if (this.nodes.has(serverName)) throw new Error(`server ${serverName} is already on this network`);
    const node: Node = { name: serverName, rooms: new Set(), running: false };
    this.nodes.set(serverName, node);
    return new InProcessTransport(this, node);
  }

  /** Removes a stopped server's node so a fresh transport can take its name (restart). */
  detach(serverName: string): void {
    this.nodes.delete(serverName);
  }

  canReach(from: string, to: string): boolean {
    const a = this.nodes.get(from);
    const b = this.nodes.get(to);
    return !!a?.running && !!b?.running && from !== to && !this.cuts.has(`${from}\u0000${to}`);
  }

  /** Cuts from→to (and to→from unless oneWay). */
  cut(from: string, to: string, oneWay = false): void {
    const before = this.linkState(from, to);
    this.cuts.add(`${from}\u0000${to}`);
    if (!oneWay) this.cuts.add(`${to}\u0000${from}`);
    this.notifyChange(from, to, before);
  }

  heal(from: string, to: string, oneWay = false): void {
    const before = this.linkState(from, to);
    this.cuts.delete(`${from}\u0000${to}`);
    if (!oneWay) this.cuts.delete(`${to}\u0000${from}`);
    this.notifyChange(from, to, before);
  }

  /** Servers in different groups cannot reach each other; servers in no group are isolated. */
  partition(groups: string[][]): void {
    const groupOf = new Map<string, number>();
    groups.forEach((g, i) => {
      for (const s of g) groupOf.set(s, i);
    });
    const names = [...this.nodes.keys()];
    for (const a of names) {
      for (const b of names) {
        if (a === b) continue;
        const ga = groupOf.get(a);
        const gb = groupOf.get(b);
        const shouldCut = ga === undefined || gb === undefined || ga !== gb;
        if (shouldCut) this.cut(a, b, true);
        else this.heal(a, b, true);
      }
    }
  }

  healAll(): void {
    const pairs = [...this.cuts].map((k) => k.split('\u0000') as [string, string]);
    for (const [a, b] of pairs) this.heal(a, b, true);
  }

  setLatency(from: string, to: string, ms: number): void {
    this.latency.set(`${from}\u0000${to}`, ms);
  }

  serverNames(): string[] {
    return [...this.nodes.keys()];
  }

  private linkState(a: string, b: string): [boolean, boolean] {
    return [this.canReach(a, b), this.canReach(b, a)];
  }

  /** Tells both ends when a link comes up or goes down (what a connection event would do). */
  private notifyChange(a: string, b: string, before: [boolean, boolean]): void {
    const after = this.linkState(a, b);
    const wasUp = before[0] && before[1];
    const isUp = after[0] && after[1];
    if (wasUp === isUp) return;
    for (const [self, other] of [
      [a, b],
      [b, a],
    ] as const) {
      const ev = this.nodes.get(self)?.events;
      queueMicrotask(() => (isUp ? ev?.onPeerUp?.(other) : ev?.onPeerDown?.(other)));
    }
  }

  /** @internal */
  nodeStarted(node: Node): void {
    node.running = true;
    for (const other of this.nodes.values()) {
      if (other !== node && this.canReach(node.name, other.name) && this.canReach(other.name, node.name)) {
        const ev = other.events;
        const mine = node.events;
        queueMicrotask(() => {
          ev?.onPeerUp?.(node.name);
          mine?.onPeerUp?.(other.name);
        });
      }
    }
  }

  /** @internal */
  nodeStopped(node: Node): void {
    const peers = [...this.nodes.values()].filter((o) => o !== node && this.canReach(o.name, node.name));
    node.running = false;
    for (const other of peers) queueMicrotask(() => other.events?.onPeerDown?.(node.name));
  }

  private count(from: string, kind: 'request' | 'broadcast', bytes: number): void {
    let s = this.stats.get(from);
    if (!s) {
      s = { requests: 0, requestBytes: 0, broadcasts: 0, broadcastBytes: 0 };
      this.stats.set(from, s);
    }
    if (kind === 'request') {
      s.requests++;
      s.requestBytes += bytes;
    } else {
      s.broadcasts++;
      s.broadcastBytes += bytes;
    }
  }

  /** @internal */
  async deliver(from: string, to: string, request: FederationRequest): Promise<FederationResponse> {
    if (!this.canReach(from, to)) throw new UnreachableError(to);
    const wire = JSON.stringify(request);
    this.count(from, 'request', wire.length);
    await this.delay(from, to);
    const target = this.nodes.get(to);
    if (!target?.handler || !this.canReach(from, to)) throw new UnreachableError(to);
    const response = await target.handler(from, JSON.parse(wire) as FederationRequest);
    // The reply travels back over the same link: a cut in between loses it.
    if (!this.canReach(to, from)) throw new UnreachableError(to, `${to} answered but the reply was lost`);
    return JSON.parse(JSON.stringify(response)) as FederationResponse;
  }

  /** @internal */
  fanout(from: string, message: RoomBroadcast): void {
    const wire = JSON.stringify(message);
    for (const node of this.nodes.values()) {
      if (node.name === from || !node.rooms.has(message.room_id) || !this.canReach(from, node.name)) continue;
      this.count(from, 'broadcast', wire.length);
      void this.delay(from, node.name).then(() => {
        if (this.canReach(from, node.name)) node.events?.onBroadcast?.(from, JSON.parse(wire) as RoomBroadcast);
      });
    }
  }

  private delay(from: string, to: string): Promise<void> {
    const ms = this.latency.get(`${from}\u0000${to}`) ?? 0;
    return ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
  }
}

class InProcessTransport implements Transport {
  constructor(
    private readonly network: InProcessNetwork,
    private readonly node: Node,
  ) {}

  get serverName(): string {
    return this.node.name;
  }

  async start(handler: RequestHandler, events: TransportEvents): Promise<void> {
    this.node.handler = handler;
    this.node.events = events;
    this.network.nodeStarted(this.node);
  }

  request(destination: string, request: FederationRequest): Promise<FederationResponse> {
    if (!this.node.running) return Promise.reject(new UnreachableError(destination, 'this server is stopped'));
    return this.network.deliver(this.node.name, destination, request);
  }

  subscribe(roomId: string): void {
    this.node.rooms.add(roomId);
  }

  unsubscribe(roomId: string): void {
    this.node.rooms.delete(roomId);
  }

  broadcast(message: RoomBroadcast): void {
    if (this.node.running) this.network.fanout(this.node.name, message);
  }

  reachablePeers(): string[] {
    return this.network
      .serverNames()
      .filter((n) => this.network.canReach(this.node.name, n) && this.network.canReach(n, this.node.name));
  }

  async stop(): Promise<void> {
    this.network.nodeStopped(this.node);
    this.node.handler = undefined as unknown as RequestHandler;
  }
}

/**
 * An in-process network of servers, for tests and the simulator: every
 * server is a node; links between nodes can be cut in one or both
 * directions (partitions) and healed; a node can be stopped abruptly (crash)
 * and started again. Requests are delivered asynchronously with an optional
 * per-link latency, and payloads are deep-copied so no server ever shares an
 * object with another (as on a real wire).
 *
 * For the simulator's fault injection a directed link can also carry jitter,
 * loss (a dropped request surfaces as UnreachableError, a dropped broadcast
 * is simply not delivered) and a bandwidth cap (delay proportional to the
 * bytes); and a node can be paused (a frozen tab: deliveries to and from it
 * wait until it resumes). Randomness comes from an injectable source so a
 * seeded run draws the same losses in the same order.
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
  /** Requests / broadcast deliveries this server sent that the link dropped (loss). */
  requestsLost?: number;
  broadcastsLost?: number;
}

/** Properties of one directed link (all optional; absent = perfect). */
export interface LinkProps {
  latencyMs?: number;
  /** Uniform extra delay in [0, jitterMs). */
  jitterMs?: number;
  /** Probability in [0, 1] that a request or broadcast is dropped. */
  loss?: number;
  /** Adds bytes * 8 / bandwidthKbps ms per message. */
  bandwidthKbps?: number;
}

export interface InProcessNetworkOptions {
  /** Uniform [0, 1) source for loss and jitter; seed it for reproducible runs. */
  random?: () => number;
}

export class InProcessNetwork {
  private readonly nodes = new Map<string, Node>();
  /** Directed cuts: "from\u0000to" present = from cannot reach to. */
  private readonly cuts = new Set<string>();
  private readonly links = new Map<string, LinkProps>();
  /** Paused nodes -> a promise resolved when they resume. */
  private readonly paused = new Map<string, { resumed: Promise<void>; resume: () => void }>();
  private readonly random: () => number;
  readonly stats = new Map<string, LinkStats>();

  constructor(opts: InProcessNetworkOptions = {}) {
    // Not Math.random by default: loss and jitter are only drawn when a link sets them, and a
    // fixed-seed source keeps even unseeded runs repeatable in what they draw.
    this.random = opts.random ?? lcg(0x5eed);
  }

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
    // Asked per delivery and per broadcast recipient: build the cut's key only when there are cuts.
    return !!a?.running && !!b?.running && from !== to && (this.cuts.size === 0 || !this.cuts.has(`${from}\u0000${to}`));
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
    this.setLink(from, to, { ...this.link(from, to), latencyMs: ms });
  }

  /** Sets (replaces) the properties of the directed link from→to; `{}` makes it perfect again. */
  setLink(from: string, to: string, props: LinkProps): void {
    const clean = Object.fromEntries(Object.entries(props).filter(([, v]) => v !== undefined && v !== 0)) as LinkProps;
    if (Object.keys(clean).length === 0) this.links.delete(`${from}\u0000${to}`);
    else this.links.set(`${from}\u0000${to}`, clean);
  }

  link(from: string, to: string): LinkProps {
    return { ...(this.links.get(`${from}\u0000${to}`) ?? {}) };
  }

  /** Removes every link property (latency, loss, ...); cuts are untouched. */
  resetLinks(): void {
    this.links.clear();
  }

  /**
   * Freezes a node: requests and broadcasts to it wait (they are not lost),
   * and so do the ones it sends, until `resume`. Its own timers are the
   * caller's business (the simulator pauses the server's clock too).
   */
  pause(serverName: string): void {
    if (this.paused.has(serverName)) return;
    let resume!: () => void;
    const resumed = new Promise<void>((r) => {
      resume = r;
    });
    this.paused.set(serverName, { resumed, resume });
  }

  resume(serverName: string): void {
    const p = this.paused.get(serverName);
    if (!p) return;
    this.paused.delete(serverName);
    p.resume();
  }

  isPaused(serverName: string): boolean {
    return this.paused.has(serverName);
  }

  /**
   * A stalled node receives requests and never answers them (a hostile or
   * wedged peer): the requester's call fails only at its timeout, as over a
   * real wire — `timeoutMs`, the transport's default request timeout
   * (libp2p's is about 30 s). Everything else about the node (its own
   * requests, broadcasts, its handler) goes on. `unstall` fails the waiting
   * calls at once.
   */
  stall(serverName: string, timeoutMs = 30_000): void {
    if (!this.stalled.has(serverName)) this.stalled.set(serverName, { timeoutMs, waiting: new Set() });
  }

  unstall(serverName: string): void {
    const s = this.stalled.get(serverName);
    if (!s) return;
    this.stalled.delete(serverName);
    for (const fail of s.waiting) fail();
  }

  /**
   * Answers requests to `serverName` with `answer` instead of its handler
   * whenever `answer` returns a response (a peer that lies: tests); undefined
   * removes it.
   */
  answerFor(serverName: string, answer: ((from: string, request: FederationRequest) => FederationResponse | undefined) | undefined): void {
    if (answer) this.answers.set(serverName, answer);
    else this.answers.delete(serverName);
  }

  private readonly answers = new Map<string, (from: string, request: FederationRequest) => FederationResponse | undefined>();

  /** Stalled nodes -> the request timeout and the calls waiting for an answer that will not come. */
  private readonly stalled = new Map<string, { timeoutMs: number; waiting: Set<() => void> }>();

  private hang(to: string, stalled: { timeoutMs: number; waiting: Set<() => void> }): Promise<never> {
    return new Promise<never>((_resolve, reject) => {
      const fail = () => {
        clearTimeout(timer);
        stalled.waiting.delete(fail);
        reject(new UnreachableError(to, `${to} did not answer within ${stalled.timeoutMs} ms`));
      };
      const timer = setTimeout(fail, stalled.timeoutMs);
      stalled.waiting.add(fail);
    });
  }

  /**
   * Moves every cut and link property of `from` onto `to` (a wiped server
   * comes back under a new name but in the same place in the network).
   */
  transferLinks(from: string, to: string): void {
    const rename = (k: string) =>
      k
        .split('\u0000')
        .map((n) => (n === from ? to : n))
        .join('\u0000');
    for (const k of [...this.cuts]) {
      if (!k.split('\u0000').includes(from)) continue;
      this.cuts.delete(k);
      this.cuts.add(rename(k));
    }
    for (const [k, v] of [...this.links]) {
      if (!k.split('\u0000').includes(from)) continue;
      this.links.delete(k);
      this.links.set(rename(k), v);
    }
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

  private count(from: string, kind: 'request' | 'broadcast' | 'requestLost' | 'broadcastLost', bytes: number): void {
    let s = this.stats.get(from);
    if (!s) {
      s = { requests: 0, requestBytes: 0, broadcasts: 0, broadcastBytes: 0 };
      this.stats.set(from, s);
    }
    if (kind === 'requestLost') s.requestsLost = (s.requestsLost ?? 0) + 1;
    else if (kind === 'broadcastLost') s.broadcastsLost = (s.broadcastsLost ?? 0) + 1;
    else if (kind === 'request') {
      s.requests++;
      s.requestBytes += bytes;
    } else {
      s.broadcasts++;
      s.broadcastBytes += bytes;
    }
  }

  /** @internal */
  async deliver(from: string, to: string, request: FederationRequest): Promise<FederationResponse> {
    await this.whileRunning(from);
    if (!this.canReach(from, to)) throw new UnreachableError(to);
    const wire = JSON.stringify(request);
    this.count(from, 'request', wire.length);
    if (this.lost(from, to)) {
      this.count(from, 'requestLost', wire.length);
      // A lost request looks like a timeout to the sender; a short wait keeps retry loops honest.
      await this.delay(from, to, wire.length);
      throw new UnreachableError(to, `the request to ${to} was lost`);
    }
    await this.delay(from, to, wire.length);
    await this.whileRunning(to);
    const target = this.nodes.get(to);
    if (!target?.handler || !this.canReach(from, to)) throw new UnreachableError(to);
    const stalled = this.stalled.get(to);
    if (stalled) return this.hang(to, stalled);
    const response =
      this.answers.get(to)?.(from, JSON.parse(wire) as FederationRequest) ?? (await target.handler(from, JSON.parse(wire) as FederationRequest));
    const reply = JSON.stringify(response);
    await this.delay(to, from, reply.length, true);
    // The reply travels back over the same link: a cut in between loses it.
    if (!this.canReach(to, from)) throw new UnreachableError(to, `${to} answered but the reply was lost`);
    return JSON.parse(reply) as FederationResponse;
  }

  /** @internal */
  /** Delivers to every subscriber `from` can reach; returns those not lost on the way out. */
  fanout(from: string, message: RoomBroadcast): string[] {
    const wire = JSON.stringify(message);
    const sent: string[] = [];
    for (const node of this.nodes.values()) {
      if (node.name === from || !node.rooms.has(message.room_id) || !this.canReach(from, node.name)) continue;
      this.count(from, 'broadcast', wire.length);
      if (this.lost(from, node.name)) {
        this.count(from, 'broadcastLost', wire.length);
        continue;
      }
      sent.push(node.name);
      void this.whileRunning(from)
        .then(() => this.delay(from, node.name, wire.length))
        .then(() => this.whileRunning(node.name))
        .then(() => {
          if (this.canReach(from, node.name)) node.events?.onBroadcast?.(from, JSON.parse(wire) as RoomBroadcast);
        });
    }
    return sent;
  }

  /** Resolves at once, or when a paused node resumes. */
  private whileRunning(name: string): Promise<void> {
    return this.paused.get(name)?.resumed ?? Promise.resolve();
  }

  private lost(from: string, to: string): boolean {
    const loss = this.links.get(`${from}\u0000${to}`)?.loss ?? 0;
    return loss > 0 && this.random() < loss;
  }

  /** Latency + jitter + transmission time of `bytes` on the directed link from→to. */
  private delay(from: string, to: string, bytes: number, reply = false): Promise<void> {
    const l = this.links.get(`${from}\u0000${to}`);
    if (!l) return Promise.resolve();
    // A reply pays only the transmission time: the link's latency is charged once per round trip.
    let ms = reply ? 0 : (l.latencyMs ?? 0);
    if (!reply && l.jitterMs) ms += this.random() * l.jitterMs;
    if (l.bandwidthKbps) ms += (bytes * 8) / l.bandwidthKbps;
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

  broadcast(message: RoomBroadcast): readonly string[] {
    return this.node.running ? this.network.fanout(this.node.name, message) : [];
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

/** A small deterministic [0, 1) generator (the default source when none is injected). */
function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 2 ** 32;
  };
}

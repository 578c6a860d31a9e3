/**
 * The simulator's checker: invariants over per-server snapshots of each
 * room, taken after a run. Pure — it sees only the snapshots, never a
 * server — so it can be tested on hand-made (deliberately broken) histories.
 *
 * Invariants, per room:
 * - convergence: every live server with a joined user holds the same
 *   accepted event set (accepted + soft-failed) and the same resolved state;
 * - no accepted event lost: every event that a surviving server accepted at
 *   any time during the run (`mustSurvive`) is in the accepted set of every
 *   live joined server at the end;
 * - causal order: in every server's timeline, an event never comes before
 *   one of its prev_events (when both are shown);
 * - auth: no accepted event was sent by a user who is banned in the state
 *   before that event.
 */

export interface EventNode {
  eventId: string;
  prevEvents: string[];
  depth: number;
  /** accepted, soft_failed, rejected, outlier… */
  status: string;
  sender: string;
  type: string;
  stateKey?: string;
}

export interface ServerRoomSnapshot {
  /** Server label. */
  server: string;
  /** Running at the end of the run. */
  live: boolean;
  /** One of the scenario's users on it is joined, as this server sees the room. */
  joined: boolean;
  /** Accepted and soft-failed event IDs: the replicated set. */
  accepted: string[];
  /** Every event placed in this server's DAG. */
  dag: EventNode[];
  /** Resolved current state: "type\u0000state_key" -> event ID. */
  state: Record<string, string>;
  /** Event IDs in the order the server shows them. */
  timeline: string[];
  /**
   * For each accepted event, the sender's membership in the state before it
   * (membership history, as the runner reconstructs it); absent = unknown.
   */
  senderMembershipBefore: Record<string, string>;
}

export interface RoomSnapshot {
  /** Room label. */
  room: string;
  servers: ServerRoomSnapshot[];
  /** Events accepted during the run by a server that is still live (recorded as they were accepted). */
  mustSurvive: string[];
}

export type Invariant = 'convergence' | 'lost_event' | 'causal_order' | 'auth';

export interface Violation {
  invariant: Invariant;
  room: string;
  server?: string;
  detail: string;
}

/** What differs, for the report: per server, what it lacks or has extra, and the state keys in dispute. */
export interface Divergence {
  room: string;
  servers: Record<string, { events: number; missing: string[]; extra: string[] }>;
  /** state key -> server label -> event ID (or null when absent). */
  state: Record<string, Record<string, string | null>>;
}

export interface CheckResult {
  ok: boolean;
  violations: Violation[];
  divergence: Divergence[];
}

const LIST = 5;
const short = (ids: readonly string[]): string => (ids.length <= LIST ? ids.join(', ') : `${ids.slice(0, LIST).join(', ')} and ${ids.length - LIST} more`);

export function check(rooms: readonly RoomSnapshot[]): CheckResult {
  const violations: Violation[] = [];
  const divergence: Divergence[] = [];
  for (const room of rooms) {
    const peers = room.servers.filter((s) => s.live && s.joined);
    const d = checkConvergence(room.room, peers, violations);
    if (d) divergence.push(d);
    checkLost(room, peers, violations);
    for (const s of room.servers.filter((x) => x.live)) {
      checkCausal(room.room, s, violations);
      checkAuth(room.room, s, violations);
    }
  }
  return { ok: violations.length === 0, violations, divergence };
}

function checkConvergence(room: string, peers: readonly ServerRoomSnapshot[], out: Violation[]): Divergence | undefined {
  if (peers.length < 2) return undefined;
  const union = new Set(peers.flatMap((s) => s.accepted));
  const sets = peers.map((s) => new Set(s.accepted));
  const keys = new Set(peers.flatMap((s) => Object.keys(s.state)));
  const disputed = [...keys].filter((k) => new Set(peers.map((s) => s.state[k] ?? null)).size > 1).sort();
  const differentSets = sets.some((s) => s.size !== union.size);
  if (!differentSets && disputed.length === 0) return undefined;
  const d: Divergence = { room, servers: {}, state: {} };
  peers.forEach((s, i) => {
    const missing = [...union].filter((id) => !sets[i]!.has(id)).sort();
    d.servers[s.server] = { events: s.accepted.length, missing, extra: [] };
  });
  // "extra": held by this server but not by every other one — the other side of a missing.
  peers.forEach((s, i) => {
    d.servers[s.server]!.extra = s.accepted.filter((id) => sets.some((o, j) => j !== i && !o.has(id))).sort();
  });
  for (const k of disputed) {
    d.state[k.replace('\u0000', '|')] = Object.fromEntries(peers.map((s) => [s.server, s.state[k] ?? null]));
  }
  const parts: string[] = [];
  if (differentSets) {
    parts.push(
      `accepted sets differ (${peers.map((s) => `${s.server}: ${s.accepted.length}`).join(', ')}; ` +
        peers
          .filter((s) => d.servers[s.server]!.missing.length > 0)
          .map((s) => `${s.server} lacks ${short(d.servers[s.server]!.missing)}`)
          .join('; ') +
        ')',
    );
  }
  if (disputed.length > 0) parts.push(`resolved state differs at ${short(disputed.map((k) => k.replace('\u0000', '|')))}`);
  out.push({ invariant: 'convergence', room, detail: parts.join('; ') });
  return d;
}

function checkLost(room: RoomSnapshot, peers: readonly ServerRoomSnapshot[], out: Violation[]): void {
  for (const s of peers) {
    const have = new Set(s.accepted);
    const lost = room.mustSurvive.filter((id) => !have.has(id));
    if (lost.length > 0) {
      out.push({
        invariant: 'lost_event',
        room: room.room,
        server: s.server,
        detail: `${lost.length} event(s) accepted during the run are not accepted here at the end: ${short(lost)}`,
      });
    }
  }
}

function checkCausal(room: string, s: ServerRoomSnapshot, out: Violation[]): void {
  const prevs = new Map(s.dag.map((n) => [n.eventId, n.prevEvents]));
  const pos = new Map(s.timeline.map((id, i) => [id, i]));
  for (const [i, id] of s.timeline.entries()) {
    for (const p of prevs.get(id) ?? []) {
      const j = pos.get(p);
      if (j !== undefined && j > i) {
        out.push({ invariant: 'causal_order', room, server: s.server, detail: `${id} is shown at ${i}, before its prev_event ${p} (at ${j})` });
        return; // one per server is enough to fail; the rest is usually the same inversion
      }
    }
  }
}

function checkAuth(room: string, s: ServerRoomSnapshot, out: Violation[]): void {
  const accepted = new Set(s.accepted);
  for (const n of s.dag) {
    if (!accepted.has(n.eventId)) continue;
    if (s.senderMembershipBefore[n.eventId] === 'ban') {
      out.push({
        invariant: 'auth',
        room,
        server: s.server,
        detail: `${n.eventId} (${n.type}) from ${n.sender} is accepted although ${n.sender} is banned in the state before it`,
      });
    }
  }
}

/** Forward extremities of a DAG snapshot: accepted-or-soft-failed events no placed event points to. */
export function dagWidth(dag: readonly EventNode[]): number {
  const referenced = new Set<string>();
  for (const n of dag) for (const p of n.prevEvents) referenced.add(p);
  return dag.filter((n) => (n.status === 'accepted' || n.status === 'soft_failed') && !referenced.has(n.eventId)).length;
}

/**
 * Room state at every event, stored as state groups: a group is a delta on
 * top of a parent group, and a full snapshot every SNAPSHOT_EVERY deltas so
 * that reading a state never walks a long chain. Plain messages share their
 * parent's group, so a long conversation costs no state storage at all.
 */
import type { StateKey } from '../core/pdu.ts';
import type { StateGroupRecord } from './store/types.ts';

export type StateMap = ReadonlyMap<StateKey, string>;

/** A deleted key in a delta (state resolution can drop a key that a parent had). */
const DELETED = '';
const SNAPSHOT_EVERY = 32;
const CACHE_LIMIT = 256;

export class StateGroups {
  private readonly records = new Map<number, StateGroupRecord>();
  /** Full maps of recently read groups (LRU by insertion order). */
  private readonly cache = new Map<number, StateMap>();

  constructor(
    private readonly roomId: string,
    private readonly allocateId: () => number,
  ) {}

  load(records: readonly StateGroupRecord[]): void {
    for (const r of records) this.records.set(r.id, r);
  }

  has(id: number): boolean {
    return this.records.has(id);
  }

  get(id: number): StateMap {
    const hit = this.cache.get(id);
    if (hit) {
      this.cache.delete(id);
      this.cache.set(id, hit);
      return hit;
    }
    const chain: StateGroupRecord[] = [];
    let cur = this.records.get(id);
    while (cur) {
      chain.push(cur);
      const cached = cur.prev === undefined ? undefined : this.cache.get(cur.prev);
      if (cached) {
        chain.push({ id: -1, room_id: this.roomId, delta: Object.fromEntries(cached), chain: 0 });
        break;
      }
      cur = cur.prev === undefined ? undefined : this.records.get(cur.prev);
    }
    if (chain.length === 0) throw new Error(`state group ${id} of ${this.roomId} is unknown`);
    const map = new Map<StateKey, string>();
    for (let i = chain.length - 1; i >= 0; i--) {
      for (const [k, v] of Object.entries(chain[i]!.delta)) {
        if (v === DELETED) map.delete(k);
        else map.set(k, v);
      }
    }
    this.remember(id, map);
    return map;
  }

  private remember(id: number, map: StateMap): void {
    this.cache.set(id, map);
    if (this.cache.size > CACHE_LIMIT) this.cache.delete(this.cache.keys().next().value!);
  }

  /** A new group holding `state`, stored as a delta on `base` when that is cheaper. */
  create(state: StateMap, base?: number): StateGroupRecord {
    const id = this.allocateId();
    let record: StateGroupRecord;
    const parent = base === undefined ? undefined : this.records.get(base);
    if (parent && parent.chain < SNAPSHOT_EVERY) {
      const baseMap = this.get(parent.id);
      const delta: Record<string, string> = {};
      for (const [k, v] of state) if (baseMap.get(k) !== v) delta[k] = v;
      for (const k of baseMap.keys()) if (!state.has(k)) delta[k] = DELETED;
      record = { id, room_id: this.roomId, prev: parent.id, delta, chain: parent.chain + 1 };
    } else {
      record = { id, room_id: this.roomId, delta: Object.fromEntries(state), chain: 0 };
    }
    this.records.set(id, record);
    this.remember(id, new Map(state));
    return record;
  }

  /** `base` plus one entry: the common case of a state event on top of its state before. */
  createWith(base: number, key: StateKey, eventId: string): StateGroupRecord {
    const next = new Map(this.get(base));
    next.set(key, eventId);
    return this.create(next, base);
  }
}

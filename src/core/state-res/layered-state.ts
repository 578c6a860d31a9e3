/**
 * An immutable room state that shares structure with the state it was
 * derived from, for computing the state at every event of a long DAG: a
 * linear run of N state events would otherwise copy the whole state N times.
 * A state is a shared base map plus a small overlay of newer entries; once
 * the overlay outgrows about √(base size) entries it is folded into a new
 * base, so each step costs O(√size) amortised and lookups stay O(1).
 */
import type { StateKey } from '../pdu.ts';

const EMPTY: ReadonlyMap<StateKey, string> = new Map();

export class LayeredState {
  static readonly empty = new LayeredState(EMPTY, EMPTY, 0);

  private constructor(
    private readonly base: ReadonlyMap<StateKey, string>,
    private readonly overlay: ReadonlyMap<StateKey, string>,
    readonly size: number,
  ) {}

  /** Takes ownership of `map`: the caller must not mutate it afterwards. */
  static adopt(map: ReadonlyMap<StateKey, string>): LayeredState {
    return new LayeredState(map, EMPTY, map.size);
  }

  get(key: StateKey): string | undefined {
    return this.overlay.get(key) ?? this.base.get(key);
  }

  with(key: StateKey, id: string): LayeredState {
    const old = this.get(key);
    if (old === id) return this;
    const size = old === undefined ? this.size + 1 : this.size;
    if (this.overlay.size >= Math.max(16, Math.sqrt(this.base.size))) {
      const base = this.toMap();
      base.set(key, id);
      return new LayeredState(base, EMPTY, size);
    }
    const overlay = new Map(this.overlay);
    overlay.set(key, id);
    return new LayeredState(this.base, overlay, size);
  }

  /** A fresh, caller-owned copy. */
  toMap(): Map<StateKey, string> {
    const out = new Map(this.base);
    for (const [k, v] of this.overlay) out.set(k, v);
    return out;
  }

  /**
   * A read-only Map view for APIs that take one, shared when the overlay is
   * empty (resolution results and folded states) so no copy is made.
   */
  asMap(): ReadonlyMap<StateKey, string> {
    return this.overlay.size === 0 ? this.base : this.toMap();
  }
}

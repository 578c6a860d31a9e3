/**
 * A binary min-heap. State resolution v2 needs one for Kahn's algorithm in the
 * *reverse topological power ordering* ("at each step selecting, among all the
 * candidate vertices, the smallest vertex"), and the auth-difference walk uses
 * one to visit events in descending depth order. A sorted array would make
 * both quadratic on large conflicted sets.
 */
export class BinaryHeap<T> {
  private readonly items: T[] = [];

  /** `less(a, b)` is true when `a` must be popped before `b`. */
  constructor(private readonly less: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  push(item: T): void {
    const items = this.items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent] as T;
      if (!this.less(item, p)) break;
      items[i] = p;
      i = parent;
    }
    items[i] = item;
  }

  pop(): T | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length === 0 || last === undefined) return top;
    // Sift the former last element down from the root.
    const n = items.length;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n && this.less(items[r] as T, items[l] as T)) c = r;
      const child = items[c] as T;
      if (!this.less(child, last)) break;
      items[i] = child;
      i = c;
    }
    items[i] = last;
    return top;
  }
}

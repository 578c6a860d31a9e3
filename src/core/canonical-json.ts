/**
 * Canonical JSON (spec appendix "Canonical JSON"): the shortest UTF-8 JSON
 * encoding, object keys sorted by Unicode code point, integers only in
 * [-(2^53)+1, 2^53-1], no exponents, no decimal points, no `-0`.
 *
 * Numbers that JSON.parse produced from `1e10` or `-0` are integers and are
 * written as `10000000000` and `0`. Non-integral numbers and integers outside
 * the range have no canonical form and are refused with the path to them.
 */
import { CanonicalJsonError } from './errors.ts';
import type { JsonValue } from './json.ts';

const MAX_SAFE = Number.MAX_SAFE_INTEGER; // 2^53 - 1

/**
 * Compares two strings by Unicode code point. JavaScript's default `<` compares
 * UTF-16 code units, which misorders astral characters (surrogates 0xD800..0xDFFF)
 * against BMP characters 0xE000..0xFFFF; remapping the unit fixes exactly that.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return remapUnit(x) - remapUnit(y);
  }
  return a.length - b.length;
}

function remapUnit(u: number): number {
  if (u >= 0xd800 && u <= 0xdfff) return u + 0x2000;
  if (u >= 0xe000) return u - 0x800;
  return u;
}

/** Serialises a JSON value to its canonical JSON text. Throws CanonicalJsonError. */
export function canonicalJson(value: unknown): string {
  // Fast path: the engine's own JSON.stringify over a view in canonical key
  // order is ~4x faster than the writer below (one native buffer instead of
  // a string per member) and gives the same text whenever the view exists.
  const view = canonicalView(value);
  if (view !== SLOW) return JSON.stringify(view);
  try {
    return write(value);
  } catch (err) {
    if (err instanceof PathError) throw new CanonicalJsonError(err.message, err.path || '$');
    throw err;
  }
}

/** The careful writer alone (no fast path): for differential tests of the fast path. */
export function canonicalJsonCareful(value: unknown): string {
  try {
    return write(value);
  } catch (err) {
    if (err instanceof PathError) throw new CanonicalJsonError(err.message, err.path || '$');
    throw err;
  }
}

/** Internal: carries the path outwards as the recursion unwinds (no path strings on the hot path). */
class PathError extends Error {
  constructor(
    message: string,
    public path: string,
  ) {
    super(message);
  }
}

function within(err: unknown, segment: string): never {
  if (err instanceof PathError) {
    err.path = segment + err.path;
    throw err;
  }
  throw err;
}

/** Whether a key contains a UTF-16 unit where code-unit order and code-point order differ. */
const NEEDS_CODEPOINT_SORT = /[\ud800-\uffff]/;

function sortedKeys(obj: object): string[] {
  const keys = Object.keys(obj);
  // Default sort compares UTF-16 code units, which equals code-point order
  // unless a key holds a surrogate or a unit >= U+E000 (rare): check, then fix.
  keys.sort();
  for (const k of keys) {
    if (NEEDS_CODEPOINT_SORT.test(k)) return keys.sort(compareCodePoints);
  }
  return keys;
}

const SLOW: unique symbol = Symbol('slow');

/** Keys JSON.stringify would not emit in insertion order (V8 puts array-index keys first). */
const INDEX_LIKE = /^[0-9]/;

/**
 * `value` itself when it is canonical-ready (plain JSON, integers in range,
 * keys in code-point order), else a copy with its objects' keys inserted in
 * that order, or SLOW when JSON.stringify could not produce the canonical
 * text: a number without a canonical form, undefined in an array, a
 * non-JSON value, a key starting with a digit (enumerated first whatever its
 * place) or a key whose code units sort differently from its code points.
 * The careful writer handles (and reports) those.
 */
function canonicalView(value: unknown): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isInteger(value) && value <= MAX_SAFE && value >= -MAX_SAFE ? value : SLOW;
    case 'object': {
      if (value === null) return value;
      if (Array.isArray(value)) {
        let copy: unknown[] | undefined;
        for (let i = 0; i < value.length; i++) {
          const v: unknown = value[i];
          if (v === undefined) return SLOW;
          const view = canonicalView(v);
          if (view === SLOW) return SLOW;
          if (view !== v && !copy) copy = value.slice(0, i);
          if (copy) copy.push(view);
        }
        return copy ?? value;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return SLOW;
      const keys = Object.keys(value);
      let inOrder = true;
      let changed = false;
      const views: unknown[] = new Array(keys.length);
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i]!;
        if (INDEX_LIKE.test(k) || NEEDS_CODEPOINT_SORT.test(k)) return SLOW;
        if (i > 0 && keys[i - 1]! > k) inOrder = false;
        const v = (value as Record<string, unknown>)[k];
        if (v === undefined) {
          views[i] = v; // omitted by JSON.stringify, as by the writer
          continue;
        }
        const view = canonicalView(v);
        if (view === SLOW) return SLOW;
        if (view !== v) changed = true;
        views[i] = view;
      }
      if (inOrder && !changed) return value;
      const order = keys.map((_, i) => i);
      if (!inOrder) order.sort((a, b) => (keys[a]! < keys[b]! ? -1 : 1));
      // A null-prototype object: a "__proto__" key stays an ordinary member.
      const out = Object.create(null) as Record<string, unknown>;
      for (const i of order) out[keys[i]!] = views[i];
      return out;
    }
    default:
      return SLOW;
  }
}

// Paths are only built when an error is reported, so the hot path stays cheap.
function write(value: unknown): string {
  switch (typeof value) {
    case 'string':
      // JSON.stringify escapes exactly what the grammar requires: `"`, `\`,
      // \b \t \n \f \r, other C0 controls as lowercase \u00XX, and leaves every
      // other code point as-is (lone surrogates become \udXXX escapes).
      return JSON.stringify(value);
    case 'number':
      return canonicalNumber(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ',';
          try {
            out += write(value[i]);
          } catch (err) {
            within(err, `[${i}]`);
          }
        }
        return `${out}]`;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        throw new PathError('not a plain JSON object', '');
      }
      let out = '{';
      let first = true;
      for (const key of sortedKeys(value)) {
        const v = (value as Record<string, unknown>)[key];
        if (v === undefined) continue; // as JSON.stringify: undefined members are absent
        if (!first) out += ',';
        first = false;
        try {
          out += `${JSON.stringify(key)}:${write(v)}`;
        } catch (err) {
          within(err, `.${key}`);
        }
      }
      return `${out}}`;
    }
    default:
      throw new PathError(`${typeof value} is not a JSON value`, '');
  }
}

function canonicalNumber(n: number): string {
  if (!Number.isFinite(n)) throw new PathError(`non-finite number ${n}`, '');
  if (!Number.isInteger(n)) throw new PathError(`non-integral number ${n} is not allowed in canonical JSON`, '');
  if (n > MAX_SAFE || n < -MAX_SAFE) {
    throw new PathError(`integer ${n} is outside the canonical JSON range [-(2^53)+1, 2^53-1]`, '');
  }
  // `-0` is an integer equal to 0; String(-0) is "0", which is what the spec wants.
  return String(n);
}

/** Parses JSON text, with a CanonicalJsonError-style message on syntax errors. */
export function parseJson(text: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch (err) {
    throw new CanonicalJsonError(`input is not valid JSON (${(err as Error).message})`, '');
  }
}

const encoder = new TextEncoder();

/** Canonical JSON as UTF-8 bytes: what gets hashed and signed. */
export function canonicalJsonBytes(value: unknown): Uint8Array {
  return encoder.encode(canonicalJson(value));
}

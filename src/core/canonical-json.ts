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
  return canonicalJsonFast(value) ?? canonicalJsonReference(value);
}

/**
 * The writer that builds the text itself: every case, and the error with its
 * path. Exported for the differential test of the fast path.
 */
export function canonicalJsonReference(value: unknown): string {
  try {
    return write(value);
  } catch (err) {
    if (err instanceof PathError) throw new CanonicalJsonError(err.message, err.path || '$');
    throw err;
  }
}

/**
 * The common case without building the text in JavaScript: when every
 * object's keys are already in code-point order (events this server builds,
 * and so events that arrive from other Hearth servers, whose JSON keeps the
 * order) and every value has a canonical form, JSON.stringify writes exactly
 * the canonical bytes — strings and keys escaped by the same JSON.stringify
 * `write` uses. One walk checks it; 5.3 -> 3.4 us per canonicalisation on real
 * PDUs, and far less garbage (ingest canonicalises every event twice).
 *
 * Returns undefined whenever `write` must decide: keys out of order
 * (integer-like keys enumerate first, numerically, so they count as out of
 * order unless that is also their code-point order), an `undefined` member or
 * array element, a non-integral or unsafe number, a non-plain object, a
 * non-JSON type — `write` gives the output, or the error with its path.
 */
export function canonicalJsonFast(value: unknown): string | undefined {
  return alreadyCanonical(value) ? JSON.stringify(value) : undefined;
}

/**
 * A deep copy whose object keys are in canonical order, for events this server
 * builds (so every server that canonicalises them takes the fast path). Values
 * without a canonical form are copied as they are: canonicalJson refuses them.
 */
export function sortedDeep(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map(sortedDeep);
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  const obj = value as Record<string, unknown>;
  // fromEntries defines own properties, so a "__proto__" key stays a key.
  return Object.fromEntries(sortedKeys(obj).map((k) => [k, sortedDeep(obj[k])]));
}

function alreadyCanonical(value: unknown): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isSafeInteger(value);
    case 'object': {
      if (value === null) return true;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          const v: unknown = value[i];
          if (v === undefined || !alreadyCanonical(v)) return false;
        }
        return true;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return false;
      let prev: string | undefined;
      for (const key in value) {
        if (prev !== undefined && compareCodePoints(prev, key) >= 0) return false;
        const v = (value as Record<string, unknown>)[key];
        if (v === undefined || !alreadyCanonical(v)) return false;
        prev = key;
      }
      return true;
    }
    default:
      return false;
  }
}

function sortKeyList(keys: string[]): string[] {
  // Default sort compares UTF-16 code units, which equals code-point order
  // unless a key holds a surrogate or a unit >= U+E000 (rare): check, then fix.
  keys.sort();
  for (const k of keys) {
    if (NEEDS_CODEPOINT_SORT.test(k)) return keys.sort(compareCodePoints);
  }
  return keys;
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
  return sortKeyList(Object.keys(obj));
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

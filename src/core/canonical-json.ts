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
import { type JsonValue, isJsonObject } from './json.ts';

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
  const out: string[] = [];
  write(value, out, '');
  return out.join('');
}

function write(value: unknown, out: string[], path: string): void {
  switch (typeof value) {
    case 'string':
      // JSON.stringify escapes exactly what the grammar requires: `"`, `\`,
      // \b \t \n \f \r, other C0 controls as lowercase \u00XX, and leaves every
      // other code point as-is (lone surrogates become \udXXX escapes).
      out.push(JSON.stringify(value));
      return;
    case 'number':
      out.push(canonicalNumber(value, path));
      return;
    case 'boolean':
      out.push(value ? 'true' : 'false');
      return;
    case 'object':
      if (value === null) {
        out.push('null');
        return;
      }
      if (Array.isArray(value)) {
        out.push('[');
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out.push(',');
          write(value[i], out, `${path}[${i}]`);
        }
        out.push(']');
        return;
      }
      if (isJsonObject(value)) {
        const proto = Object.getPrototypeOf(value);
        if (proto !== Object.prototype && proto !== null) {
          throw new CanonicalJsonError('not a plain JSON object', path || '$');
        }
        const keys = Object.keys(value).sort(compareCodePoints);
        out.push('{');
        let first = true;
        for (const key of keys) {
          const v = (value as Record<string, unknown>)[key];
          if (v === undefined) continue; // as JSON.stringify: undefined members are absent
          if (!first) out.push(',');
          first = false;
          out.push(JSON.stringify(key), ':');
          write(v, out, `${path}.${key}`);
        }
        out.push('}');
        return;
      }
      break;
    default:
      break;
  }
  throw new CanonicalJsonError(`${typeof value} is not a JSON value`, path || '$');
}

function canonicalNumber(n: number, path: string): string {
  if (!Number.isFinite(n)) throw new CanonicalJsonError(`non-finite number ${n}`, path || '$');
  if (!Number.isInteger(n)) {
    throw new CanonicalJsonError(`non-integral number ${n} is not allowed in canonical JSON`, path || '$');
  }
  if (n > MAX_SAFE || n < -MAX_SAFE) {
    throw new CanonicalJsonError(
      `integer ${n} is outside the canonical JSON range [-(2^53)+1, 2^53-1]`,
      path || '$',
    );
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

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, canonicalJsonFast, canonicalJsonReference, compareCodePoints, sortedDeep } from '../../src/core/canonical-json.ts';
import { CanonicalJsonError } from '../../src/core/errors.ts';

describe('canonicalJson', () => {
  it.each([
    ['integers from exponents and -0', '{"a":1e10,"b":-0,"c":1.0}', '{"a":10000000000,"b":0,"c":1}'],
    ['UTF-8 kept as-is', '{"日本語":"中文","a":"é"}', '{"a":"é","日本語":"中文"}'],
    ['control characters escaped in lowercase', '"\\u0001\\u001F\\b\\t\\n\\f\\r"', '"\\u0001\\u001f\\b\\t\\n\\f\\r"'],
    ['redundant escapes removed', '"\\u0041\\/\\u00e9"', '"A/é"'],
    ['nested sorting and no whitespace', '{ "b" : [ 3 , { "z":1, "y":2 } ], "a": null }', '{"a":null,"b":[3,{"y":2,"z":1}]}'],
    ['extreme safe integers', '[9007199254740991,-9007199254740991]', '[9007199254740991,-9007199254740991]'],
    ['top-level scalars', '"x"', '"x"'],
  ])('%s', (_name, input, expected) => {
    expect(canonicalJson(JSON.parse(input))).toBe(expected);
  });

  it.each([
    ['a non-integral number', '{"a":1.5}', /non-integral number 1.5.*at \.a/],
    ['2^53', '{"a":9007199254740992}', /outside the canonical JSON range/],
    ['-(2^53)', '[-9007199254740992]', /outside/],
    ['a huge exponent', '{"n":[1e400]}', /non-finite/],
  ])('refuses %s', (_name, input, message) => {
    expect(() => canonicalJson(JSON.parse(input))).toThrow(CanonicalJsonError);
    expect(() => canonicalJson(JSON.parse(input))).toThrow(message);
  });

  it('refuses values JSON cannot carry', () => {
    expect(() => canonicalJson({ a: () => 1 })).toThrow(/function is not a JSON value/);
    expect(() => canonicalJson(new Map())).toThrow(/not a plain JSON object/);
  });

  it('sorts keys by code point, not UTF-16 code unit', () => {
    // U+FFFF sorts before U+10000 by code point; by UTF-16 units it would not.
    const obj = { '\u{10000}': 1, '\uffff': 2 };
    expect(canonicalJson(obj)).toBe('{"\uffff":2,"\u{10000}":1}');
    expect(compareCodePoints('\uffff', '\u{10000}')).toBeLessThan(0);
  });

  const jsonValue = fc.jsonValue({ noUnicodeString: false }).filter((v) => {
    try {
      canonicalJson(v);
      return true;
    } catch {
      return false;
    }
  });

  it('is idempotent and a valid JSON encoding of the same value (property)', () => {
    fc.assert(
      fc.property(jsonValue, (v) => {
        const once = canonicalJson(v);
        expect(canonicalJson(JSON.parse(once))).toBe(once);
        expect(JSON.parse(once)).toEqual(JSON.parse(JSON.stringify(v)));
      }),
      { numRuns: 300 },
    );
  });

  it('does not depend on key insertion order (property)', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.integer()), (d) => {
        const reversed = Object.fromEntries(Object.entries(d).reverse());
        expect(canonicalJson(reversed)).toBe(canonicalJson(d));
      }),
    );
  });

  describe('fast path (JSON.stringify of a value whose keys are already in order)', () => {
    const sameAsReference = (v: unknown) => {
      let want: string | Error;
      try {
        want = canonicalJsonReference(v);
      } catch (err) {
        want = err as Error;
      }
      const fast = canonicalJsonFast(v);
      if (want instanceof Error) expect(fast).toBeUndefined();
      else if (fast !== undefined) expect(fast).toBe(want);
      return fast;
    };

    // Keys drawn from awkward sets on purpose: integer-like ("10" < "2" as strings, but
    // enumerated numerically), astral and U+E000+ units, Object.prototype names, escapes.
    const key = fc.oneof(
      fc.string(),
      fc.string({ unit: 'grapheme' }),
      fc.constantFrom('0', '1', '2', '10', '-1', '01', '\uffff', '\u{10000}', '\ue000', '"', '\\', '\u0000', 'length'),
      fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'toJSON'),
    );
    const value = fc.letrec((tie) => ({
      leaf: fc.oneof(fc.string({ unit: 'grapheme' }), fc.integer(), fc.boolean(), fc.constant(null), fc.double(), fc.constant(2 ** 53)),
      node: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        tie('leaf'),
        fc.array(tie('node'), { maxLength: 4 }),
        fc.dictionary(key, tie('node'), { maxKeys: 5 }),
      ),
    })).node;

    it('never writes other bytes than the reference writer (property)', () => {
      let fastTaken = 0;
      fc.assert(
        fc.property(value, (v) => {
          // As received, and as sortedDeep orders it (where the fast path applies).
          if (sameAsReference(v) !== undefined) fastTaken++;
          if (sameAsReference(sortedDeep(v)) !== undefined) fastTaken++;
        }),
        { numRuns: 2000 },
      );
      expect(fastTaken).toBeGreaterThan(1000);
    });

    it('applies to any canonical value once sortedDeep has ordered it (property)', () => {
      fc.assert(
        fc.property(jsonValue, (v) => {
          expect(canonicalJsonFast(sortedDeep(v))).toBe(canonicalJsonReference(v));
        }),
        { numRuns: 300 },
      );
    });

    it.each([
      ['nested sorted objects', { a: { x: 1 }, b: [{ y: 2, z: [] }] }, '{"a":{"x":1},"b":[{"y":2,"z":[]}]}'],
      ['-0', { a: -0 }, '{"a":0}'],
      ['null-prototype objects', Object.assign(Object.create(null), { a: 2, b: 1 }), '{"a":2,"b":1}'],
      ['a key named __proto__, own (as JSON.parse makes it)', JSON.parse('{"__proto__":{"a":1},"b":{}}'), '{"__proto__":{"a":1},"b":{}}'],
    ])('writes %s', (_name, v, expected) => {
      expect(canonicalJsonFast(v)).toBe(expected);
      expect(canonicalJsonReference(v)).toBe(expected);
    });

    it.each([
      ['unsorted keys', { b: 1, a: 2 }],
      ['integer-like keys (enumerated numerically: "2" before "10")', { '2': 1, '10': 2 }],
      ['keys in UTF-16 order but not code point order', { '\u{10000}': 1, '\uffff': 2 }],
      ['an undefined member', { a: undefined, b: 1 }],
      ['a float', { a: 1.5 }],
      ['an undefined array element', [1, undefined]],
      ['a Map', { a: new Map() }],
    ])('leaves %s to the reference writer', (_name, v) => {
      expect(canonicalJsonFast(v)).toBeUndefined();
    });
  });

  describe('sortedDeep', () => {
    it('orders keys at every depth and keeps __proto__ a key', () => {
      const v = JSON.parse('{"b":[{"z":1,"a":2}],"__proto__":{"y":1,"x":2},"a":1}');
      const sorted = sortedDeep(v) as Record<string, unknown>;
      expect(Object.keys(sorted)).toEqual(['__proto__', 'a', 'b']);
      expect(Object.getPrototypeOf(sorted)).toBe(Object.prototype);
      expect(JSON.stringify(sorted)).toBe('{"__proto__":{"x":2,"y":1},"a":1,"b":[{"a":2,"z":1}]}');
    });
  });
});

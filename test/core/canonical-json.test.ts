import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, compareCodePoints } from '../../src/core/canonical-json.ts';
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
});

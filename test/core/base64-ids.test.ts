import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeBase64, decodeBase64Url, encodeBase64, encodeBase64Url } from '../../src/core/base64.ts';
import { isValidEventId, parseEventId, parseRoomId, parseServerName, parseUserId, serverNameError } from '../../src/core/ids.ts';

const enc = (s: string) => new TextEncoder().encode(s);

describe('unpadded base64 (spec appendix examples)', () => {
  it.each([
    ['', ''],
    ['f', 'Zg'],
    ['fo', 'Zm8'],
    ['foo', 'Zm9v'],
    ['foob', 'Zm9vYg'],
    ['fooba', 'Zm9vYmE'],
    ['foobar', 'Zm9vYmFy'],
  ])('%j -> %s', (plain, b64) => {
    expect(encodeBase64(enc(plain))).toBe(b64);
    expect(new TextDecoder().decode(decodeBase64(b64))).toBe(plain);
  });
  it('accepts padded input and refuses junk', () => {
    expect(decodeBase64('Zm8=')).toEqual(enc('fo'));
    expect(() => decodeBase64('Zm8*')).toThrow(/invalid character/);
    expect(() => decodeBase64('Z')).toThrow(/impossible length/);
    expect(() => decodeBase64('Zm8===')).toThrow(/bad padding/);
  });
  it('URL-safe uses - and _', () => {
    expect(encodeBase64Url(new Uint8Array([0xfb, 0xff]))).toBe('-_8');
    expect(encodeBase64(new Uint8Array([0xfb, 0xff]))).toBe('+/8');
    expect(() => decodeBase64Url('+/8')).toThrow();
  });
  it('round-trips any bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        expect(decodeBase64(encodeBase64(b))).toEqual(b);
        expect(decodeBase64Url(encodeBase64Url(b))).toEqual(b);
        expect(encodeBase64(b)).toBe(Buffer.from(b).toString('base64').replace(/=+$/, ''));
      }),
    );
  });
});

describe('identifier grammars', () => {
  it.each(['matrix.org', 'matrix.org:8888', '1.2.3.4', '1.2.3.4:1234', '[1234:5678::abcd]', '[1234:5678::abcd]:5678', '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'])(
    'server name %s is valid',
    (name) => expect(serverNameError(name)).toBeUndefined(),
  );
  it.each([
    ['', /empty/],
    ['exa_mple.com', /only letters/],
    ['example.com:99999', /above 65535/],
    ['256.1.1.1', /IPv4/],
    ['[zz::1]', /IPv6/],
  ])('server name %j is invalid', (name, why) => expect(serverNameError(name)).toMatch(why));

  it('parses user IDs, strictly or historically', () => {
    expect(parseUserId('@alice:example.org').domain).toBe('example.org');
    expect(parseUserId('@Alice:example.org').localpart).toBe('Alice'); // historical: accepted over federation
    expect(() => parseUserId('@Alice:example.org', { strict: true })).toThrow(/may contain only/);
    expect(() => parseUserId('alice:example.org')).toThrow(/must start with '@'/);
    expect(() => parseUserId('@alice')).toThrow(/no ':domain'/);
    expect(() => parseUserId(`@${'a'.repeat(250)}:example.org`)).toThrow(/longer than 255 bytes/);
    expect(() => parseUserId('@a:bad_domain')).toThrow(/only letters/);
  });
  it('parses room IDs', () => {
    expect(parseRoomId('!abc:example.org').domain).toBe('example.org');
    expect(() => parseRoomId('!:example.org')).toThrow(/empty localpart/);
    expect(() => parseRoomId('#abc:example.org')).toThrow(/must start with '!'/);
  });
  it('parses v4+ event IDs', () => {
    const id = `$${'A'.repeat(43)}`;
    expect(parseEventId(id)).toBe(id);
    expect(isValidEventId(`$${'A'.repeat(42)}`)).toBe(false);
    expect(isValidEventId('$abc:example.org')).toBe(false);
    expect(() => parseEventId('$x')).toThrow(/43 URL-safe base64/);
    expect(parseServerName('a.b')).toBe('a.b');
  });
});

/**
 * The sanitizer's attribute rules (src/ui/html.ts), which need no DOM. DOMPurify itself runs
 * in the browser: e2e/formatted.spec.ts feeds hostile and allowed markup through the app.
 */
import { describe, expect, it } from 'vitest';
import { ALLOWED_TAGS, allowedAttribute, codeClass, hexColour, linkHref, mxcUri } from '../../src/ui/html.ts';

describe('allowedAttribute', () => {
  const cases: [string, string, string, string | undefined][] = [
    ['a', 'href', 'https://example.org/x?y#z', 'https://example.org/x?y#z'],
    ['a', 'href', 'http://example.org', 'http://example.org'],
    ['a', 'href', 'ftp://example.org/f', 'ftp://example.org/f'],
    ['a', 'href', 'mailto:a@example.org', 'mailto:a@example.org'],
    ['a', 'href', 'magnet:?xt=urn:btih:abc', 'magnet:?xt=urn:btih:abc'],
    ['a', 'href', 'javascript:alert(1)', undefined],
    ['a', 'href', ' JaVaScRiPt:alert(1)', undefined],
    ['a', 'href', 'java\tscript:alert(1)', undefined],
    ['a', 'href', 'data:text/html,<script>alert(1)</script>', undefined],
    ['a', 'href', 'vbscript:x', undefined],
    ['a', 'href', '/relative', undefined],
    ['a', 'href', 'mxc://hs/media', undefined],
    ['a', 'target', '_top', '_blank'],
    ['a', 'name', 'anchor', 'anchor'],
    ['a', 'onclick', 'x()', undefined],
    ['a', 'style', 'color: red', undefined],
    ['a', 'rel', 'opener', undefined],
    ['img', 'src', 'mxc://hs1.example/AbC_123-x', 'mxc://hs1.example/AbC_123-x'],
    ['img', 'src', 'https://tracker.example/pixel.png', undefined],
    ['img', 'src', 'data:image/png;base64,AAAA', undefined],
    ['img', 'src', 'mxc://hs/../../etc', undefined],
    ['img', 'width', '64', '64'],
    ['img', 'height', '100%', undefined],
    ['img', 'alt', 'a cat', 'a cat'],
    ['img', 'onerror', 'x()', undefined],
    ['font', 'color', '#ff0000', '#ff0000'],
    ['font', 'data-mx-color', 'red', undefined],
    ['span', 'data-mx-bg-color', '#00ff00', '#00ff00'],
    ['span', 'data-mx-color', '#000000;background:url(x)', undefined],
    ['span', 'style', 'color:#ff0000', undefined],
    ['span', 'data-mx-spoiler', '', undefined],
    ['div', 'data-mx-color', '#ff0000', undefined],
    ['ol', 'start', '3', '3'],
    ['ol', 'start', '3; x', undefined],
    ['ul', 'start', '3', undefined],
    ['code', 'class', 'language-js', 'language-js'],
    ['code', 'class', 'hljs language-c++ evil', 'language-c++'],
    ['code', 'class', 'visually-hidden', undefined],
    ['pre', 'class', 'language-js', undefined],
    ['p', 'id', 'x', undefined],
    ['script', 'src', 'mxc://hs/x', undefined],
  ];
  for (const [tag, name, value, want] of cases) {
    it(`${tag} ${name}=${JSON.stringify(value)}`, () => expect(allowedAttribute(tag, name, value)).toBe(want));
  }
});

describe('helpers', () => {
  it('linkHref refuses what is not a URL', () => expect(linkHref('not a url')).toBeUndefined());
  it('mxcUri needs a server and a media ID', () => {
    expect(mxcUri('mxc://hs/id')).toBe('mxc://hs/id');
    expect(mxcUri('mxc://hs')).toBeUndefined();
    expect(mxcUri('mxc:///id')).toBeUndefined();
  });
  it('hexColour takes #rrggbb only', () => {
    expect(hexColour('#A0b1C2')).toBe('#A0b1C2');
    for (const bad of ['red', '#fff', 'rgb(1,2,3)', '#ff0000 ', 'expression(x)']) expect(hexColour(bad)).toBeUndefined();
  });
  it('codeClass keeps only language-* words', () => expect(codeClass('a language-ts b language-rust')).toBe('language-ts language-rust'));
  it('the tag list is the spec list: no script, style, iframe, svg, form, object', () => {
    for (const bad of ['script', 'style', 'iframe', 'svg', 'math', 'form', 'input', 'object', 'embed', 'link', 'meta', 'mx-reply']) {
      expect(ALLOWED_TAGS).not.toContain(bad);
    }
    expect(ALLOWED_TAGS).toHaveLength(38);
  });
});

/**
 * The sanitizer for rich message bodies (`format: "org.matrix.custom.html"`) sent by other
 * Matrix clients. DOMPurify parses the markup in an inert document (no script runs, nothing
 * loads) and keeps only what the Client-Server spec allows in an `m.text` (msgtypes → m.text):
 * its tag list, and per tag only the spec's attributes, each checked here:
 *
 * - `a`: `href` only with the https, http, ftp, mailto or magnet scheme; `name`; `target`
 *   and `rel` are forced to `_blank` and `noopener noreferrer`.
 * - `font` / `span`: `data-mx-color`, `data-mx-bg-color`, `color`, only as `#rrggbb`; the
 *   renderer turns them into a style colour. No `style` attribute ever survives.
 * - `img`: `src` only as an `mxc://` URI (the renderer fetches it through the worker, never
 *   the network); `width`, `height` (digits), `alt`, `title`. An image without one shows
 *   its alt text.
 * - `ol`: `start` (an integer); `code`: `class`, only its `language-*` words.
 * - Everything else (other tags, `on*` handlers, `style`, `id`, other `data-*`/`aria-*`) is
 *   dropped; `mx-reply` (a reply's fallback quote) goes with its contents.
 *
 * The result is a sanitized DOM tree, not a string: the page builds Preact elements from it
 * (src/ui/components/FormattedBody.tsx), re-checking every tag and attribute with the same
 * rules, so no markup from an event is ever handed to `innerHTML`.
 *
 * The attribute checks are plain functions, tested without a DOM; the DOMPurify part needs a
 * browser and is tested there (e2e/formatted.spec.ts).
 */
import DOMPurify, { type Config, type DOMPurify as Purifier } from 'dompurify';

export const MATRIX_HTML_FORMAT = 'org.matrix.custom.html';

/** The spec's allowed tags for `m.text` formatted bodies. */
export const ALLOWED_TAGS: readonly string[] = [
  'font',
  'del',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'blockquote',
  'p',
  'a',
  'ul',
  'ol',
  'sup',
  'sub',
  'li',
  'b',
  'i',
  'u',
  'strong',
  'em',
  's',
  'code',
  'hr',
  'br',
  'div',
  'table',
  'thead',
  'tbody',
  'tr',
  'th',
  'td',
  'caption',
  'pre',
  'span',
  'img',
  'details',
  'summary',
];

const COLOUR_ATTRS = ['data-mx-bg-color', 'data-mx-color', 'color'] as const;

/** Per tag, the attributes it may keep; tags not listed keep none. */
export const TAG_ATTRS: Readonly<Record<string, readonly string[]>> = {
  font: COLOUR_ATTRS,
  span: COLOUR_ATTRS,
  a: ['name', 'target', 'href'],
  img: ['width', 'height', 'alt', 'title', 'src'],
  ol: ['start'],
  code: ['class'],
};

const LINK_PROTOCOLS: ReadonlySet<string> = new Set(['https:', 'http:', 'ftp:', 'mailto:', 'magnet:']);

/** `href` of a link: kept only when it parses as an absolute URL with an allowed scheme. */
export function linkHref(value: string): string | undefined {
  try {
    return LINK_PROTOCOLS.has(new URL(value).protocol) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** `src` of an image: an `mxc://server/media-id` URI, nothing else. */
export function mxcUri(value: string): string | undefined {
  return /^mxc:\/\/[A-Za-z0-9.:[\]-]+\/[A-Za-z0-9_=-]+$/.test(value) ? value : undefined;
}

/** The spec's colours are `#` and six hex digits; anything else (names, `url(…)`, `;`) is refused. */
export function hexColour(value: string): string | undefined {
  return /^#[0-9A-Fa-f]{6}$/.test(value) ? value : undefined;
}

/** `class` of `code`: only its `language-*` words. */
export function codeClass(value: string): string | undefined {
  const words = value.split(/\s+/).filter((w) => /^language-[A-Za-z0-9_+#.-]+$/.test(w));
  return words.length > 0 ? words.join(' ') : undefined;
}

/** `width` / `height` of an image, in pixels. */
export function dimension(value: string): string | undefined {
  return /^\d{1,4}$/.test(value) ? value : undefined;
}

/** `start` of an ordered list. */
export function listStart(value: string): string | undefined {
  return /^-?\d{1,9}$/.test(value) ? value : undefined;
}

/**
 * The value `tag`'s attribute `name` may keep (possibly narrowed, as for `class`), or
 * undefined when it must go. `target` is accepted here only to be forced to `_blank`.
 */
export function allowedAttribute(tag: string, name: string, value: string): string | undefined {
  if (!TAG_ATTRS[tag]?.includes(name)) return undefined;
  switch (name) {
    case 'href':
      return linkHref(value);
    case 'target':
      return '_blank';
    case 'src':
      return mxcUri(value);
    case 'data-mx-bg-color':
    case 'data-mx-color':
    case 'color':
      return hexColour(value);
    case 'class':
      return codeClass(value);
    case 'width':
    case 'height':
      return dimension(value);
    case 'start':
      return listStart(value);
    default:
      // name, alt, title: plain text.
      return value;
  }
}

const CONFIG: Config & { RETURN_DOM: true } = {
  ALLOWED_TAGS: [...ALLOWED_TAGS],
  ALLOWED_ATTR: [...new Set(Object.values(TAG_ATTRS).flat())],
  ALLOW_DATA_ATTR: false,
  ALLOW_ARIA_ATTR: false,
  ALLOW_UNKNOWN_PROTOCOLS: false,
  // Applied by DOMPurify to href/src on top of the checks above; mxc: only survives on img src.
  ALLOWED_URI_REGEXP: /^(?:https?|ftp|mailto|magnet|mxc):/i,
  // DOMPurify holds every other attribute's value to that pattern too; these are not URIs
  // and the hook has already checked them strictly (digits, #rrggbb, _blank, text).
  ADD_URI_SAFE_ATTR: ['start', 'color', 'data-mx-color', 'data-mx-bg-color', 'name', 'target'],
  ADD_FORBID_CONTENTS: ['mx-reply'],
  KEEP_CONTENT: true,
  RETURN_DOM: true,
};

let purifier: Purifier | undefined;

function instance(): Purifier {
  if (purifier) return purifier;
  // An instance of our own, so these hooks never touch another user of DOMPurify.
  const p = DOMPurify(window);
  p.addHook('uponSanitizeAttribute', (node, data) => {
    const value = allowedAttribute(node.nodeName.toLowerCase(), data.attrName, data.attrValue);
    if (value === undefined) data.keepAttr = false;
    else data.attrValue = value;
  });
  p.addHook('afterSanitizeAttributes', (node) => {
    if (node.nodeName.toLowerCase() === 'a') {
      node.setAttribute('target', '_blank');
      node.setAttribute('rel', 'noopener noreferrer');
    }
  });
  purifier = p;
  return p;
}

/**
 * The sanitized tree of a formatted body: the `body` element of an inert document holding
 * only allowed tags and attributes. Read it, never insert it: FormattedBody renders it.
 */
export function sanitizeMatrixHtml(html: string): Element {
  return instance().sanitize(html, CONFIG);
}

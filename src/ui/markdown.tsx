/**
 * Markdown for messages, through `marked` (CommonMark with GitHub's extensions: strikethrough,
 * tables, bare-URL links; newlines are line breaks, as people expect in a chat).
 *
 * - `composeHtml(body)` is what the composer sends as `formatted_body`: the body rendered as
 *   HTML and then sanitized with the same rules as every rich body we show (src/ui/html.ts),
 *   or undefined when the text has no Markdown in it (then only the plain `body` is sent).
 * - `inlineHtml(body)` renders a plain body with no `formatted_body` — Hearth's own older
 *   messages, and plain text from other clients — with the inline syntax only (bold, italics,
 *   code, links, strikethrough), as the Markdown-lite it replaces did: no headings or lists
 *   appear out of text that was never meant as Markdown. The result is shown only through the
 *   sanitizer (FormattedBody.tsx), never as `innerHTML`.
 *
 * Raw HTML typed into a message is shown as the text it is, not interpreted, and a link whose
 * target is not an allowed scheme (http, https, ftp, mailto, magnet) stays the literal source.
 */
import { Marked, type Tokens } from 'marked';
import { linkHref, sanitizeMatrixHtml } from './html.ts';

/** The same escaping marked applies to text, so a plain body compares equal to its rendering. */
function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

const marked = new Marked({
  gfm: true,
  breaks: true,
  async: false,
  renderer: {
    html(token: Tokens.HTML | Tokens.Tag) {
      return escapeHtml(token.text);
    },
    link(token: Tokens.Link) {
      return linkHref(token.href) === undefined ? escapeHtml(token.raw) : false;
    },
    image(token: Tokens.Image) {
      // Images in a formatted body must be mxc:// URIs; a Markdown image stays its source text.
      return escapeHtml(token.raw);
    },
  },
});

/** The body rendered as (unsanitized) HTML, or undefined when it is plain text. */
export function markdownHtml(body: string): string | undefined {
  const html = (marked.parse(body) as string).trim().replace(/>\n</g, '><');
  const inner = /^<p>([\s\S]*)<\/p>$/.exec(html)?.[1];
  const plain = escapeHtml(body.trim()).replace(/\r?\n/g, '<br>');
  return inner === plain || html === plain ? undefined : html;
}

/** What the composer sends as `formatted_body` for `body`: sanitized HTML, or undefined when `body` has no Markdown. */
export function composeHtml(body: string): string | undefined {
  const html = markdownHtml(body);
  return html === undefined ? undefined : sanitizeMatrixHtml(html).innerHTML;
}

/** A plain body's inline Markdown as (unsanitized) HTML, for display through the sanitizer. */
export function inlineHtml(body: string): string {
  return marked.parseInline(body) as string;
}

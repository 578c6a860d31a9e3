/**
 * Markdown-lite for message bodies: **bold**, *italics* / _italics_, `code`,
 * [text](https://…) and bare http(s) URLs. The body is tokenised into Preact
 * elements and text nodes — never HTML — so no event can inject markup. Links
 * are kept only when they parse as http: or https: URLs.
 */
import { type ComponentChild, Fragment } from 'preact';

const URL_RE = /https?:\/\/[^\s<>"'`]+[^\s<>"'`.,;:!?)\]]/y;

export function safeHref(raw: string): string | undefined {
  try {
    const u = new URL(raw);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : undefined;
  } catch {
    return undefined;
  }
}

function link(href: string, children: ComponentChild, key: number): ComponentChild {
  return (
    <a key={key} href={href} target="_blank" rel="noopener noreferrer nofollow">
      {children}
    </a>
  );
}

/** Finds the closing delimiter for an inline span starting at `from`, or -1. */
function closing(text: string, delim: string, from: number): number {
  const end = text.indexOf(delim, from);
  if (end <= from) return -1; // empty or missing
  const inner = text.slice(from, end);
  if (/^\s|\s$/.test(inner)) return -1; // `* not emphasis *`
  return end;
}

export function renderInline(text: string, depth = 0): ComponentChild[] {
  const out: ComponentChild[] = [];
  let buf = '';
  let key = 0;
  const flush = () => {
    if (buf) out.push(buf);
    buf = '';
  };
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    // `code`: contents are literal
    if (ch === '`') {
      const end = text.indexOf('`', i + 1);
      if (end > i + 1) {
        flush();
        out.push(<code key={key++}>{text.slice(i + 1, end)}</code>);
        i = end + 1;
        continue;
      }
    }
    // **bold**
    if (ch === '*' && text[i + 1] === '*' && depth < 4) {
      const end = closing(text, '**', i + 2);
      if (end > 0) {
        flush();
        out.push(<strong key={key++}>{renderInline(text.slice(i + 2, end), depth + 1)}</strong>);
        i = end + 2;
        continue;
      }
    }
    // *italics* or _italics_ (underscores only at word boundaries, so snake_case stays)
    if ((ch === '*' || (ch === '_' && !/\w/.test(text[i - 1] ?? ''))) && depth < 4) {
      const end = closing(text, ch, i + 1);
      if (end > 0 && (ch === '*' || !/\w/.test(text[end + 1] ?? ''))) {
        flush();
        out.push(<em key={key++}>{renderInline(text.slice(i + 1, end), depth + 1)}</em>);
        i = end + 1;
        continue;
      }
    }
    // [text](url)
    if (ch === '[') {
      const m = /\[([^\]\n]+)\]\(([^)\s]+)\)/y;
      m.lastIndex = i;
      const hit = m.exec(text);
      const href = hit ? safeHref(hit[2]!) : undefined;
      if (hit && href) {
        flush();
        out.push(link(href, renderInline(hit[1]!, depth + 1), key++));
        i += hit[0].length;
        continue;
      }
    }
    // bare URL
    if (ch === 'h' && !/\w/.test(text[i - 1] ?? '')) {
      URL_RE.lastIndex = i;
      const hit = URL_RE.exec(text);
      const href = hit ? safeHref(hit[0]) : undefined;
      if (hit && href) {
        flush();
        out.push(link(href, hit[0], key++));
        i += hit[0].length;
        continue;
      }
    }
    buf += ch;
    i++;
  }
  flush();
  return out;
}

/** A message body: Markdown-lite per line, line breaks kept. */
export function Markdown({ text }: { text: string }) {
  const lines = text.split('\n');
  return (
    <>
      {lines.map((line, n) => (
        <Fragment key={n}>
          {n > 0 && <br />}
          {renderInline(line)}
        </Fragment>
      ))}
    </>
  );
}

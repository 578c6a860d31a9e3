import { type ComponentChild, h } from 'preact';
import { useMemo } from 'preact/hooks';
import { ALLOWED_TAGS, allowedAttribute, sanitizeMatrixHtml } from '../html.ts';
import { inlineHtml } from '../markdown.tsx';
import { useMedia } from '../media.ts';

const TAGS: ReadonlySet<string> = new Set(ALLOWED_TAGS);
const VOID: ReadonlySet<string> = new Set(['br', 'hr']);

/** An inline `<img src="mxc://…">`: its alt text until (or unless) the worker has the bytes. */
function MxcImage(props: { uri: string; alt: string; title?: string; width?: string; height?: string }) {
  const { state } = useMedia(props.uri);
  const alt = props.alt || 'image';
  if (state.status !== 'ready') {
    return (
      <span class="inline-image-alt" title={props.title}>
        {alt}
      </span>
    );
  }
  return <img class="inline-image" src={state.src} alt={alt} title={props.title} width={props.width} height={props.height} />;
}

/** An attribute of a sanitized element, re-checked against the same rules. */
function attr(el: Element, tag: string, name: string): string | undefined {
  const value = el.getAttribute(name);
  return value === null ? undefined : allowedAttribute(tag, name, value);
}

function children(node: Node, depth: number): ComponentChild[] {
  const out: ComponentChild[] = [];
  node.childNodes.forEach((child) => {
    out.push(toVNode(child, out.length, depth));
  });
  return out;
}

/**
 * One node of the sanitized tree as a Preact element. Tags and attributes are copied only
 * when allowed, so this is a second check behind DOMPurify rather than a trusting copy.
 */
function toVNode(node: Node, key: number, depth: number): ComponentChild {
  if (node.nodeType === Node.TEXT_NODE) return (node as Text).data;
  if (node.nodeType !== Node.ELEMENT_NODE || depth > 100) return null;
  const el = node as Element;
  const tag = el.localName;
  const kids = VOID.has(tag) ? undefined : children(el, depth + 1);
  if (!TAGS.has(tag)) return h('span', { key }, kids);
  const props: Record<string, unknown> = { key };
  switch (tag) {
    case 'a': {
      const href = attr(el, tag, 'href');
      const name = attr(el, tag, 'name');
      if (href !== undefined) Object.assign(props, { href, target: '_blank', rel: 'noopener noreferrer' });
      if (name !== undefined) props.name = name;
      break;
    }
    case 'font':
    case 'span': {
      const style: Record<string, string> = {};
      const colour = attr(el, tag, 'data-mx-color') ?? attr(el, tag, 'color');
      const background = attr(el, tag, 'data-mx-bg-color');
      if (colour !== undefined) style.color = colour;
      if (background !== undefined) style.backgroundColor = background;
      if (colour !== undefined || background !== undefined) props.style = style;
      break;
    }
    case 'img': {
      const uri = attr(el, tag, 'src');
      const alt = attr(el, tag, 'alt') ?? '';
      // Only mxc:// images are shown; any other kind is its alt text.
      if (uri === undefined) return alt;
      const title = attr(el, tag, 'title');
      const width = attr(el, tag, 'width');
      const height = attr(el, tag, 'height');
      return (
        <MxcImage
          key={key}
          uri={uri}
          alt={alt}
          {...(title !== undefined ? { title } : {})}
          {...(width !== undefined ? { width } : {})}
          {...(height !== undefined ? { height } : {})}
        />
      );
    }
    case 'ol': {
      const start = attr(el, tag, 'start');
      if (start !== undefined) props.start = Number(start);
      break;
    }
    case 'code': {
      const cls = attr(el, tag, 'class');
      if (cls !== undefined) props.class = cls;
      break;
    }
  }
  return h(tag, props, kids);
}

/** True when the sanitized tree shows nothing: no text and no image. */
function isBlank(root: Element): boolean {
  return (root.textContent ?? '').trim() === '' && root.querySelector('img') === null;
}

/** Sanitized `html` as Preact nodes, or undefined when nothing visible is left. */
function render(html: string): ComponentChild[] | undefined {
  const root = sanitizeMatrixHtml(html);
  return isBlank(root) ? undefined : children(root, 0);
}

/**
 * A plain body (no `formatted_body`): its inline Markdown (bold, italics, code, links,
 * strikethrough) through the same sanitizer, line breaks kept.
 */
export function Markdown(props: { text: string }) {
  const nodes = useMemo(() => render(inlineHtml(props.text)), [props.text]);
  return <>{nodes ?? props.text}</>;
}

/**
 * A message's `formatted_body`, sanitized (src/ui/html.ts) and rendered as Preact elements.
 * When nothing is left after sanitizing, the plain `fallback` body is shown instead.
 */
export function FormattedBody(props: { html: string; fallback: string }) {
  const nodes = useMemo(() => render(props.html), [props.html]);
  return nodes ?? <Markdown text={props.fallback} />;
}

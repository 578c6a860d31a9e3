/**
 * One line of text for a room list preview: what the message reads as, not its markup — the
 * rich rendition's text when it has one, else the plain body without inline Markdown markers.
 */
import type { RoomSummary } from './api.ts';
import { localpart } from './format.ts';

/** Inline Markdown a plain body may carry, each replaced by its inner text. */
const INLINE: [RegExp, string][] = [
  [/!?\[([^\]\n]*)\]\([^)\s]*\)/g, '$1'], // [text](url), ![alt](url)
  [/`([^`\n]+)`/g, '$1'],
  [/(\*\*|__)(?=\S)([^\n]*?\S)\1/g, '$2'],
  [/~~(?=\S)([^\n]*?\S)~~/g, '$1'],
  [/(^|[^\w*])\*(?=\S)([^*\n]*?\S)\*(?!\w)/g, '$1$2'],
  [/(^|[^\w])_(?=\S)([^_\n]*?\S)_(?!\w)/g, '$1$2'],
];

export function markdownText(body: string): string {
  let text = body;
  for (const [re, to] of INLINE) text = text.replace(re, to);
  // Block markers at line starts: headings, quotes, list bullets.
  return text.replace(/^\s{0,3}(#{1,6}\s+|>\s?|[-*+]\s+)/gm, '');
}

/** The text content of an HTML fragment, parsed inertly (nothing runs, nothing loads). */
function htmlText(html: string): string {
  return new DOMParser().parseFromString(html, 'text/html').body.textContent ?? '';
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** "Sender: text" for the room list, or the topic when there is no message yet. */
export function previewOf(room: RoomSummary): string {
  const last = room.lastMessage;
  if (!last) return room.topic ?? '';
  const text = last.formattedBody !== undefined ? htmlText(last.formattedBody) : markdownText(last.body);
  return `${last.senderName ?? localpart(last.sender)}: ${oneLine(text)}`;
}

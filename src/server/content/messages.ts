/**
 * Message-content builders and readers for both content formats a room can use:
 *
 * - `classic` (room versions 10, 11): `m.room.message` with a `msgtype` and a `body`.
 * - `extensible` (room version I.1): MSC1767 extensible events — event type `m.message`
 *   whose `m.text` content block is an array of text representations.
 *
 * Relations (`m.relates_to`: replies, threads, edits, reactions) are identical in both
 * formats, so the readers here look at them the same way for every event.
 *
 * Images in the extensible format follow MSC3551/MSC3552 as Hearth's brief settled it:
 * event type `m.image` with `m.text` (the alt text, doubling as the text fallback every
 * extensible event carries), `m.file` (`url`, `mimetype`, `size`, optional `name`) and
 * `m.image_details` (`width`, `height`; omitted when unknown rather than invented).
 *
 * Every reader is total: content arrives from other servers and may be any JSON at all,
 * so nothing here throws on malformed input — it answers `undefined` instead.
 */
import { type JsonObject, type JsonValue, isJsonObject } from '../../core/json.ts';

export type ContentFormat = 'classic' | 'extensible';

/** What the engine needs to build and send an event: its type and content. */
export interface EventDraft {
  type: string;
  content: JsonObject;
}

/** The few fields the readers look at; anything else on the event is ignored. */
export interface EventLike {
  readonly type?: unknown;
  readonly state_key?: unknown;
  readonly content?: unknown;
}

/** Where a new message sits relative to others. */
export interface RelationOptions {
  /** Event being replied to (a rich reply; inside a thread, a real reply within it). */
  replyTo?: string;
  /** Thread root: the message goes into that thread. */
  threadRoot?: string;
  /**
   * Latest event in the thread known to the sender, used for the reply fallback that lets
   * thread-unaware clients show a reply chain. Defaults to the root (an empty thread's
   * latest event is its root).
   */
  threadLatest?: string;
}

export interface TextOptions extends RelationOptions {
  /** HTML rendition of the body; the plain `body` is always sent as well. */
  html?: string;
}

export interface ImageInput {
  /** `mxc://server/id` */
  url: string;
  mimetype: string;
  size: number;
  width?: number;
  height?: number;
  /** Alt text: the plain-text fallback for clients that cannot show the image. */
  alt: string;
  /** Original file name, when known. */
  name?: string;
  /** An encrypted attachment (rooms with end-to-end encryption): the spec's EncryptedFile, sent as `file` in place of `url`. */
  file?: JsonObject;
}

/** `m.relates_to`, read tolerantly; only well-typed fields are reported. */
export interface Relation {
  rel_type?: string;
  event_id?: string;
  /** Annotation key (the reaction emoji). */
  key?: string;
  /** `m.in_reply_to.event_id` */
  in_reply_to?: string;
  /** Threads: `true` when `in_reply_to` is only a fallback for thread-unaware clients. */
  is_falling_back?: boolean;
}

export const CLASSIC_MESSAGE_TYPE = 'm.room.message';
export const EXTENSIBLE_MESSAGE_TYPE = 'm.message';
export const EXTENSIBLE_IMAGE_TYPE = 'm.image';
export const REACTION_TYPE = 'm.reaction';
export const HTML_FORMAT = 'org.matrix.custom.html';

/**
 * Extensible event types that carry an `m.text` fallback and are shown as messages.
 * MSC1767 gives emotes and notices their own types instead of a `msgtype`.
 */
const EXTENSIBLE_MESSAGE_TYPES: ReadonlySet<string> = new Set([
  EXTENSIBLE_MESSAGE_TYPE,
  'm.emote',
  'm.notice',
  EXTENSIBLE_IMAGE_TYPE,
  'm.file',
  'm.audio',
  'm.video',
]);

// ---------------------------------------------------------------- builders

function textBlock(body: string, html?: string): JsonValue[] {
  // The plain representation goes first: it is the one every reader falls back to, and
  // readers here pick representations by mimetype, never by position.
  const reps: JsonValue[] = [{ body }];
  if (html !== undefined) reps.push({ mimetype: 'text/html', body: html });
  return reps;
}

function textContent(format: ContentFormat, body: string, html?: string): JsonObject {
  if (format === 'extensible') return { 'm.text': textBlock(body, html) };
  const content: JsonObject = { msgtype: 'm.text', body };
  if (html !== undefined) {
    content.format = HTML_FORMAT;
    content.formatted_body = html;
  }
  return content;
}

/** `m.relates_to` for a new message, or undefined when it relates to nothing. */
function relatesTo(opts: RelationOptions | undefined): JsonObject | undefined {
  if (!opts) return undefined;
  const { replyTo, threadRoot, threadLatest } = opts;
  if (threadRoot !== undefined) {
    // Every thread message points at the root. A real reply inside the thread says so with
    // is_falling_back: false; otherwise the in-reply-to is only the unthreaded fallback.
    return {
      rel_type: 'm.thread',
      event_id: threadRoot,
      is_falling_back: replyTo === undefined,
      'm.in_reply_to': { event_id: replyTo ?? threadLatest ?? threadRoot },
    };
  }
  if (replyTo !== undefined) return { 'm.in_reply_to': { event_id: replyTo } };
  return undefined;
}

function withRelation(content: JsonObject, opts: RelationOptions | undefined): JsonObject {
  const rel = relatesTo(opts);
  if (rel) content['m.relates_to'] = rel;
  return content;
}

export function textMessage(format: ContentFormat, body: string, opts?: TextOptions): EventDraft {
  return {
    type: format === 'extensible' ? EXTENSIBLE_MESSAGE_TYPE : CLASSIC_MESSAGE_TYPE,
    content: withRelation(textContent(format, body, opts?.html), opts),
  };
}

/**
 * An edit (`m.replace`). The top-level text is the `* new` fallback that clients without
 * edit support show; `m.new_content` is what edit-aware clients render. Per the spec an
 * edit of a reply carries no `m.in_reply_to`: the original's relation is kept as is.
 */
export function editMessage(
  format: ContentFormat,
  targetId: string,
  newBody: string,
  opts?: { html?: string },
): EventDraft {
  const html = opts?.html;
  const content = textContent(format, `* ${newBody}`, html === undefined ? undefined : `* ${html}`);
  content['m.new_content'] = textContent(format, newBody, html);
  content['m.relates_to'] = { rel_type: 'm.replace', event_id: targetId };
  return { type: format === 'extensible' ? EXTENSIBLE_MESSAGE_TYPE : CLASSIC_MESSAGE_TYPE, content };
}

/** Reactions are `m.reaction` annotations in every room version (no format difference). */
export function reaction(targetId: string, key: string): EventDraft {
  return {
    type: REACTION_TYPE,
    content: { 'm.relates_to': { rel_type: 'm.annotation', event_id: targetId, key } },
  };
}

export function imageMessage(format: ContentFormat, image: ImageInput, opts?: RelationOptions): EventDraft {
  const { url, mimetype, size, width, height, alt, name } = image;
  if (format === 'extensible') {
    const file: JsonObject = { url, mimetype, size, ...(image.file ? { 'm.encrypted': image.file } : {}) };
    if (name !== undefined) file.name = name;
    const content: JsonObject = { 'm.text': textBlock(alt), 'm.file': file };
    if (width !== undefined && height !== undefined) content['m.image_details'] = { width, height };
    return { type: EXTENSIBLE_IMAGE_TYPE, content: withRelation(content, opts) };
  }
  const info: JsonObject = { mimetype, size };
  if (width !== undefined) info.w = width;
  if (height !== undefined) info.h = height;
  const content: JsonObject = { msgtype: 'm.image', body: alt, ...(image.file ? { file: image.file } : { url }), info };
  if (name !== undefined) content.filename = name;
  return { type: CLASSIC_MESSAGE_TYPE, content: withRelation(content, opts) };
}

export interface FileInput {
  /** `mxc://server/id` */
  url: string;
  mimetype: string;
  size: number;
  /** The file's name: its plain-text fallback too. */
  name: string;
  /** An encrypted attachment's EncryptedFile, sent as `file` in place of `url` (as for images). */
  file?: JsonObject;
}

/** Any file (`m.file`): a download, with its name, type and size. */
export function fileMessage(format: ContentFormat, file: FileInput, opts?: RelationOptions): EventDraft {
  const { url, mimetype, size, name } = file;
  if (format === 'extensible') {
    const content: JsonObject = { 'm.text': textBlock(name), 'm.file': { url, mimetype, size, name, ...(file.file ? { 'm.encrypted': file.file } : {}) } };
    return { type: 'm.file', content: withRelation(content, opts) };
  }
  const content: JsonObject = { msgtype: 'm.file', body: name, filename: name, ...(file.file ? { file: file.file } : { url }), info: { mimetype, size } };
  return { type: CLASSIC_MESSAGE_TYPE, content: withRelation(content, opts) };
}

// ---------------------------------------------------------------- readers

function contentOf(event: EventLike): JsonObject | undefined {
  return isJsonObject(event.content) ? event.content : undefined;
}

/**
 * The plain-text representation in an MSC1767 `m.text` block: the entry with no mimetype
 * or `text/plain`. An early MSC1767 draft used a bare string; accepting it costs nothing.
 */
export function plainText(block: unknown): string | undefined {
  if (typeof block === 'string') return block;
  if (!Array.isArray(block)) return undefined;
  for (const rep of block) {
    if (!isJsonObject(rep) || typeof rep.body !== 'string') continue;
    if (rep.mimetype === undefined || rep.mimetype === 'text/plain') return rep.body;
  }
  return undefined;
}

/** A message in either format (state events never are, whatever their type). */
export function isMessageEvent(event: EventLike): boolean {
  if (typeof event.type !== 'string' || event.state_key !== undefined) return false;
  return event.type === CLASSIC_MESSAGE_TYPE || EXTENSIBLE_MESSAGE_TYPES.has(event.type);
}

/** The plain body of a message of either format; undefined for non-messages or no plain text. */
export function messageBody(event: EventLike): string | undefined {
  if (!isMessageEvent(event)) return undefined;
  const content = contentOf(event);
  if (!content) return undefined;
  if (event.type === CLASSIC_MESSAGE_TYPE) return typeof content.body === 'string' ? content.body : undefined;
  return plainText(content['m.text']);
}

/** A message's rich-text rendition: `format` names the markup (the spec knows only `org.matrix.custom.html`). */
export interface FormattedBody {
  format: string;
  formatted_body: string;
}

/**
 * The formatted rendition of a text message of either format, as sent — unsanitized: the
 * renderer must sanitize it. Classic: `format` + `formatted_body` (both strings, else none);
 * extensible: the `m.text` representation with mimetype `text/html`, reported with the
 * classic format name so the UI has one case to handle.
 */
export function formattedBody(event: EventLike): FormattedBody | undefined {
  if (!isMessageEvent(event)) return undefined;
  const content = contentOf(event);
  if (!content) return undefined;
  if (event.type === CLASSIC_MESSAGE_TYPE) {
    const { format, formatted_body } = content;
    return typeof format === 'string' && typeof formatted_body === 'string' ? { format, formatted_body } : undefined;
  }
  const block = content['m.text'];
  if (!Array.isArray(block)) return undefined;
  for (const rep of block) {
    if (isJsonObject(rep) && rep.mimetype === 'text/html' && typeof rep.body === 'string') {
      return { format: HTML_FORMAT, formatted_body: rep.body };
    }
  }
  return undefined;
}

export interface ImageInfo {
  url: string;
  /** Set when the image is encrypted (EncryptedFile: key, iv, hashes, url): `url` holds ciphertext. */
  file?: JsonObject;
  /** The original file name: a caption when the body differs from it. */
  name?: string;
  mimetype?: string;
  width?: number;
  height?: number;
}

function finiteNumber(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function compact<T extends object>(obj: T): T {
  for (const key of Object.keys(obj) as (keyof T)[]) if (obj[key] === undefined) delete obj[key];
  return obj;
}

/** The image of an image message (either format); undefined when it is not one or has no URL. */
export function imageOf(event: EventLike): ImageInfo | undefined {
  if (!isMessageEvent(event)) return undefined;
  const content = contentOf(event);
  if (!content) return undefined;
  if (event.type === CLASSIC_MESSAGE_TYPE) {
    // An encrypted image carries `file` (its key and the ciphertext's mxc:// URI) in place of `url`.
    const encrypted = isJsonObject(content.file) && typeof content.file.url === 'string' ? content.file : undefined;
    const url = encrypted ? encrypted.url : content.url;
    if (content.msgtype !== 'm.image' || typeof url !== 'string') return undefined;
    const info = isJsonObject(content.info) ? content.info : {};
    return compact({
      url,
      file: encrypted,
      name: typeof content.filename === 'string' ? content.filename : undefined,
      mimetype: typeof info.mimetype === 'string' ? info.mimetype : undefined,
      width: finiteNumber(info.w),
      height: finiteNumber(info.h),
    });
  }
  if (event.type !== EXTENSIBLE_IMAGE_TYPE) return undefined;
  const file = content['m.file'];
  if (!isJsonObject(file) || typeof file.url !== 'string') return undefined;
  const details = isJsonObject(content['m.image_details']) ? content['m.image_details'] : {};
  return compact({
    url: file.url,
    file: isJsonObject(file['m.encrypted']) ? { ...file['m.encrypted'], url: file.url } : undefined,
    name: typeof file.name === 'string' ? file.name : undefined,
    mimetype: typeof file.mimetype === 'string' ? file.mimetype : undefined,
    width: finiteNumber(details.width),
    height: finiteNumber(details.height),
  });
}

export interface FileInfo {
  url: string;
  /** Set when the file is encrypted (EncryptedFile): `url` holds ciphertext. */
  file?: JsonObject;
  name: string;
  mimetype?: string;
  size?: number;
}

/** A file message's (`m.file`) download, of either format; undefined for anything else. */
export function fileOf(event: EventLike): FileInfo | undefined {
  if (!isMessageEvent(event)) return undefined;
  const content = contentOf(event);
  if (!content) return undefined;
  let file: JsonObject | undefined;
  let name: unknown;
  if (event.type === CLASSIC_MESSAGE_TYPE) {
    const encrypted = isJsonObject(content.file) && typeof content.file.url === 'string' ? content.file : undefined;
    const url = encrypted ? encrypted.url : content.url;
    if (content.msgtype !== 'm.file' || typeof url !== 'string') return undefined;
    const info = isJsonObject(content.info) ? content.info : {};
    file = { ...info, url, ...(encrypted ? { 'm.encrypted': encrypted } : {}) };
    name = content.filename ?? content.body;
  } else if (event.type === 'm.file' && isJsonObject(content['m.file'])) {
    file = content['m.file'];
    name = file.name;
  }
  if (!file || typeof file.url !== 'string') return undefined;
  return compact({
    url: file.url,
    file: isJsonObject(file['m.encrypted']) ? { ...file['m.encrypted'], url: file.url } : undefined,
    name: typeof name === 'string' && name !== '' ? name : 'file',
    mimetype: typeof file.mimetype === 'string' ? file.mimetype : undefined,
    size: finiteNumber(file.size),
  });
}

/** The event's `m.relates_to`, keeping only well-typed fields; undefined when none are. */
export function relationOf(event: EventLike): Relation | undefined {
  const rel = contentOf(event)?.['m.relates_to'];
  if (!isJsonObject(rel)) return undefined;
  const out: Relation = {};
  if (typeof rel.rel_type === 'string') out.rel_type = rel.rel_type;
  if (typeof rel.event_id === 'string') out.event_id = rel.event_id;
  if (typeof rel.key === 'string') out.key = rel.key;
  const reply = rel['m.in_reply_to'];
  if (isJsonObject(reply) && typeof reply.event_id === 'string') out.in_reply_to = reply.event_id;
  if (typeof rel.is_falling_back === 'boolean') out.is_falling_back = rel.is_falling_back;
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * Removes a legacy rich-reply fallback (leading `> ` quote lines) from a reply's body, as
 * the spec asks clients to do before rendering. Only call it on replies: elsewhere those
 * lines are the author's own quote.
 */
export function stripReplyFallback(body: string): string {
  const lines = body.split('\n');
  let i = 0;
  while (i < lines.length && lines[i]!.startsWith('> ')) i++;
  if (i === 0) return body;
  // The fallback was separated from the reply proper by one blank line.
  if (i < lines.length && lines[i] === '') i++;
  return lines.slice(i).join('\n');
}

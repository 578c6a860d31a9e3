import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/core/json.ts';
import {
  type ContentFormat,
  type EventDraft,
  editMessage,
  formattedBody,
  imageMessage,
  imageOf,
  isMessageEvent,
  messageBody,
  plainText,
  reaction,
  relationOf,
  stripReplyFallback,
  textMessage,
} from '../../src/server/content/index.ts';

const formats: ContentFormat[] = ['classic', 'extensible'];

describe('textMessage', () => {
  const cases: [string, ContentFormat, EventDraft, EventDraft][] = [
    ['plain', 'classic', textMessage('classic', 'hi'), { type: 'm.room.message', content: { msgtype: 'm.text', body: 'hi' } }],
    ['plain', 'extensible', textMessage('extensible', 'hi'), { type: 'm.message', content: { 'm.text': [{ body: 'hi' }] } }],
    [
      'html',
      'classic',
      textMessage('classic', 'hi', { html: '<b>hi</b>' }),
      { type: 'm.room.message', content: { msgtype: 'm.text', body: 'hi', format: 'org.matrix.custom.html', formatted_body: '<b>hi</b>' } },
    ],
    [
      'html',
      'extensible',
      textMessage('extensible', 'hi', { html: '<b>hi</b>' }),
      { type: 'm.message', content: { 'm.text': [{ body: 'hi' }, { mimetype: 'text/html', body: '<b>hi</b>' }] } },
    ],
    [
      'reply',
      'classic',
      textMessage('classic', 'yes', { replyTo: '$a' }),
      { type: 'm.room.message', content: { msgtype: 'm.text', body: 'yes', 'm.relates_to': { 'm.in_reply_to': { event_id: '$a' } } } },
    ],
    [
      'reply',
      'extensible',
      textMessage('extensible', 'yes', { replyTo: '$a' }),
      { type: 'm.message', content: { 'm.text': [{ body: 'yes' }], 'm.relates_to': { 'm.in_reply_to': { event_id: '$a' } } } },
    ],
  ];
  for (const [name, format, got, want] of cases) {
    it(`${name} (${format})`, () => expect(got).toEqual(want));
  }

  const threadCases: [string, Parameters<typeof textMessage>[2], JsonObject][] = [
    [
      'thread message falls back to a reply to the latest thread event',
      { threadRoot: '$root', threadLatest: '$last' },
      { rel_type: 'm.thread', event_id: '$root', is_falling_back: true, 'm.in_reply_to': { event_id: '$last' } },
    ],
    [
      'first thread message falls back to the root',
      { threadRoot: '$root' },
      { rel_type: 'm.thread', event_id: '$root', is_falling_back: true, 'm.in_reply_to': { event_id: '$root' } },
    ],
    [
      'a real reply inside a thread',
      { threadRoot: '$root', threadLatest: '$last', replyTo: '$mid' },
      { rel_type: 'm.thread', event_id: '$root', is_falling_back: false, 'm.in_reply_to': { event_id: '$mid' } },
    ],
  ];
  for (const format of formats) {
    for (const [name, opts, relatesTo] of threadCases) {
      it(`${name} (${format})`, () => {
        const draft = textMessage(format, 'x', opts);
        expect(draft.content['m.relates_to']).toEqual(relatesTo);
        expect(messageBody(draft)).toBe('x');
      });
    }
  }
});

describe('editMessage', () => {
  it('classic', () => {
    expect(editMessage('classic', '$t', 'new')).toEqual({
      type: 'm.room.message',
      content: {
        msgtype: 'm.text',
        body: '* new',
        'm.new_content': { msgtype: 'm.text', body: 'new' },
        'm.relates_to': { rel_type: 'm.replace', event_id: '$t' },
      },
    });
  });
  it('extensible', () => {
    expect(editMessage('extensible', '$t', 'new')).toEqual({
      type: 'm.message',
      content: {
        'm.text': [{ body: '* new' }],
        'm.new_content': { 'm.text': [{ body: 'new' }] },
        'm.relates_to': { rel_type: 'm.replace', event_id: '$t' },
      },
    });
  });
  for (const format of formats) {
    it(`with html keeps a plain body (${format})`, () => {
      const draft = editMessage(format, '$t', 'new', { html: '<i>new</i>' });
      expect(messageBody(draft)).toBe('* new');
      expect(messageBody({ type: draft.type, content: draft.content['m.new_content'] })).toBe('new');
      expect(relationOf(draft)).toEqual({ rel_type: 'm.replace', event_id: '$t' });
    });
  }
});

describe('reaction', () => {
  it('is an m.annotation in every format', () => {
    expect(reaction('$t', '👍')).toEqual({
      type: 'm.reaction',
      content: { 'm.relates_to': { rel_type: 'm.annotation', event_id: '$t', key: '👍' } },
    });
    expect(relationOf(reaction('$t', '👍'))).toEqual({ rel_type: 'm.annotation', event_id: '$t', key: '👍' });
    expect(isMessageEvent(reaction('$t', '👍'))).toBe(false);
  });
});

describe('imageMessage', () => {
  const img = { url: 'mxc://hs/abc', mimetype: 'image/png', size: 1234, width: 64, height: 32, alt: 'a cat' };
  it('classic', () => {
    expect(imageMessage('classic', img)).toEqual({
      type: 'm.room.message',
      content: { msgtype: 'm.image', body: 'a cat', url: 'mxc://hs/abc', info: { mimetype: 'image/png', size: 1234, w: 64, h: 32 } },
    });
  });
  it('extensible', () => {
    expect(imageMessage('extensible', { ...img, name: 'cat.png' })).toEqual({
      type: 'm.image',
      content: {
        'm.text': [{ body: 'a cat' }],
        'm.file': { url: 'mxc://hs/abc', mimetype: 'image/png', size: 1234, name: 'cat.png' },
        'm.image_details': { width: 64, height: 32 },
      },
    });
  });
  for (const format of formats) {
    it(`reads back (${format})`, () => {
      const draft = imageMessage(format, img);
      expect(messageBody(draft)).toBe('a cat');
      expect(imageOf(draft)).toEqual({ url: 'mxc://hs/abc', mimetype: 'image/png', width: 64, height: 32 });
    });
    it(`without dimensions (${format})`, () => {
      const draft = imageMessage(format, { url: 'mxc://hs/x', mimetype: 'image/jpeg', size: 1, alt: '' });
      expect(imageOf(draft)).toEqual({ url: 'mxc://hs/x', mimetype: 'image/jpeg' });
    });
    it(`in a thread (${format})`, () => {
      const draft = imageMessage(format, img, { threadRoot: '$r' });
      expect(relationOf(draft)).toEqual({ rel_type: 'm.thread', event_id: '$r', in_reply_to: '$r', is_falling_back: true });
    });
  }
});

describe('messageBody / isMessageEvent', () => {
  const cases: [string, JsonObject, string | undefined, boolean][] = [
    ['classic text', { type: 'm.room.message', content: { msgtype: 'm.text', body: 'b' } }, 'b', true],
    ['classic emote', { type: 'm.room.message', content: { msgtype: 'm.emote', body: 'waves' } }, 'waves', true],
    ['classic, body not a string', { type: 'm.room.message', content: { body: 5 } }, undefined, true],
    ['extensible, html first', { type: 'm.message', content: { 'm.text': [{ mimetype: 'text/html', body: '<b>x</b>' }, { body: 'x' }] } }, 'x', true],
    ['extensible, text/plain mimetype', { type: 'm.message', content: { 'm.text': [{ mimetype: 'text/plain', body: 'p' }] } }, 'p', true],
    ['extensible, html only', { type: 'm.message', content: { 'm.text': [{ mimetype: 'text/html', body: '<b>x</b>' }] } }, undefined, true],
    ['extensible, m.text garbage', { type: 'm.message', content: { 'm.text': [1, null, { body: 2 }] } }, undefined, true],
    ['extensible emote type', { type: 'm.emote', content: { 'm.text': [{ body: 'e' }] } }, 'e', true],
    ['state event', { type: 'm.room.message', state_key: '', content: { body: 'b' } }, undefined, false],
    ['topic', { type: 'm.room.topic', state_key: '', content: { topic: 't' } }, undefined, false],
    ['no content', { type: 'm.room.message' }, undefined, true],
    ['content is an array', { type: 'm.message', content: [] }, undefined, true],
    ['type not a string', { type: 7, content: { body: 'b' } }, undefined, false],
  ];
  for (const [name, event, body, isMsg] of cases) {
    it(name, () => {
      expect(messageBody(event)).toBe(body);
      expect(isMessageEvent(event)).toBe(isMsg);
    });
  }
  it('plainText accepts the early bare-string form', () => expect(plainText('s')).toBe('s'));
});

describe('formattedBody', () => {
  const H = 'org.matrix.custom.html';
  const cases: [string, JsonObject, ReturnType<typeof formattedBody>][] = [
    ['classic html', { type: 'm.room.message', content: { msgtype: 'm.text', body: 'x', format: H, formatted_body: '<b>x</b>' } }, { format: H, formatted_body: '<b>x</b>' }],
    ['classic, unknown format kept for the UI to refuse', { type: 'm.room.message', content: { body: 'x', format: 'x.md', formatted_body: '*x*' } }, { format: 'x.md', formatted_body: '*x*' }],
    ['classic, no format', { type: 'm.room.message', content: { body: 'x', formatted_body: '<b>x</b>' } }, undefined],
    ['classic, formatted_body not a string', { type: 'm.room.message', content: { body: 'x', format: H, formatted_body: 5 } }, undefined],
    ['classic, plain', { type: 'm.room.message', content: { msgtype: 'm.text', body: 'x' } }, undefined],
    ['extensible html rep', { type: 'm.message', content: { 'm.text': [{ body: 'x' }, { mimetype: 'text/html', body: '<i>x</i>' }] } }, { format: H, formatted_body: '<i>x</i>' }],
    ['extensible, plain only', { type: 'm.message', content: { 'm.text': [{ body: 'x' }] } }, undefined],
    ['extensible, m.text garbage', { type: 'm.message', content: { 'm.text': [null, { mimetype: 'text/html', body: 1 }] } }, undefined],
    ['state event', { type: 'm.room.message', state_key: '', content: { format: H, formatted_body: '<b>x</b>' } }, undefined],
  ];
  for (const [name, event, want] of cases) it(name, () => expect(formattedBody(event)).toEqual(want));
  for (const f of formats) {
    it(`reads what textMessage builds (${f})`, () => {
      expect(formattedBody(textMessage(f, 'hi', { html: '<b>hi</b>' }))).toEqual({ format: H, formatted_body: '<b>hi</b>' });
    });
  }
});

describe('relationOf', () => {
  const cases: [string, unknown, ReturnType<typeof relationOf>][] = [
    ['none', { body: 'x' }, undefined],
    ['not an object', { 'm.relates_to': 'x' }, undefined],
    ['empty', { 'm.relates_to': {} }, undefined],
    ['wrong types dropped', { 'm.relates_to': { rel_type: 1, event_id: '$e', key: null, is_falling_back: 'yes' } }, { event_id: '$e' }],
    ['bad in_reply_to', { 'm.relates_to': { 'm.in_reply_to': { event_id: 3 } } }, undefined],
    ['content not an object', 'nope', undefined],
  ];
  for (const [name, content, want] of cases) {
    it(name, () => expect(relationOf({ type: 'm.room.message', content })).toEqual(want));
  }
});

describe('stripReplyFallback', () => {
  const cases: [string, string][] = [
    ['> <@a:hs> hello\n> more\n\nreply', 'reply'],
    ['no fallback', 'no fallback'],
    ['> quote only', ''],
    ['>no space\nx', '>no space\nx'],
  ];
  for (const [input, want] of cases) it(JSON.stringify(input), () => expect(stripReplyFallback(input)).toBe(want));
});

describe('readers never throw on arbitrary JSON', () => {
  it('property', () => {
    const types = fc.constantFrom('m.room.message', 'm.message', 'm.image', 'm.reaction', 'm.room.member', 'x');
    fc.assert(
      fc.property(types, fc.jsonValue(), fc.option(fc.string(), { nil: undefined }), (type, content, stateKey) => {
        const event = { type, content, state_key: stateKey };
        messageBody(event);
        formattedBody(event);
        isMessageEvent(event);
        relationOf(event);
        imageOf(event);
        const body = messageBody(event);
        expect(body === undefined || typeof body === 'string').toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});

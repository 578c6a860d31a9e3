import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { JsonObject, JsonValue } from '../../src/core/json.ts';
import {
  type ContentFormat,
  type EventDraft,
  type TimelineInput,
  type TimelineItem,
  aggregateTimeline,
  describeStateChange,
  editMessage,
  imageMessage,
  reaction,
  textMessage,
  threadItems,
} from '../../src/server/content/index.ts';

const A = '@alice:hs1';
const B = '@bob:hs2';
const C = '@carol:hs3';
const formats: ContentFormat[] = ['classic', 'extensible'];

let clock = 0;
function ev(id: string, sender: string, draft: EventDraft, extra: Partial<TimelineInput> = {}): TimelineInput {
  clock += 1;
  return { event_id: id, sender, type: draft.type, content: draft.content, origin_server_ts: clock, ...extra };
}
function st(id: string, sender: string, type: string, stateKey: string, content: JsonObject, extra: Partial<TimelineInput> = {}): TimelineInput {
  return ev(id, sender, { type, content }, { state_key: stateKey, ...extra });
}
function byId(items: TimelineItem[], id: string): TimelineItem {
  const item = items.find((i) => i.event_id === id);
  if (!item) throw new Error(`no item ${id}`);
  return item;
}

for (const f of formats) {
  describe(`aggregateTimeline (${f})`, () => {
    it('shows messages and hides reactions, edits, redactions and hidden events', () => {
      const items = aggregateTimeline([
        ev('$m', A, textMessage(f, 'hello')),
        ev('$r', B, reaction('$m', '👍')),
        ev('$e', A, editMessage(f, '$m', 'hello!')),
        ev('$x', A, { type: 'm.room.redaction', content: { redacts: '$nothing' } }),
        ev('$h', B, textMessage(f, 'soft-failed'), { hidden: true }),
        ev('$u', B, { type: 'com.example.custom', content: {} }),
      ]);
      expect(items.map((i) => i.event_id)).toEqual(['$m']);
      expect(items[0]).toMatchObject({ kind: 'message', body: 'hello!', edited: true, sender: A });
    });

    describe('edits', () => {
      const cases: [string, TimelineInput[], string, boolean][] = [
        ['latest edit wins', [ev('$m', A, textMessage(f, 'v0')), ev('$e1', A, editMessage(f, '$m', 'v1')), ev('$e2', A, editMessage(f, '$m', 'v2'))], 'v2', true],
        [
          'latest by ts, not timeline position',
          [ev('$m', A, textMessage(f, 'v0')), ev('$e1', A, editMessage(f, '$m', 'v1'), { origin_server_ts: 900 }), ev('$e2', A, editMessage(f, '$m', 'v2'), { origin_server_ts: 800 })],
          'v1',
          true,
        ],
        [
          'same ts: larger event ID wins',
          [ev('$m', A, textMessage(f, 'v0')), ev('$eb', A, editMessage(f, '$m', 'b'), { origin_server_ts: 500 }), ev('$ea', A, editMessage(f, '$m', 'a'), { origin_server_ts: 500 })],
          'b',
          true,
        ],
        ['edit from another sender ignored', [ev('$m', A, textMessage(f, 'mine')), ev('$e', B, editMessage(f, '$m', 'hijacked'))], 'mine', false],
        [
          'edit of an edit ignored',
          [ev('$m', A, textMessage(f, 'v0')), ev('$e1', A, editMessage(f, '$m', 'v1')), ev('$e2', A, editMessage(f, '$e1', 'v2'), { origin_server_ts: 999 })],
          'v1',
          true,
        ],
        [
          'redacted latest edit reverts to the previous one',
          [ev('$m', A, textMessage(f, 'v0')), ev('$e1', A, editMessage(f, '$m', 'v1')), ev('$e2', A, editMessage(f, '$m', 'v2'), { redacted_because: '$red' })],
          'v1',
          true,
        ],
        ['only edit redacted', [ev('$m', A, textMessage(f, 'v0')), ev('$e1', A, editMessage(f, '$m', 'v1'), { redacted_because: '$red' })], 'v0', false],
        ['hidden edit ignored', [ev('$m', A, textMessage(f, 'v0')), ev('$e1', A, editMessage(f, '$m', 'v1'), { hidden: true })], 'v0', false],
        [
          'edit without m.new_content ignored',
          [ev('$m', A, textMessage(f, 'v0')), ev('$e1', A, { type: textMessage(f, '').type, content: { body: '* x', 'm.relates_to': { rel_type: 'm.replace', event_id: '$m' } } })],
          'v0',
          false,
        ],
        ['edit arriving before its target still applies', [ev('$e1', A, editMessage(f, '$m', 'v1')), ev('$m', A, textMessage(f, 'v0'))], 'v1', true],
        [
          'edit of a reply keeps the reply',
          [ev('$p', B, textMessage(f, 'q')), ev('$m', A, textMessage(f, 'a', { replyTo: '$p' })), ev('$e', A, editMessage(f, '$m', 'a2'))],
          'a2',
          true,
        ],
      ];
      for (const [name, events, body, edited] of cases) {
        it(name, () => {
          const items = aggregateTimeline(events);
          expect(byId(items, '$m').body).toBe(body);
          expect(byId(items, '$m').edited).toBe(edited);
          // Edits never show up as items of their own, valid or not.
          expect(items.map((i) => i.event_id).filter((id) => id !== '$p')).toEqual(['$m']);
        });
      }
      it('an edit replaces the formatted body with its m.new_content one, or drops it', () => {
        const H = 'org.matrix.custom.html';
        const rich = aggregateTimeline([ev('$m', A, textMessage(f, 'v0', { html: '<b>v0</b>' })), ev('$e', A, editMessage(f, '$m', 'v1', { html: '<i>v1</i>' }))]);
        expect(byId(rich, '$m')).toMatchObject({ body: 'v1', format: H, formatted_body: '<i>v1</i>', edited: true });
        // m.new_content replaces the content wholesale: a plain edit leaves no stale markup behind.
        const plain = aggregateTimeline([ev('$m', A, textMessage(f, 'v0', { html: '<b>v0</b>' })), ev('$e', A, editMessage(f, '$m', 'v1'))]);
        expect(byId(plain, '$m').body).toBe('v1');
        expect(byId(plain, '$m').format).toBeUndefined();
        expect(byId(plain, '$m').formatted_body).toBeUndefined();
        // An invalid edit (another sender) changes neither.
        const forged = aggregateTimeline([ev('$m', A, textMessage(f, 'v0', { html: '<b>v0</b>' })), ev('$e', B, editMessage(f, '$m', 'x', { html: '<i>x</i>' }))]);
        expect(byId(forged, '$m')).toMatchObject({ body: 'v0', formatted_body: '<b>v0</b>', edited: false });
      });
      it('edit of a reply keeps replyTo', () => {
        const items = aggregateTimeline([ev('$p', B, textMessage(f, 'q')), ev('$m', A, textMessage(f, 'a', { replyTo: '$p' })), ev('$e', A, editMessage(f, '$m', 'a2'))]);
        expect(byId(items, '$m').replyTo).toEqual({ event_id: '$p', sender: B, body: 'q' });
      });
    });

    it('counts reactions per key, once per sender, ignoring redacted and hidden ones', () => {
      const items = aggregateTimeline([
        ev('$m', A, textMessage(f, 'hi')),
        ev('$r1', B, reaction('$m', '👍')),
        ev('$r2', B, reaction('$m', '👍')),
        ev('$r3', C, reaction('$m', '👍')),
        ev('$r4', A, reaction('$m', '🎉')),
        ev('$r5', C, reaction('$m', '🎉'), { redacted_because: '$x' }),
        ev('$r6', C, reaction('$m', '🙂'), { hidden: true }),
        ev('$r7', C, { type: 'm.reaction', content: { 'm.relates_to': { rel_type: 'm.annotation', event_id: '$m' } } }),
      ]);
      expect(byId(items, '$m').reactions).toEqual([
        { key: '👍', count: 2, senders: [B, C] },
        { key: '🎉', count: 1, senders: [A] },
      ]);
    });

    it('reactions to an edit are not counted on the original', () => {
      const items = aggregateTimeline([ev('$m', A, textMessage(f, 'hi')), ev('$e', A, editMessage(f, '$m', 'hi!')), ev('$r', B, reaction('$e', '👍'))]);
      expect(byId(items, '$m').reactions).toEqual([]);
    });

    it('text messages carry their formatted body; plain ones and images carry none', () => {
      const img = imageMessage(f, { url: 'mxc://hs1/i', mimetype: 'image/png', size: 1, alt: 'pic' });
      if (f === 'classic') Object.assign(img.content, { format: 'org.matrix.custom.html', formatted_body: '<b>caption</b>' });
      const items = aggregateTimeline([ev('$h', A, textMessage(f, 'hi', { html: '<b>hi</b>' })), ev('$p', A, textMessage(f, 'plain')), ev('$i', A, img)]);
      expect(byId(items, '$h')).toMatchObject({ kind: 'message', body: 'hi', format: 'org.matrix.custom.html', formatted_body: '<b>hi</b>' });
      for (const id of ['$p', '$i']) {
        expect(byId(items, id).format).toBeUndefined();
        expect(byId(items, id).formatted_body).toBeUndefined();
      }
    });

    it('redacted messages lose body, edits and reactions', () => {
      const items = aggregateTimeline([
        ev('$m', A, { type: textMessage(f, '').type, content: {} }, { redacted_because: '$red' }),
        ev('$e', A, editMessage(f, '$m', 'v1')),
        ev('$r', B, reaction('$m', '👍')),
        ev('$red', A, { type: 'm.room.redaction', content: { redacts: '$m' } }),
      ]);
      expect(items).toEqual([{ event_id: '$m', sender: A, ts: items[0]!.ts, kind: 'redacted', edited: false, reactions: [] }]);
    });

    it('replies quote their target (with its edit) and strip legacy fallbacks', () => {
      const reply = textMessage(f, 'x', { replyTo: '$m' });
      const legacy: EventDraft =
        f === 'classic'
          ? { type: 'm.room.message', content: { msgtype: 'm.text', body: '> <@alice:hs1> hi\n\nsure', 'm.relates_to': { 'm.in_reply_to': { event_id: '$m' } } } }
          : textMessage(f, '> <@alice:hs1> hi\n\nsure', { replyTo: '$m' });
      const items = aggregateTimeline([
        ev('$m', A, textMessage(f, 'hi')),
        ev('$e', A, editMessage(f, '$m', 'hi (edited)')),
        ev('$r', B, reply),
        ev('$l', B, legacy),
        ev('$o', B, textMessage(f, 'to the past', { replyTo: '$old' })),
      ]);
      expect(byId(items, '$r').replyTo).toEqual({ event_id: '$m', sender: A, body: 'hi (edited)' });
      expect(byId(items, '$l').body).toBe('sure');
      expect(byId(items, '$o').replyTo).toEqual({ event_id: '$old' });
    });

    it('threads: summary on the root, inThread on replies, fallback is not a reply', () => {
      const events = [
        ev('$root', A, textMessage(f, 'topic?')),
        ev('$t1', B, textMessage(f, 'one', { threadRoot: '$root' })),
        ev('$main', C, textMessage(f, 'unrelated')),
        ev('$t2', C, textMessage(f, 'two', { threadRoot: '$root', threadLatest: '$t1' })),
        ev('$t3', A, textMessage(f, 're one', { threadRoot: '$root', threadLatest: '$t2', replyTo: '$t1' })),
        ev('$tr', A, reaction('$t2', '👀')),
      ];
      const items = aggregateTimeline(events);
      expect(byId(items, '$root').thread).toEqual({ count: 3, latestEventId: '$t3' });
      expect(byId(items, '$root').inThread).toBeUndefined();
      expect(byId(items, '$t1')).toMatchObject({ inThread: '$root', body: 'one' });
      expect(byId(items, '$t1').replyTo).toBeUndefined();
      expect(byId(items, '$t2').replyTo).toBeUndefined();
      expect(byId(items, '$t2').reactions).toEqual([{ key: '👀', count: 1, senders: [A] }]);
      expect(byId(items, '$t3').replyTo).toEqual({ event_id: '$t1', sender: B, body: 'one' });
      expect(byId(items, '$main').thread).toBeUndefined();
      expect(threadItems(events, '$root').map((i) => i.event_id)).toEqual(['$root', '$t1', '$t2', '$t3']);
    });

    it('a thread off a relation is invalid: the event stays in the main timeline', () => {
      const items = aggregateTimeline([
        ev('$m', A, textMessage(f, 'hi')),
        ev('$t', B, textMessage(f, 'in thread', { threadRoot: '$m' })),
        ev('$bad', C, textMessage(f, 'nested', { threadRoot: '$t' })),
      ]);
      expect(byId(items, '$bad').inThread).toBeUndefined();
      expect(byId(items, '$t').thread).toBeUndefined();
      expect(byId(items, '$m').thread).toEqual({ count: 1, latestEventId: '$t' });
    });

    it('a thread whose root is outside the window keeps inThread', () => {
      const items = aggregateTimeline([ev('$t', B, textMessage(f, 'late', { threadRoot: '$gone' }))]);
      expect(items[0]?.inThread).toBe('$gone');
    });

    it('images, and an image caption edit', () => {
      const items = aggregateTimeline([
        ev('$i', A, imageMessage(f, { url: 'mxc://hs1/cat', mimetype: 'image/png', size: 10, width: 4, height: 3, alt: 'cat' })),
        ev('$j', A, imageMessage(f, { url: 'mxc://hs1/dog', mimetype: 'image/png', size: 10, alt: 'dog' })),
      ]);
      expect(byId(items, '$i')).toMatchObject({ kind: 'image', body: 'cat', image: { url: 'mxc://hs1/cat', mimetype: 'image/png', width: 4, height: 3 } });
      expect(byId(items, '$j')).toMatchObject({ kind: 'image', body: 'dog', image: { url: 'mxc://hs1/dog', mimetype: 'image/png' } });
    });
  });
}

describe('membership and state notices', () => {
  const m = (membership: string, extra: JsonObject = {}): JsonObject => ({ membership, ...extra });
  const cases: [string, TimelineInput[], string][] = [
    ['join', [st('$1', A, 'm.room.member', A, m('join'))], 'alice joined'],
    ['join with a display name', [st('$1', A, 'm.room.member', A, m('join', { displayname: 'Alice' }))], 'Alice joined'],
    ['leave after join', [st('$1', B, 'm.room.member', B, m('join')), st('$2', B, 'm.room.member', B, m('leave'))], 'bob left'],
    ['invite', [st('$1', A, 'm.room.member', B, m('invite'))], 'alice invited bob'],
    ['invite rejected', [st('$1', A, 'm.room.member', B, m('invite')), st('$2', B, 'm.room.member', B, m('leave'))], 'bob rejected the invitation'],
    ['invite withdrawn', [st('$1', A, 'm.room.member', B, m('invite')), st('$2', A, 'm.room.member', B, m('leave'))], "alice withdrew bob's invitation"],
    ['kick with reason', [st('$1', B, 'm.room.member', B, m('join')), st('$2', A, 'm.room.member', B, m('leave', { reason: 'spam' }))], 'alice kicked bob: spam'],
    ['ban', [st('$1', B, 'm.room.member', B, m('join')), st('$2', A, 'm.room.member', B, m('ban'))], 'bob was banned by alice'],
    ['unban', [st('$1', A, 'm.room.member', B, m('ban')), st('$2', A, 'm.room.member', B, m('leave'))], 'alice unbanned bob'],
    ['knock', [st('$1', C, 'm.room.member', C, m('knock'))], 'carol knocked'],
    ['knock withdrawn', [st('$1', C, 'm.room.member', C, m('knock')), st('$2', C, 'm.room.member', C, m('leave'))], 'carol withdrew their knock'],
    ['knock rejected', [st('$1', C, 'm.room.member', C, m('knock')), st('$2', A, 'm.room.member', C, m('leave'))], "alice rejected carol's knock"],
    ['knock accepted by invite', [st('$1', C, 'm.room.member', C, m('knock')), st('$2', A, 'm.room.member', C, m('invite'))], 'alice invited carol'],
    [
      'display name change',
      [st('$1', A, 'm.room.member', A, m('join', { displayname: 'Alice' })), st('$2', A, 'm.room.member', A, m('join', { displayname: 'Ally' }))],
      'Alice changed their display name to Ally',
    ],
    ['display name set', [st('$1', A, 'm.room.member', A, m('join')), st('$2', A, 'm.room.member', A, m('join', { displayname: 'Alice' }))], 'alice set their display name to Alice'],
    ['avatar change', [st('$1', A, 'm.room.member', A, m('join')), st('$2', A, 'm.room.member', A, m('join', { avatar_url: 'mxc://a/b' }))], 'alice set a profile picture'],
    ['hidden join does not count as a transition', [st('$1', B, 'm.room.member', B, m('join'), { hidden: true }), st('$2', B, 'm.room.member', B, m('join'))], 'bob joined'],
    [
      'later notices use display names',
      [st('$1', A, 'm.room.member', A, m('join', { displayname: 'Alice' })), st('$2', A, 'm.room.member', B, m('invite'))],
      'Alice invited bob',
    ],
    ['create', [st('$1', A, 'm.room.create', '', { room_version: 'I.1' })], 'alice created the room'],
    ['topic', [st('$1', A, 'm.room.topic', '', { topic: 'x' })], 'alice changed the topic to “x”'],
    ['rich topic', [st('$1', A, 'm.room.topic', '', { topic: '', 'm.topic': { 'm.text': [{ body: 'rich' }] } })], 'alice changed the topic to “rich”'],
    ['topic removed', [st('$1', A, 'm.room.topic', '', {})], 'alice removed the topic'],
    ['room name', [st('$1', A, 'm.room.name', '', { name: 'Hearth' })], 'alice changed the room name to “Hearth”'],
    ['join rules', [st('$1', A, 'm.room.join_rules', '', { join_rule: 'public' })], 'alice made the room public'],
    ['initial power levels', [st('$1', A, 'm.room.power_levels', '', { users: { [A]: 100 } })], 'alice set the power levels'],
    [
      'power level change',
      [st('$1', A, 'm.room.power_levels', '', { users: { [A]: 100 } }), st('$2', A, 'm.room.power_levels', '', { users: { [A]: 100, [B]: 50 } })],
      'alice made bob a Moderator',
    ],
    ['unknown state', [st('$1', A, 'com.example.thing', 'k', { a: 1 })], 'alice changed the room state (com.example.thing)'],
  ];
  for (const [name, events, notice] of cases) {
    it(name, () => {
      const items = aggregateTimeline(events);
      const last = items.at(-1);
      expect(last?.kind).toBe('notice');
      expect(last?.notice).toBe(notice);
    });
  }

  it('describeStateChange works standalone with an explicit previous content', () => {
    expect(describeStateChange({ sender: A, type: 'm.room.member', state_key: B, content: { membership: 'leave' } }, { membership: 'invite' })).toBe(
      "alice withdrew bob's invitation",
    );
    expect(describeStateChange({ sender: A, type: 'm.room.member', state_key: A, content: 'garbage' })).toBe("alice's membership changed to an unknown state");
  });

  it('redacted state events stay notices', () => {
    const items = aggregateTimeline([st('$1', A, 'm.room.topic', '', {}, { redacted_because: '$r' })]);
    expect(items[0]).toMatchObject({ kind: 'notice', notice: 'alice removed the topic' });
  });
});

describe('aggregation never throws on malformed content', () => {
  const ids = fc.constantFrom('$a', '$b', '$c', '$d');
  const relatesTo = fc.oneof(
    fc.jsonValue(),
    fc.record({
      rel_type: fc.oneof(fc.constantFrom('m.replace', 'm.annotation', 'm.thread', 'm.reference'), fc.jsonValue()),
      event_id: fc.oneof(ids, fc.jsonValue()),
      key: fc.oneof(fc.string(), fc.jsonValue()),
      is_falling_back: fc.jsonValue(),
      'm.in_reply_to': fc.oneof(fc.record({ event_id: fc.oneof(ids, fc.jsonValue()) }), fc.jsonValue()),
    }),
  );
  const content = fc.oneof(
    fc.jsonValue(),
    fc.record(
      {
        'm.relates_to': relatesTo,
        'm.new_content': fc.jsonValue(),
        'm.text': fc.jsonValue(),
        body: fc.jsonValue(),
        msgtype: fc.oneof(fc.constantFrom('m.text', 'm.image'), fc.jsonValue()),
        url: fc.jsonValue(),
        info: fc.jsonValue(),
        'm.file': fc.jsonValue(),
        membership: fc.oneof(fc.constantFrom('join', 'leave', 'invite', 'ban', 'knock'), fc.jsonValue()),
        users: fc.jsonValue(),
        displayname: fc.jsonValue(),
      },
      { requiredKeys: [] },
    ),
  );
  const input = fc.record({
    event_id: ids,
    sender: fc.constantFrom(A, B, C, 'not-a-user'),
    type: fc.constantFrom('m.room.message', 'm.message', 'm.image', 'm.reaction', 'm.room.member', 'm.room.power_levels', 'm.room.topic', 'x.y'),
    state_key: fc.option(fc.constantFrom('', A, B), { nil: undefined }),
    content: content as fc.Arbitrary<JsonValue>,
    origin_server_ts: fc.integer(),
    redacted_because: fc.option(fc.constant('$r'), { nil: undefined }),
    hidden: fc.option(fc.boolean(), { nil: undefined }),
  });
  it('property', () => {
    fc.assert(
      fc.property(fc.array(input, { maxLength: 12 }), (raw) => {
        // Content that is not an object can still arrive from a buggy caller at runtime.
        const events = raw.map((e) => ({ ...e, content: e.content as JsonObject }));
        const items = aggregateTimeline(events);
        for (const item of items) {
          expect(['message', 'image', 'notice', 'redacted']).toContain(item.kind);
          expect(item.body === undefined || typeof item.body === 'string').toBe(true);
        }
        threadItems(events, '$a');
      }),
      { numRuns: 500 },
    );
  });
});

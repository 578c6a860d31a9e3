import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/core/json.ts';
import { type TimelineInput, type TimelineSource, aggregateTimeline, relationOf, timelineWindow } from '../../src/server/content/index.ts';

/**
 * timelineWindow must give, item for item, what aggregating every visible event and keeping
 * the last `limit` items gives: random rooms of messages, edits (valid or not, before or after
 * their target), reactions, replies, thread events (valid and invalid roots), state changes,
 * redacted, hidden and invisible events.
 */
const USERS = ['@alice:hs1', '@bob:hs2', '@carol:hs3'];

type Kind = 'message' | 'edit' | 'reaction' | 'reply' | 'thread' | 'member' | 'name' | 'topic' | 'encrypted' | 'other';
interface Draft {
  kind: Kind;
  sender: number;
  /** The related event, as an index into the room (any event, earlier or later). */
  target: number;
  text: number;
  redacted: boolean;
  hidden: boolean;
  invisible: boolean;
  fallingBack: boolean;
}

const draft: fc.Arbitrary<Draft> = fc.record({
  kind: fc.constantFrom<Kind>('message', 'message', 'message', 'edit', 'reaction', 'reply', 'thread', 'member', 'name', 'topic', 'encrypted', 'other'),
  sender: fc.nat({ max: USERS.length - 1 }),
  target: fc.nat({ max: 10_000 }),
  text: fc.nat({ max: 4 }),
  redacted: fc.nat({ max: 9 }).map((n) => n < 1),
  hidden: fc.nat({ max: 9 }).map((n) => n < 1),
  invisible: fc.nat({ max: 9 }).map((n) => n < 2),
  fallingBack: fc.boolean(),
});

interface RoomEvent {
  input: TimelineInput;
  visible: boolean;
}

function build(drafts: readonly Draft[]): RoomEvent[] {
  const id = (i: number) => `$e${i}`;
  return drafts.map((d, i) => {
    const target = id(d.target % drafts.length);
    const sender = USERS[d.sender]!;
    let content: JsonObject;
    let type = 'm.room.message';
    let stateKey: string | undefined;
    switch (d.kind) {
      case 'message':
        content = { msgtype: 'm.text', body: `message ${i} (${d.text})` };
        break;
      case 'edit':
        content = {
          msgtype: 'm.text',
          body: `* edited ${i}`,
          'm.new_content': { msgtype: 'm.text', body: `edited by ${i}` },
          'm.relates_to': { rel_type: 'm.replace', event_id: target },
        };
        break;
      case 'reaction':
        type = 'm.reaction';
        content = { 'm.relates_to': { rel_type: 'm.annotation', event_id: target, key: ['👍', '🎉', '❤️'][d.text % 3]! } };
        break;
      case 'reply':
        content = { msgtype: 'm.text', body: `> quote\n\nreply ${i}`, 'm.relates_to': { 'm.in_reply_to': { event_id: target } } };
        break;
      case 'thread':
        content = {
          msgtype: 'm.text',
          body: `in thread ${i}`,
          'm.relates_to': { rel_type: 'm.thread', event_id: target, is_falling_back: d.fallingBack, 'm.in_reply_to': { event_id: target } },
        };
        break;
      case 'member':
        type = 'm.room.member';
        stateKey = USERS[d.text % USERS.length]!;
        content = d.text === 4 ? { membership: 'leave' } : { membership: 'join', displayname: `Name ${d.text} (${i})` };
        break;
      case 'name':
        type = 'm.room.name';
        stateKey = '';
        content = { name: `Room ${i}` };
        break;
      case 'topic':
        type = 'm.room.topic';
        stateKey = '';
        content = d.text === 0 ? ({ topic: 5 } as unknown as JsonObject) : { topic: `Topic ${i}` };
        break;
      case 'encrypted':
        type = 'm.room.encrypted';
        content = { algorithm: 'm.megolm.v1.aes-sha2', ciphertext: 'x', ...(d.text < 2 ? { 'm.relates_to': { rel_type: 'm.thread', event_id: target } } : {}) };
        break;
      default:
        type = 'org.example.custom';
        content = { 'm.relates_to': { rel_type: 'org.example', event_id: target } };
    }
    const input: TimelineInput = {
      event_id: id(i),
      sender,
      type,
      ...(stateKey !== undefined ? { state_key: stateKey } : {}),
      content,
      origin_server_ts: 1_000 + (i % 7) * 10 + (d.text % 3),
      ...(d.redacted ? { redacted_because: `$redaction${i}` } : {}),
      ...(d.hidden ? { hidden: true } : {}),
    };
    return { input, visible: !d.invisible };
  });
}

function source(room: readonly RoomEvent[], reads: { inputs: number }): TimelineSource {
  return {
    length: room.length,
    id: (i) => room[i]!.input.event_id,
    isState: (i) => typeof room[i]!.input.state_key === 'string',
    relation: (i) => relationOf(room[i]!.input),
    input: (i) => {
      reads.inputs++;
      return room[i]!.visible ? room[i]!.input : undefined;
    },
  };
}

/** The definition: every visible event before `end` aggregated, the last `limit` items kept. */
function reference(room: readonly RoomEvent[], end: number, limit: number) {
  const items = aggregateTimeline(room.slice(0, end).filter((e) => e.visible).map((e) => e.input));
  return { items: items.slice(Math.max(0, items.length - limit)), hasMore: items.length > limit };
}

describe('timelineWindow: the window of a timeline, at the cost of the window', () => {
  it('equals aggregating every visible event and keeping the last `limit` items, on random rooms', () => {
    fc.assert(
      fc.property(fc.array(draft, { minLength: 0, maxLength: 160, size: 'max' }), fc.integer({ min: 0, max: 30 }), fc.nat(), (drafts, limit, cut) => {
        const room = build(drafts);
        const end = room.length === 0 ? 0 : room.length - (cut % Math.min(room.length, 10));
        expect(timelineWindow(source(room, { inputs: 0 }), end, limit)).toEqual(reference(room, end, limit));
      }),
      { numRuns: 600 },
    );
  });

  it('reads the inputs of the window and of the state before it, not of every earlier message', () => {
    const drafts: Draft[] = [];
    const plain = { target: 0, text: 1, redacted: false, hidden: false, invisible: false, fallingBack: false };
    for (let i = 0; i < 3; i++) drafts.push({ ...plain, kind: 'member', sender: i, text: i });
    for (let i = 0; i < 5_000; i++) drafts.push({ ...plain, kind: 'message', sender: i % 3 });
    // A reply near the end quoting an old message, and an old edit of it.
    drafts.push({ ...plain, kind: 'reply', sender: 1, target: 10 });
    drafts[20] = { ...plain, kind: 'edit', sender: drafts[10]!.sender, target: 10 };
    const room = build(drafts);
    const reads = { inputs: 0 };
    const got = timelineWindow(source(room, reads), room.length, 50);
    expect(got).toEqual(reference(room, room.length, 50));
    const reply = got.items.at(-1)!;
    expect(reply.replyTo).toEqual({ event_id: '$e10', sender: USERS[drafts[10]!.sender], body: 'edited by 20' });
    expect(reads.inputs).toBeLessThan(100);
  });

  it('describes a state change in the window against the state before it', () => {
    const plain = { target: 0, text: 1, redacted: false, hidden: false, invisible: false, fallingBack: false };
    const drafts: Draft[] = [{ ...plain, kind: 'member', sender: 0, text: 0 }];
    for (let i = 0; i < 200; i++) drafts.push({ ...plain, kind: 'message', sender: 0 });
    drafts.push({ ...plain, kind: 'member', sender: 0, text: 3 });
    const room = build(drafts);
    const got = timelineWindow(source(room, { inputs: 0 }), room.length, 5);
    expect(got.items.at(-1)!.notice).toBe(reference(room, room.length, 5).items.at(-1)!.notice);
    expect(got.items.at(-1)!.notice).toMatch(/Name 0 \(0\)/);
  });
});

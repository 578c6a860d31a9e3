import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/core/json.ts';
import { describePowerLevels, roleLabel, roleOf } from '../../src/server/content/power-levels.ts';
import { powerWarnings } from '../../src/ui/roles.ts';

const A = '@alice:hs1';
const B = '@bob:hs2';
const C = '@carol:hs3';
const names: Record<string, string> = { [A]: 'Alice', [B]: 'Bob', [C]: 'Carol' };
const nameOf = (u: string) => names[u] ?? u;

/** A room's usual power levels after creation (what the private_chat preset makes). */
const base: JsonObject = {
  users: { [A]: 100 },
  users_default: 0,
  events_default: 0,
  state_default: 50,
  invite: 0,
  kick: 50,
  ban: 50,
  redact: 50,
  events: { 'm.room.name': 50, 'm.room.power_levels': 100, 'm.room.topic': 50 },
};
const w = (change: JsonObject): JsonObject => ({ ...base, ...change });

describe('roles', () => {
  it.each([
    [100, 0, 'Admin'],
    [50, 0, 'Moderator'],
    [0, 0, 'Default'],
    [10, 10, 'Default'],
    [10, 0, 'Custom'],
    [0, 10, 'Custom'],
  ] as const)('level %i with users_default %i is %s', (level, usersDefault, role) => {
    expect(roleOf(level, usersDefault)).toBe(role);
  });
  it('labels custom levels with their number and creators as Creator', () => {
    expect(roleLabel(75)).toBe('Custom (75)');
    expect(roleLabel(Number.POSITIVE_INFINITY)).toBe('Creator');
  });
});

describe('describePowerLevels: every change in words', () => {
  const cases: [string, JsonObject | undefined, JsonObject, string][] = [
    ['the first power levels', undefined, base, 'Alice set the power levels'],
    ['nothing that matters changed', base, { ...base }, 'Alice changed the power levels'],
    ['a person made moderator', base, w({ users: { [A]: 100, [B]: 50 } }), 'Alice made Bob a Moderator'],
    ['a person made admin', base, w({ users: { [A]: 100, [B]: 100 } }), 'Alice made Bob an Admin'],
    ['a moderator back to default (entry removed)', w({ users: { [A]: 100, [B]: 50 } }), base, "Alice changed Bob's role from Moderator to Default"],
    ['a custom level', base, w({ users: { [A]: 100, [B]: 75 } }), "Alice changed Bob's role from Default to Custom (75)"],
    ['lowering oneself', base, w({ users: { [A]: 50 } }), 'Alice made themselves a Moderator'],
    ['oneself to a custom level', base, w({ users: { [A]: 75 } }), 'Alice changed their own role from Admin to Custom (75)'],
    ['the default role', base, w({ users_default: 50 }), 'Alice changed the default role from Default to Moderator'],
    ['the default role to a custom level', base, w({ users_default: 10 }), 'Alice changed the default role from Default to Custom (10)'],
    ['who can change the topic', base, w({ events: { ...(base.events as JsonObject), 'm.room.topic': 0 } }), 'Alice changed who can change the topic from Moderator to Default'],
    ['an event type added at its fallback level is no change', base, w({ events: { ...(base.events as JsonObject), 'm.room.avatar': 50 } }), 'Alice changed the power levels'],
    ['an event type added at another level', base, w({ events: { ...(base.events as JsonObject), 'm.room.avatar': 100 } }), 'Alice changed who can change the room avatar from Moderator to Admin'],
    ['an event type removed falls back to state_default', base, w({ events: { 'm.room.name': 50, 'm.room.topic': 50 } }), 'Alice changed who can change permissions from Admin to Moderator'],
    ['an unknown event type', base, w({ events: { ...(base.events as JsonObject), 'org.example.poll': 10 } }), 'Alice changed who can send org.example.poll events from Moderator to Custom (10)'],
    ['a message type falls back to events_default', base, w({ events: { ...(base.events as JsonObject), 'm.reaction': 50 } }), 'Alice changed who can react from Default to Moderator'],
    ['sending messages', base, w({ events_default: 50 }), 'Alice changed who can send messages from Default to Moderator'],
    ['settings', base, w({ state_default: 100 }), 'Alice changed who can change the room settings from Moderator to Admin'],
    ['invite', base, w({ invite: 50 }), 'Alice changed who can invite people from Default to Moderator'],
    ['kick', base, w({ kick: 0 }), 'Alice changed who can remove people from Moderator to Default'],
    ['ban', base, w({ ban: 100 }), 'Alice changed who can ban people from Moderator to Admin'],
    ['redact', base, w({ redact: 0 }), "Alice changed who can delete other people's messages from Moderator to Default"],
    ['an absent key takes the spec default', { users: { [A]: 100 } }, { users: { [A]: 100 }, kick: 50 }, 'Alice changed the power levels'],
    ['room notifications', base, w({ notifications: { room: 100 } }), 'Alice changed who can notify the whole room from Moderator to Admin'],
    [
      'several changes in one event',
      base,
      w({ users: { [A]: 100, [B]: 50, [C]: 100 }, invite: 50 }),
      'Alice made Bob a Moderator, made Carol an Admin and changed who can invite people from Default to Moderator',
    ],
    ['"Default" follows the new users_default', base, w({ users_default: 10, invite: 10 }), 'Alice changed the default role from Default to Custom (10) and changed who can invite people from level 0 to level 10'],
    ['garbage levels read as their defaults', base, w({ kick: 'lots' as unknown as number, users: { [A]: 100, [B]: null } }), 'Alice changed the power levels'],
  ];
  it.each(cases)('%s', (_name, prev, next, sentence) => {
    expect(describePowerLevels('Alice', next, prev, nameOf, A)).toBe(sentence);
  });
});

describe('powerWarnings: what a save asks about first', () => {
  const cases: [string, JsonObject, boolean, string[]][] = [
    ['nothing risky', w({ users: { [A]: 100, [B]: 50 } }), false, []],
    ['lowering oneself', w({ users: { [A]: 50 } }), false, ['You are lowering your own role from Admin to Moderator. Only someone with a higher role can give it back.']],
    ['a creator (v12) has no level to lower', w({ users: {} }), true, []],
    ['raising oneself is no warning', w({ users: { [A]: 100 }, users_default: 0 }), false, []],
    ['an action opened to everyone', w({ kick: 0 }), false, ['Everyone in the room will be able to remove people.']],
    [
      'an event type opened to everyone',
      w({ events: { ...(base.events as JsonObject), 'm.room.topic': 0 } }),
      false,
      ['Everyone in the room will be able to change the topic.'],
    ],
    [
      'raising the default role opens every action at or below it',
      w({ users_default: 50 }),
      false,
      [
        "Everyone in the room will be able to change the room settings, remove people, ban people, delete other people's messages, change the room name, change the topic.",
      ],
    ],
    ['an action already open to everyone stays quiet', w({ invite: -1 }), false, []],
  ];
  it.each(cases)('%s', (_name, next, amCreator, warnings) => {
    expect(powerWarnings(base, next, A, amCreator)).toEqual(warnings);
  });
});

import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/core/json.ts';
import { editsBetween, levelMap, NO_POWER_EDITS, powerLevelsWithEdits, withEdits } from '../../src/ui/edits.ts';

const A = '@alice:hs1';
const B = '@bob:hs2';
const C = '@carol:hs3';

describe('a form’s edits over the latest state', () => {
  it.each([
    ['nothing touched', { a: 1, b: 2 }, { a: 1, b: 2 }, {}],
    ['a value changed', { a: 1, b: 2 }, { a: 1, b: 3 }, { b: 3 }],
    ['a key added', { a: 1 }, { a: 1, c: 5 }, { c: 5 }],
    ['a key removed', { a: 1, b: 2 }, { a: 1 }, { b: null }],
    ['changed back to the latest value', { a: 1 }, { a: 1 }, {}],
  ] as const)('%s', (_, latest, next, edits) => {
    expect(editsBetween<number>(latest, next)).toEqual(edits);
    expect(withEdits<number>(latest, editsBetween<number>(latest, next))).toEqual(next);
  });

  it('keeps the order of kept keys and puts added keys last', () => {
    expect(Object.keys(withEdits<number>({ a: 1, b: 2, c: 3 }, { b: 9, d: 4, a: null }))).toEqual(['b', 'c', 'd']);
  });

  it('applies edits made over an older state to the newer one: a change made meanwhile stays', () => {
    const seen = { [A]: 100, [B]: 100 };
    const edits = editsBetween<number>(seen, { ...seen, [C]: 50 });
    // Meanwhile Bob lowered himself to Moderator.
    expect(withEdits<number>({ [A]: 100, [B]: 50 }, edits)).toEqual({ [A]: 100, [B]: 50, [C]: 50 });
  });
});

describe('the power levels a save sends', () => {
  const latest: JsonObject = {
    users: { [A]: 100, [B]: 50 },
    users_default: 0,
    state_default: 50,
    kick: 50,
    events: { 'm.room.name': 50 },
    notifications: { room: 50 },
  };

  it('is the latest content unchanged when nothing was touched', () => {
    expect(JSON.stringify(powerLevelsWithEdits(latest, NO_POWER_EDITS))).toBe(JSON.stringify(latest));
  });

  it('changes only the touched keys and keeps what the form does not show', () => {
    const next = powerLevelsWithEdits(latest, { levels: { kick: 100 }, users: { [C]: 75, [B]: null }, events: { 'm.room.topic': 0 } });
    expect(next).toEqual({
      users: { [A]: 100, [C]: 75 },
      users_default: 0,
      state_default: 50,
      kick: 100,
      events: { 'm.room.name': 50, 'm.room.topic': 0 },
      notifications: { room: 50 },
    });
  });

  it('keeps entries of the users map the form cannot show', () => {
    const odd: JsonObject = { users: { [A]: 100, [B]: 'fifty' } };
    expect(levelMap(odd.users)).toEqual({ [A]: 100 });
    expect(powerLevelsWithEdits(odd, { ...NO_POWER_EDITS, users: { [C]: 50 } }).users).toEqual({ [A]: 100, [B]: 'fifty', [C]: 50 });
  });

  it('builds a users map when the content has none', () => {
    expect(powerLevelsWithEdits({}, { ...NO_POWER_EDITS, users: { [B]: 50 } })).toEqual({ users: { [B]: 50 } });
  });
});

/**
 * The pure parts of a room upgrade (src/server/upgrade.ts): the new room's
 * power levels across the version 12 boundary, and the old room's restriction.
 */
import { describe, expect, it } from 'vitest';
import { roomVersion } from '../../src/core/room-versions/registry.ts';
import { restrictedPowerLevels, upgradedPowerLevels } from '../../src/server/upgrade.ts';

const A = '@alice:a';
const B = '@bob:b';
const C = '@carol:c';

describe('upgradedPowerLevels', () => {
  const old = { users: { [B]: 50, [C]: 10 }, events: { 'm.room.tombstone': 150 }, ban: 50, users_default: 0 };

  it('into 12: the new creators are left out, other levels kept', () => {
    expect(upgradedPowerLevels({ ...old, users: { ...old.users, [A]: 100 } }, [], A, roomVersion('12'), [B])).toEqual({ ...old, users: { [C]: 10 } });
  });

  it('12 → 12: an old creator who is not a new one keeps the top level the content names', () => {
    expect(upgradedPowerLevels(old, [C], B, roomVersion('12'), []).users).toEqual({ [C]: 150 });
  });

  it('out of 12: the upgrader and the old creators get the top level (at least 100, here the tombstone’s 150)', () => {
    expect(upgradedPowerLevels(old, [A], B, roomVersion('11'), []).users).toEqual({ [A]: 150, [B]: 150, [C]: 10 });
    expect(upgradedPowerLevels({ users: {} }, [], A, roomVersion('10'), []).users).toEqual({ [A]: 100 });
  });

  it('without a power levels event the new room still gets one the upgrader can act in', () => {
    expect(upgradedPowerLevels(undefined, [], A, roomVersion('I.1'), [])).toEqual({ users: { [A]: 100 } });
  });
});

describe('restrictedPowerLevels', () => {
  it('raises events_default and invite to max(50, users_default + 1)', () => {
    expect(restrictedPowerLevels({ events_default: 0, invite: 0, users_default: 0 })).toMatchObject({ events_default: 50, invite: 50 });
    expect(restrictedPowerLevels({ users_default: 60 })).toMatchObject({ events_default: 61, invite: 61 });
  });

  it('changes nothing that is already restricted', () => {
    expect(restrictedPowerLevels({ events_default: 50, invite: 75, users_default: 0 })).toBeUndefined();
  });
});

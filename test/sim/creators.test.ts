import { describe, expect, it } from 'vitest';
import { creatorPowerExpectation, powerLevelsWithoutCreators } from '../../src/sim/creators.ts';

const A = '@alice:a';
const B = '@bob:b';

describe('the simulator’s room version 12 translation of power levels', () => {
  it('leaves creators out of a power levels event a step sends, and nothing else', () => {
    const content = { users: { [A]: 100, [B]: 50 }, ban: 50 };
    expect(powerLevelsWithoutCreators(content, [A])).toEqual({ users: { [B]: 50 }, ban: 50 });
    expect(powerLevelsWithoutCreators(content, [])).toBe(content);
  });

  it('an expected creator entry is met by the creator being absent, and fails when the event lists them', () => {
    const want = { users: { [A]: 100, [B]: 0 }, invite: 50 };
    expect(creatorPowerExpectation(want, { users: { [B]: 0 } }, [A])).toEqual({ rest: { users: { [B]: 0 }, invite: 50 }, failures: [] });
    const listed = creatorPowerExpectation(want, { users: { [A]: 100, [B]: 0 } }, [A]);
    expect(listed.failures).toEqual([expect.stringContaining(`lists the creator ${A}`)]);
    // Non-creators are still compared as written (by the caller's subset check).
    expect(creatorPowerExpectation(want, { users: {} }, [A]).rest).toEqual({ users: { [B]: 0 }, invite: 50 });
    // Before v12 there are no creators to translate.
    expect(creatorPowerExpectation(want, { users: {} }, [])).toEqual({ rest: want, failures: [] });
  });
});

import { describe, expect, it } from 'vitest';
import { parseScenario } from '../../src/sim/scenario.ts';

const withSteps = (steps: unknown[], extra: object = {}) => ({
  name: 'x',
  servers: ['a', 'b'],
  users: { alice: 'a', bob: 'b' },
  ...extra,
  steps: [{ do: 'createRoom', as: 'alice', room: 'r' }, ...steps],
});

describe('parseScenario: fault, load and chaos steps', () => {
  it('accepts every new step', () => {
    const s = parseScenario(
      withSteps(
        [
          { do: 'link', a: 'a', b: 'b', latency_ms: 10, jitter_ms: 5, loss: 0.2, bandwidth_kbps: 64, one_way: true },
          { do: 'flap', a: 'a', b: 'b', period_ms: 50, count: 3 },
          { do: 'partition', from: ['a'], to: ['b'] },
          { do: 'pause', server: 'b', ms: 100 },
          { do: 'wipe', server: 'b' },
          { do: 'load', as: 'alice', room: 'r', rate_per_s: 10, duration_ms: 100, kind: 'mixed' },
          { do: 'chaos', seed: 4, duration_ms: 500, faults: ['partition', 'wipe'], workload: { room: 'r', rate_per_s: 5, kind: 'state', as: ['bob'] } },
        ],
        { tuning: { anti_entropy_ms: 100, sample_ms: 0 } },
      ),
    );
    expect(s.steps.map((x) => x.do)).toEqual(['createRoom', 'link', 'flap', 'partition', 'pause', 'wipe', 'load', 'chaos']);
    expect(s.steps[6]).toMatchObject({ as: ['alice'] });
    expect(s.tuning).toEqual({ anti_entropy_ms: 100, sample_ms: 0 });
  });

  it.each([
    [{ do: 'partition', groups: [['a']], from: ['a'], to: ['b'] }, 'either "groups" or "from" and "to"'],
    [{ do: 'partition', from: ['a'] }, 'missing field "groups"'],
    [{ do: 'partition', from: ['a'], to: ['a'] }, 'in both "from" and "to"'],
    [{ do: 'link', a: 'a', b: 'b', loss: 2 }, '"loss" must be a probability'],
    [{ do: 'link', a: 'a', b: 'a' }, 'must be different servers'],
    [{ do: 'flap', a: 'a', b: 'b', period_ms: 50, count: 1.5 }, '"count" must be a positive integer'],
    [{ do: 'load', as: ['alice', 'zed'], room: 'r', rate_per_s: 1, duration_ms: 1, kind: 'message' }, 'names user "zed"'],
    [{ do: 'load', as: 'alice', room: 'r', rate_per_s: 1, duration_ms: 1, kind: 'spam' }, '"kind" must be one of message, state, mixed'],
    [{ do: 'chaos', seed: 1, duration_ms: 100, faults: ['meteor'], workload: { room: 'r', rate_per_s: 1, kind: 'message' } }, '"faults" must be an array of fault kinds'],
    [{ do: 'chaos', seed: -1, duration_ms: 100, faults: [], workload: { room: 'r', rate_per_s: 1, kind: 'message' } }, '"seed" must be a non-negative integer'],
    [{ do: 'chaos', seed: 1, duration_ms: 100, faults: [], workload: { room: 'nope', rate_per_s: 1, kind: 'message' } }, 'workload.room "nope"'],
  ])('rejects %j', (step, message) => {
    expect(() => parseScenario(withSteps([step]))).toThrow(message);
  });

  it('rejects unknown tuning fields', () => {
    expect(() => parseScenario(withSteps([], { tuning: { warp: 1 } }))).toThrow('tuning: unknown field "warp"');
  });
});

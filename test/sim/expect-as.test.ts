/**
 * `expect` with `"as": "<user label>"`: the timeline and memberships as that
 * user sees them (history visibility applied), on the shipped
 * ban-visibility scenario, and the parse errors for a bad `as`.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runScenario } from '../../src/sim/runner.ts';
import { ScenarioError, parseScenario } from '../../src/sim/scenario.ts';

const load = (name: string) => parseScenario(readFileSync(fileURLToPath(new URL(`../../scenarios/${name}.json`, import.meta.url)), 'utf8'));

describe('expect "as"', () => {
  it('a banned user sees the room as of the ban; the other user on the same server sees all of it', async () => {
    const report = await runScenario(load('ban-visibility'));
    expect(report.steps.filter((s) => !s.ok)).toEqual([]);
    expect(report.ok).toBe(true);
  });

  it('reports what the user sees when it differs', async () => {
    const scenario = load('ban-visibility');
    const last = scenario.steps.length;
    scenario.steps.push({ do: 'expect', server: 'b', room: 'r', as: 'bob', messages: { count: 2 }, membership: { dave: 'join' }, expect_error: false });
    const report = await runScenario(scenario);
    expect(report.steps[last]).toMatchObject({ ok: false });
    expect(report.steps[last]!.error).toBe('b: dave is leave, expected join; b: 1 messages (as bob sees them), expected 2');
  });

  const base = (extra: Record<string, unknown>) => ({
    name: 'x',
    servers: ['a', 'b'],
    users: { alice: 'a', bob: 'b' },
    steps: [{ do: 'createRoom', as: 'alice', room: 'r' }, { do: 'expect', server: 'a', room: 'r', messages: { count: 0 }, ...extra }],
  });

  it.each([
    [{ as: 'zed' }, 'step 1 (expect): "as" must be a user label in users, got "zed"'],
    [{ as: 3 }, 'step 1 (expect): "as" must be a user label in users, got number 3'],
    [{ as: 'bob' }, 'step 1 (expect): "as": "bob" is a user of server "b": give "server": "b" (a user sees the room through their own server)'],
    [{ as: 'bob', server: 'all' }, 'step 1 (expect): "as": "bob" is a user of server "b": give "server": "b" (a user sees the room through their own server)'],
  ])('refuses %j', (extra, message) => {
    let err: unknown;
    try {
      parseScenario(base(extra));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ScenarioError);
    expect((err as Error).message).toBe(message);
  });

  it('parses a valid "as"', () => {
    const s = parseScenario(base({ as: 'alice' }));
    expect(s.steps[1]).toMatchObject({ do: 'expect', server: 'a', as: 'alice' });
  });
});

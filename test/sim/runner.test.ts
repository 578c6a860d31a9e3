import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isSubset, runScenario } from '../../src/sim/runner.ts';
import { parseScenario } from '../../src/sim/scenario.ts';
import { hearth } from '../cli/helpers.ts';

const scenarioPath = (name: string) => fileURLToPath(new URL(`../../scenarios/${name}.json`, import.meta.url));
const load = (name: string) => parseScenario(readFileSync(scenarioPath(name), 'utf8'));

/** Failed steps with their errors, so a failing run explains itself in the assertion. */
const failures = (r: Awaited<ReturnType<typeof runScenario>>) => r.steps.filter((s) => !s.ok);

describe('runScenario on shipped scenarios', () => {
  for (const name of ['basic-chat', 'split-brain-topic-race', 'ban-during-partition']) {
    it(name, async () => {
      const scenario = load(name);
      const report = await runScenario(scenario);
      expect(failures(report)).toEqual([]);
      expect(report.ok).toBe(true);
      expect(report.name).toBe(name);
      expect(report.steps).toHaveLength(scenario.steps.length);
      expect(report.convergence_ms).toHaveLength(scenario.steps.filter((s) => s.do === 'converge').length);
      expect(report.convergence_ms.every((ms) => typeof ms === 'number')).toBe(true);
      expect(Object.keys(report.servers)).toEqual(scenario.servers);
      for (const s of Object.values(report.servers)) expect(s.server_name).toMatch(/^12D3KooW/);
    });
  }
});

describe('runScenario reports what did not hold', () => {
  const scenario = () =>
    parseScenario({
      name: 'failing',
      servers: ['a', 'b'],
      users: { alice: 'a', bob: 'b' },
      steps: [
        { do: 'createRoom', as: 'alice', room: 'r', preset: 'public_chat', topic: 'real topic' },
        { do: 'join', as: 'bob', room: 'r' },
        { do: 'send', as: 'bob', room: 'r', body: 'hello', count: 2 },
        { do: 'converge', timeout_ms: 5000 },
        {
          do: 'expect',
          server: 'all',
          room: 'r',
          state: { 'm.room.topic': { '': { topic: 'wrong topic' } } },
          messages: { count: 3, contains: ['hello #2', 'goodbye'] },
        },
        { do: 'send', as: 'bob', room: 'r', body: 'this works', expect_error: true },
        { do: 'ban', as: 'bob', room: 'r', user: 'alice' },
        { do: 'expect', server: 'b', room: 'r', membership: { alice: 'join', bob: 'join' } },
      ],
    });

  it('keeps running after a failed step and says why each failed', async () => {
    const report = await runScenario(scenario());
    expect(report.ok).toBe(false);
    expect(report.steps.map((s) => s.ok)).toEqual([true, true, true, true, false, false, false, true]);
    const expectError = report.steps[4]!.error!;
    expect(expectError).toContain('a: m.room.topic "" is {"topic":"real topic"}, expected {"topic":"wrong topic"}');
    expect(expectError).toContain('b: 2 messages (as bob sees them), expected 3');
    expect(expectError).toContain('no message "goodbye"');
    expect(report.steps[5]!.error).toBe('expected the step to be refused, but it succeeded');
    expect(report.steps[6]!.error).toMatch(/M_FORBIDDEN/);
    expect(report.rooms.r!.topic).toBe('real topic');
    expect(report.rooms.r!.members).toEqual({ alice: 'join', bob: 'join' });
  });

  it('a converge that times out fails, records null and does not stop the run', async () => {
    const report = await runScenario(
      parseScenario({
        name: 'split',
        servers: ['a', 'b'],
        users: { alice: 'a', bob: 'b' },
        steps: [
          { do: 'createRoom', as: 'alice', room: 'r', preset: 'public_chat' },
          { do: 'join', as: 'bob', room: 'r' },
          { do: 'partition', groups: [['a'], ['b']] },
          { do: 'send', as: 'alice', room: 'r', body: 'unheard' },
          { do: 'converge', timeout_ms: 200 },
          { do: 'heal' },
          { do: 'converge', timeout_ms: 5000 },
          { do: 'expect', server: 'b', room: 'r', messages: { contains: ['unheard'] } },
        ],
      }),
    );
    expect(report.steps[4]).toMatchObject({ ok: false, do: 'converge' });
    expect(report.steps[4]!.error).toMatch(/^not converged after 200 ms: r \(a: \d+ events/);
    expect(report.convergence_ms[0]).toBeNull();
    expect(report.convergence_ms[1]).toEqual(expect.any(Number));
    expect(report.steps.slice(5).every((s) => s.ok)).toBe(true);
  });

  it('a step on a crashed server fails; expect "all" skips it', async () => {
    const report = await runScenario(
      parseScenario({
        name: 'crash',
        servers: ['a', 'b'],
        users: { alice: 'a', bob: 'b' },
        steps: [
          { do: 'createRoom', as: 'alice', room: 'r', preset: 'public_chat' },
          { do: 'join', as: 'bob', room: 'r' },
          { do: 'crash', server: 'b' },
          { do: 'send', as: 'bob', room: 'r', body: 'x' },
          { do: 'restart', server: 'a' },
          { do: 'expect', server: 'all', room: 'r', membership: { bob: 'join' } },
        ],
      }),
    );
    expect(report.steps[3]!.error).toBe('server b (of bob) is not running');
    expect(report.steps[4]!.error).toBe('server a is running (crash it first)');
    expect(report.steps[5]!.ok).toBe(true);
    expect(report.servers.b!.running).toBe(false);
  });
});

describe('isSubset', () => {
  it('compares objects recursively as subsets, everything else exactly', () => {
    expect(isSubset({ a: 1 }, { a: 1, b: 2 })).toBe(true);
    expect(isSubset({ u: { x: 1 } }, { u: { x: 1, y: 2 } })).toBe(true);
    expect(isSubset({ a: [1, 2] }, { a: [1, 2] })).toBe(true);
    expect(isSubset({ a: [1] }, { a: [1, 2] })).toBe(false);
    expect(isSubset({ a: [{ x: 1 }] }, { a: [{ x: 1, y: 2 }] })).toBe(false);
    expect(isSubset({ a: null }, {})).toBe(false);
    expect(isSubset({ a: '1' }, { a: 1 })).toBe(false);
  });
});

describe('hearth simulate (CLI)', () => {
  it('runs a scenario file: JSON report on stdout, exit 0', async () => {
    const r = await hearth(['simulate', scenarioPath('basic-chat')], '');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const report = r.json() as { ok: boolean; name: string; steps: unknown[] };
    expect(report.ok).toBe(true);
    expect(report.name).toBe('basic-chat');
  });

  it('exits 1 when a step does not hold', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-sim-'));
    const file = join(dir, 'fail.json');
    writeFileSync(
      file,
      JSON.stringify({
        name: 'fail',
        servers: ['a'],
        users: { alice: 'a' },
        steps: [
          { do: 'createRoom', as: 'alice', room: 'r' },
          { do: 'expect', server: 'a', room: 'r', messages: { count: 1 } },
        ],
      }),
    );
    const r = await hearth(['simulate', file], '');
    expect(r.code).toBe(1);
    const report = r.json() as { ok: boolean; steps: { ok: boolean; error?: string }[] };
    expect(report.ok).toBe(false);
    expect(report.steps[1]!.error).toBe('a: 0 messages (as alice sees them), expected 1');
  });

  it('exits 2 with one line on stderr for an invalid file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-sim-'));
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ name: 'bad', servers: ['a'], users: { alice: 'a' }, steps: [{ do: 'sned' }] }));
    const r = await hearth(['simulate', file], '');
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^hearth simulate: .*bad\.json: step 0: unknown action "sned" \(expected one of createRoom, .*\)\n$/);
  });

  it('exits 2 for a missing file or no file', async () => {
    const missing = await hearth(['simulate', 'no/such/file.json'], '');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe('hearth simulate: cannot read no/such/file.json: ENOENT\n');
    const none = await hearth(['simulate'], '');
    expect(none.code).toBe(2);
    expect(none.stderr).toBe('hearth simulate: expected one scenario file, got 0\n');
  });
});

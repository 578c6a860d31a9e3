import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ScenarioError, parseScenario } from '../../src/sim/scenario.ts';

const SCENARIOS = fileURLToPath(new URL('../../scenarios/', import.meta.url));

const base = () => ({
  name: 't',
  room_version: 'I.1',
  servers: ['a', 'b'],
  users: { alice: 'a', bob: 'b' },
  steps: [{ do: 'createRoom', as: 'alice', room: 'r' }] as unknown[],
});

/** A scenario with `steps` appended after the createRoom of room "r" (step 0). */
const withSteps = (...steps: unknown[]) => {
  const s = base();
  s.steps.push(...steps);
  return s;
};

function errorOf(input: unknown): string {
  try {
    parseScenario(input);
  } catch (err) {
    expect(err).toBeInstanceOf(ScenarioError);
    return (err as Error).message;
  }
  throw new Error('expected a ScenarioError');
}

describe('parseScenario: valid files', () => {
  it('parses every shipped scenario', () => {
    const files = readdirSync(SCENARIOS).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThanOrEqual(6);
    for (const f of files) {
      const s = parseScenario(readFileSync(SCENARIOS + f, 'utf8'));
      expect(s.name, f).toBe(f.replace(/\.json$/, ''));
    }
  });

  it('builds typed steps, with defaults', () => {
    const s = parseScenario({
      ...withSteps(
        { do: 'send', as: 'bob', room: 'r', body: 'x', count: 2, expect_error: true },
        { do: 'state', as: 'alice', room: 'r', type: 'm.room.topic', state_key: '', content: { topic: 't' } },
        { do: 'partition', groups: [['a'], ['b']] },
        { do: 'heal', comment: 'why' },
        { do: 'converge', timeout_ms: 100 },
        { do: 'expect', server: 'all', room: 'r', membership: { bob: 'ban' }, messages: { count: 0, contains: [] } },
      ),
      room_version: undefined,
    });
    expect(s.room_version).toBe('12');
    expect(s.steps[0]).toEqual({ do: 'createRoom', as: 'alice', room: 'r', expect_error: false });
    expect(s.steps[1]).toEqual({ do: 'send', as: 'bob', room: 'r', body: 'x', count: 2, expect_error: true });
    expect(s.steps[3]).toEqual({ do: 'partition', groups: [['a'], ['b']], expect_error: false });
    expect(s.steps[6]).toMatchObject({ do: 'expect', server: 'all', membership: { bob: 'ban' }, messages: { count: 0, contains: [] } });
  });

  it('accepts JSON text', () => {
    expect(parseScenario(JSON.stringify(base())).servers).toEqual(['a', 'b']);
  });
});

describe('parseScenario: invalid files say exactly what is wrong', () => {
  const cases: [string, unknown, string][] = [
    ['not JSON', '{"name": ', 'not JSON: '],
    ['not an object', [1], 'a scenario must be a JSON object, got an array'],
    ['unknown top-level field', { ...base(), sever: [] }, 'unknown top-level field "sever"'],
    ['missing name', { ...base(), name: undefined }, 'missing field "name"'],
    ['unsupported room version', { ...base(), room_version: '9' }, '"room_version" "9" is not supported (10, 11, 12, I.1)'],
    ['empty servers', { ...base(), servers: [] }, '"servers" must be a non-empty array of server labels, got an array'],
    ['duplicate server', { ...base(), servers: ['a', 'a'] }, 'servers[1]: "a" is listed twice'],
    ['user on an unknown server', { ...base(), users: { alice: 'z' } }, 'users.alice names server "z", which is not in servers'],
    ['user label that is no localpart', { ...base(), users: { Alice: 'a' } }, 'users.Alice: the label is the user\'s localpart and username "Alice" may contain only'],
    ['steps not an array', { ...base(), steps: {} }, '"steps" must be an array, got an object'],
    ['unknown action', withSteps({ do: 'join', as: 'bob', room: 'r' }, { do: 'send', as: 'bob', room: 'r', body: 'x' }, { do: 'sned' }), 'step 3: unknown action "sned"'],
    ['no action', withSteps({ as: 'bob' }), 'step 1: missing field "do"'],
    ['step not an object', withSteps('heal'), 'step 1: a step must be an object, got string "heal"'],
    ['missing field', withSteps({ do: 'send', as: 'bob', room: 'r' }), 'step 1 (send): missing field "body"'],
    ['unknown field', withSteps({ do: 'send', as: 'bob', room: 'r', bdoy: 'x' }), 'step 1 (send): unknown field "bdoy" (send takes as, room, body, count, expect_error)'],
    ['unknown user', withSteps({ do: 'join', as: 'dave', room: 'r' }), 'step 1 (join): "as" names user "dave", which is not in users'],
    ['unknown invitee', withSteps({ do: 'invite', as: 'alice', room: 'r', user: 'dave' }), 'step 1 (invite): "user" names user "dave", which is not in users'],
    ['room used before it is created', withSteps({ do: 'join', as: 'bob', room: 'lobby' }), 'step 1 (join): room "lobby" is not created by an earlier createRoom step'],
    ['room created twice', withSteps({ do: 'createRoom', as: 'bob', room: 'r' }), 'step 1 (createRoom): room "r" is already created by an earlier step'],
    ['bad preset', withSteps({ do: 'createRoom', as: 'bob', room: 's', preset: 'public' }), 'step 1 (createRoom): "preset" must be one of private_chat, public_chat, trusted_private_chat, got string "public"'],
    ['count not a positive integer', withSteps({ do: 'send', as: 'bob', room: 'r', body: 'x', count: 0 }), 'step 1 (send): "count" must be a positive integer, got number 0'],
    ['empty body', withSteps({ do: 'send', as: 'bob', room: 'r', body: '' }), 'step 1 (send): "body" must be a non-empty string, got string ""'],
    ['content not an object', withSteps({ do: 'state', as: 'alice', room: 'r', type: 'm.room.topic', state_key: '', content: 'x' }), 'step 1 (state): "content" must be an object, got string "x"'],
    ['expect_error not a boolean', withSteps({ do: 'heal', expect_error: 'yes' }), 'step 1 (heal): "expect_error" must be true or false, got string "yes"'],
    ['partition with an unknown server', withSteps({ do: 'partition', groups: [['a'], ['q']] }), 'step 1 (partition): groups[1] names server "q", which is not in servers'],
    ['partition with a server twice', withSteps({ do: 'partition', groups: [['a'], ['b', 'a']] }), 'step 1 (partition): server "a" is in groups[0] and groups[1]'],
    ['partition groups not arrays', withSteps({ do: 'partition', groups: ['a'] }), 'step 1 (partition): groups[0] must be an array of server labels, got string "a"'],
    ['crash of an unknown server', withSteps({ do: 'crash', server: 'z' }), 'step 1 (crash): "server" names server "z", which is not in servers'],
    ['negative wait', withSteps({ do: 'wait', ms: -1 }), 'step 1 (wait): "ms" must be a non-negative number, got number -1'],
    ['converge without a timeout', withSteps({ do: 'converge' }), 'step 1 (converge): missing field "timeout_ms"'],
    ['expect on an unknown server', withSteps({ do: 'expect', server: 'z', room: 'r', messages: { count: 1 } }), 'step 1 (expect): "server" names server "z", which is not in servers (or use "all")'],
    ['expect with nothing to check', withSteps({ do: 'expect', server: 'a', room: 'r' }), 'step 1 (expect): nothing to check: give state, membership and/or messages'],
    ['expect a bad membership', withSteps({ do: 'expect', server: 'a', room: 'r', membership: { bob: 'joined' } }), 'step 1 (expect): membership.bob must be one of join, leave, ban, invite, knock, got string "joined"'],
    ['expect membership of an unknown user', withSteps({ do: 'expect', server: 'a', room: 'r', membership: { dave: 'join' } }), 'step 1 (expect): membership names user "dave", which is not in users'],
    ['expect a negative count', withSteps({ do: 'expect', server: 'a', room: 'r', messages: { count: -1 } }), 'step 1 (expect): messages.count must be a non-negative integer, got number -1'],
    ['expect contains non-strings', withSteps({ do: 'expect', server: 'a', room: 'r', messages: { contains: [1] } }), 'step 1 (expect): messages.contains must be an array of strings, got an array'],
    ['expect state content not an object', withSteps({ do: 'expect', server: 'a', room: 'r', state: { 'm.room.topic': { '': 'x' } } }), 'step 1 (expect): state["m.room.topic"][""] must be an object (a subset of the content), got string "x"'],
  ];
  for (const [what, input, message] of cases) {
    it(what, () => {
      const got = errorOf(input);
      expect(got.startsWith(message), `${got}\n  should start with\n${message}`).toBe(true);
      expect(got).not.toContain('\n');
    });
  }

  it('a createRoom expected to fail defines no room', () => {
    expect(errorOf(withSteps({ do: 'createRoom', as: 'bob', room: 's', expect_error: true }, { do: 'join', as: 'alice', room: 's' }))).toBe(
      'step 2 (join): room "s" is not created by an earlier createRoom step',
    );
  });
});

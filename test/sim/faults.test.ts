import { describe, expect, it } from 'vitest';
import { UnreachableError } from '../../src/server/federation/types.ts';
import { InProcessNetwork } from '../../src/server/transport/in-process.ts';
import { runScenario } from '../../src/sim/runner.ts';
import { parseScenario } from '../../src/sim/scenario.ts';

const failures = (r: Awaited<ReturnType<typeof runScenario>>) => [
  ...r.steps.filter((s) => !s.ok),
  ...(r.check?.violations ?? []),
];

const TUNING = { anti_entropy_ms: 100, outbox_max_backoff_ms: 200, sample_ms: 50 };
/** Two or three servers in one public room, everyone joined. */
const base = (servers: string[], steps: unknown[]) =>
  parseScenario({
    name: 't',
    tuning: TUNING,
    servers,
    users: Object.fromEntries(servers.map((s, i) => [['alice', 'bob', 'carol'][i]!, s])),
    steps: [
      { do: 'createRoom', as: 'alice', room: 'r', preset: 'public_chat' },
      ...servers.slice(1).map((_, i) => ({ do: 'join', as: ['bob', 'carol'][i], room: 'r' })),
      ...steps,
    ],
  });

describe('InProcessNetwork link faults', () => {
  const pair = async (net: InProcessNetwork) => {
    const a = net.transport('a');
    const b = net.transport('b');
    await a.start(async () => ({ ok: true, body: {} }), {});
    await b.start(async () => ({ ok: true, body: { pong: true } }), {});
    return { a, b };
  };

  it('loss 1 drops every request as unreachable and counts it; loss 0 delivers', async () => {
    const net = new InProcessNetwork();
    const { a } = await pair(net);
    net.setLink('a', 'b', { loss: 1 });
    await expect(a.request('b', { kind: 'publicRooms' })).rejects.toBeInstanceOf(UnreachableError);
    expect(net.stats.get('a')!.requestsLost).toBe(1);
    net.setLink('a', 'b', {});
    await expect(a.request('b', { kind: 'publicRooms' })).resolves.toMatchObject({ ok: true });
  });

  it('latency and bandwidth delay a request in proportion to its bytes', async () => {
    const net = new InProcessNetwork();
    const { a } = await pair(net);
    net.setLink('a', 'b', { latencyMs: 30 });
    let t = performance.now();
    await a.request('b', { kind: 'publicRooms' });
    expect(performance.now() - t).toBeGreaterThanOrEqual(28);
    // 8 kbps: a ~25-byte request takes ~25 ms on the wire.
    net.setLink('a', 'b', { bandwidthKbps: 8 });
    t = performance.now();
    await a.request('b', { kind: 'publicRooms' });
    expect(performance.now() - t).toBeGreaterThanOrEqual(15);
  });

  it('a paused node holds requests until it resumes (nothing is lost)', async () => {
    const net = new InProcessNetwork();
    const { a } = await pair(net);
    net.pause('b');
    let done = false;
    const p = a.request('b', { kind: 'publicRooms' }).then((r) => {
      done = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 30));
    expect(done).toBe(false);
    net.resume('b');
    await expect(p).resolves.toMatchObject({ ok: true, body: { pong: true } });
  });
});

describe('fault steps', () => {
  it('link with loss and latency, then heal of the link: messages still arrive and converge', async () => {
    const r = await runScenario(
      base(['a', 'b'], [
        { do: 'link', a: 'a', b: 'b', latency_ms: 20, jitter_ms: 10, loss: 0.5, bandwidth_kbps: 512 },
        { do: 'send', as: 'alice', room: 'r', body: 'lossy', count: 5 },
        { do: 'link', a: 'a', b: 'b' },
        { do: 'converge', timeout_ms: 5000 },
        { do: 'expect', server: 'all', room: 'r', messages: { count: 5 } },
      ]),
      { seed: 3 },
    );
    expect(failures(r)).toEqual([]);
    expect(r.metrics.faults.map((f) => f.kind)).toEqual(['link']);
    expect(r.metrics.faults[0]!.end_ms).not.toBeNull();
  });

  it('one-way partition: a cannot reach b but b reaches a; converges after heal', async () => {
    const r = await runScenario(
      base(['a', 'b'], [
        { do: 'partition', from: ['a'], to: ['b'] },
        { do: 'send', as: 'alice', room: 'r', body: 'from a' },
        { do: 'send', as: 'bob', room: 'r', body: 'from b' },
        { do: 'wait', ms: 150 },
        { do: 'expect', server: 'b', room: 'r', messages: { count: 1 } },
        { do: 'heal' },
        { do: 'converge', timeout_ms: 5000 },
        { do: 'expect', server: 'all', room: 'r', messages: { count: 2 } },
      ]),
    );
    expect(failures(r)).toEqual([]);
    expect(r.metrics.heals.length).toBeGreaterThan(0);
  });

  it('flap and load from many users at once, then converge', async () => {
    const r = await runScenario(
      base(['a', 'b', 'c'], [
        { do: 'flap', a: 'a', b: 'b', period_ms: 60, count: 4 },
        { do: 'load', as: ['alice', 'bob', 'carol'], room: 'r', rate_per_s: 60, duration_ms: 300, kind: 'message' },
        { do: 'wait', ms: 50 },
        { do: 'converge', timeout_ms: 5000 },
        { do: 'expect', server: 'all', room: 'r', messages: { count: 18 } },
      ]),
      { seed: 9 },
    );
    expect(failures(r)).toEqual([]);
    expect(r.steps[4]!.load).toEqual({ sent: 18, refused: 0, skipped: 0 });
    expect(r.seed).toBe(9);
  });

  it('pause: the frozen server acts on nothing and receives nothing until it resumes', async () => {
    const r = await runScenario(
      base(['a', 'b'], [
        { do: 'pause', server: 'b', ms: 250 },
        { do: 'send', as: 'bob', room: 'r', body: 'frozen', expect_error: true },
        { do: 'send', as: 'alice', room: 'r', body: 'while b sleeps' },
        { do: 'wait', ms: 100 },
        { do: 'expect', server: 'b', room: 'r', messages: { count: 0 } },
        { do: 'wait', ms: 200 },
        { do: 'converge', timeout_ms: 5000 },
        { do: 'expect', server: 'all', room: 'r', messages: { count: 1 } },
      ]),
    );
    expect(failures(r)).toEqual([]);
    expect(r.metrics.faults.map((f) => f.kind)).toEqual(['pause']);
  });

  it('wipe: the server comes back as a new server, its user re-joins and backfills the history', async () => {
    const r = await runScenario(
      base(['a', 'b'], [
        { do: 'send', as: 'alice', room: 'r', body: 'before', count: 3 },
        { do: 'converge', timeout_ms: 5000 },
        { do: 'wipe', server: 'b' },
        { do: 'converge', timeout_ms: 5000 },
        { do: 'expect', server: 'all', room: 'r', membership: { bob: 'join' }, messages: { count: 3, contains: ['before #3'] } },
        { do: 'send', as: 'bob', room: 'r', body: 'back' },
        { do: 'converge', timeout_ms: 5000 },
        { do: 'expect', server: 'a', room: 'r', messages: { contains: ['back'] } },
      ]),
    );
    expect(failures(r)).toEqual([]);
    const names = r.servers.b!.names!;
    expect(names).toHaveLength(2);
    expect(names[0]).not.toBe(names[1]);
    expect(r.servers.b!.server_name).toBe(names[1]);
  });

  it('chaos: the schedule comes from the seed, the report carries it, and --seed overrides the file', async () => {
    const scenario = base(['a', 'b', 'c'], [
      { do: 'chaos', seed: 5, duration_ms: 500, faults: ['partition', 'pause', 'crash'], workload: { room: 'r', rate_per_s: 20, kind: 'message' } },
    ]);
    const r1 = await runScenario(scenario);
    const r2 = await runScenario(scenario, { seed: 5 });
    const r3 = await runScenario(scenario, { seed: 6 });
    for (const r of [r1, r2, r3]) expect(failures(r)).toEqual([]);
    expect(r1.seed).toBe(5);
    expect(r1.schedule!.length).toBeGreaterThan(0);
    expect(r2.schedule).toEqual(r1.schedule);
    expect(r3.schedule).not.toEqual(r1.schedule);
    expect(r1.check!.ok).toBe(true);
  });
});

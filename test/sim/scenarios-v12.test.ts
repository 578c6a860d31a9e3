/**
 * Every shipped scenario, run as a room version 12 room (`"room_version": "12"`
 * in place of what the file says): creators with infinite power that power
 * levels may not list, room IDs from the create event, state resolution v2.1.
 * Scenarios that list the creator in power levels are translated by the
 * simulator (src/sim/creators.ts), not by weakening their expectations here.
 * The three large ones (20–100 servers) run with a sample of their servers and,
 * for scale-100, a tenth of its load — same shape, same checks.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/core/json.ts';
import { runScenario } from '../../src/sim/runner.ts';
import { parseScenario } from '../../src/sim/scenario.ts';

const DIR = fileURLToPath(new URL('../../scenarios/', import.meta.url));
const MAX_SERVERS = 6;
/** Load steps sending more than this many messages in all are shortened (their message counts with them). */
const MAX_LOAD_MESSAGES = 1000;

type Raw = JsonObject & { servers: string[]; users: Record<string, string>; steps: JsonObject[] };

/**
 * A large scenario with every k-th server (so both sides of a partition keep some), the users
 * on them, and the steps that name only those; a long load shortened by a factor whose message
 * counts shrink by the same factor.
 */
function reduce(raw: Raw): Raw {
  let out = raw;
  if (raw.servers.length > MAX_SERVERS) {
    const k = Math.ceil(raw.servers.length / (MAX_SERVERS - 1));
    const servers = raw.servers.filter((_, i) => i % k === 0);
    const users = Object.fromEntries(Object.entries(raw.users).filter(([, s]) => servers.includes(s)));
    const keepUser = (u: unknown) => typeof u === 'string' && u in users;
    const steps: JsonObject[] = [];
    for (const step of raw.steps) {
      if (typeof step.as === 'string' && !keepUser(step.as)) continue;
      if (Array.isArray(step.as)) step.as = step.as.filter(keepUser);
      if (Array.isArray(step.groups)) step.groups = step.groups.map((g) => (g as string[]).filter((s) => servers.includes(s)));
      steps.push(step);
    }
    out = { ...raw, servers, users, steps };
  }
  let factor = 1;
  for (const step of out.steps) {
    if (step.do !== 'load') continue;
    const total = ((step.rate_per_s as number) * (step.duration_ms as number)) / 1000;
    if (total > MAX_LOAD_MESSAGES) factor = Math.max(factor, total / MAX_LOAD_MESSAGES);
  }
  if (factor > 1) {
    for (const step of out.steps) {
      if (step.do === 'load') step.duration_ms = Math.round((step.duration_ms as number) / factor);
      const messages = step.messages as { count?: number } | undefined;
      if (step.do === 'expect' && typeof messages?.count === 'number') messages.count = Math.round(messages.count / factor);
    }
  }
  return out;
}

const files = readdirSync(DIR).filter((f) => f.endsWith('.json'));

describe('every shipped scenario in a room version 12 room', () => {
  it('finds the shipped scenarios', () => expect(files.length).toBeGreaterThanOrEqual(20));

  for (const file of files) {
    it(file, { timeout: 300_000 }, async () => {
      const raw = reduce(JSON.parse(readFileSync(DIR + file, 'utf8')) as Raw);
      const scenario = parseScenario({ ...raw, room_version: '12' });
      expect(scenario.room_version).toBe('12');
      const report = await runScenario(scenario);
      expect(report.steps.filter((s) => !s.ok)).toEqual([]);
      expect(report.ok).toBe(true);
      // Every room the scenario made is a v12 room (its ID the create event's hash).
      for (const r of Object.values(report.rooms)) expect(r.room_id).toMatch(/^![A-Za-z0-9_-]{43}$/);
    });
  }
});

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { hearth } from './helpers.ts';

const signing = JSON.parse(readFileSync(new URL('../../../shared/conformance/signing.json', import.meta.url), 'utf8'));
const canonical = JSON.parse(readFileSync(new URL('../../../shared/conformance/canonical_json.json', import.meta.url), 'utf8'));
const spec = signing.keys.spec;
const SIGN = ['--server-name', spec.server_name ?? 'domain', '--key-id', 'ed25519:1', '--seed', spec.seed];

// Concurrent process spawns: under a loaded test run (servers spawned by other files) each takes seconds.
describe.concurrent('hearth CLI: JSON, signing and hashing commands', { timeout: 120_000 }, () => {
  it('canonical-json reproduces every appendix example', async () => {
    for (const c of canonical.cases.slice(0, 4)) {
      const r = await hearth(['canonical-json'], c.input_text);
      expect(r.code).toBe(0);
      expect(r.stdout.trimEnd()).toBe(c.expected);
    }
    const r = await hearth(['canonical-json'], '{"b":-0,"a":1e10}');
    expect(r.stdout.trimEnd()).toBe('{"a":10000000000,"b":0}');
  });

  it('sign-json and verify-json round-trip the spec vector', async () => {
    const c = signing.sign_json[1];
    const signed = await hearth(['sign-json', ...SIGN], c.input);
    expect(signed.code).toBe(0);
    expect(signed.json()).toEqual(c.expected);
    const verify = ['verify-json', '--server-name', 'domain', '--key-id', 'ed25519:1', '--public-key', spec.public_key];
    expect((await hearth(verify, signed.stdout)).json()).toEqual({ valid: true });
    expect((await hearth(verify, { ...c.expected, two: 'Three' })).json()).toEqual({ valid: false });
    expect((await hearth(verify, { one: 1 })).json()).toEqual({ valid: false });
  });

  it('hash-event and sign-event match the appendix vectors', async () => {
    for (const c of signing.hash_event) {
      expect((await hearth(['hash-event'], c.input)).json()).toEqual(c.expected);
    }
    for (const c of signing.sign_event) {
      const r = await hearth(['sign-event', '--room-version', c.room_version, ...SIGN], c.input);
      expect(r.json()).toEqual(c.expected);
    }
  });

  it('event-id and redact follow the room version', async () => {
    const ev = {
      room_id: '!r:example.org',
      sender: '@a:example.org',
      origin: 'example.org',
      type: 'm.room.member',
      state_key: '@a:example.org',
      content: { membership: 'join', displayname: 'A' },
      origin_server_ts: 1,
      depth: 1,
      prev_events: [],
      auth_events: [],
      hashes: { sha256: 'x' },
      signatures: {},
    };
    const id10 = (await hearth(['event-id', '--room-version', '10'], ev)).json() as { event_id: string };
    expect(id10.event_id).toMatch(/^\$[A-Za-z0-9_-]{43}$/);
    const withId = (await hearth(['event-id', '--room-version', '10'], { ...ev, event_id: id10.event_id })).json();
    expect(withId).toEqual(id10);
    const r10 = (await hearth(['redact', '--room-version', '10'], ev)).json() as Record<string, unknown>;
    const r11 = (await hearth(['redact', '--room-version', '11'], ev)).json() as Record<string, unknown>;
    expect(r10.content).toEqual({ membership: 'join' });
    expect(r10.origin).toBe('example.org');
    expect(r11).not.toHaveProperty('origin');
  });

  const refusals: [string, string[], unknown, RegExp][] = [
    ['unknown command', ['frobnicate'], {}, /unknown command "frobnicate"/],
    ['invalid JSON', ['canonical-json'], '{"a":', /not valid JSON/],
    ['empty stdin', ['canonical-json'], '', /expected JSON on stdin/],
    ['a float', ['canonical-json'], '{"a":0.5}', /non-integral number 0.5 .*at \.a/],
    ['an unsafe integer', ['hash-event'], '{"depth":9007199254740993}', /outside the canonical JSON range/],
    ['a short seed', ['sign-json', '--server-name', 'd', '--key-id', 'ed25519:1', '--seed', 'AAAA'], {}, /--seed must be 32 bytes/],
    ['a bad key id', ['sign-json', '--server-name', 'd', '--key-id', 'rsa:1', '--seed', spec.seed], {}, /--key-id/],
    ['a missing flag', ['sign-json', '--server-name', 'd', '--seed', spec.seed], {}, /missing required option --key-id/],
    ['an unknown flag', ['event-id', '--room-version', '10', '--frob', '1'], {}, /unknown option --frob/],
    ['an unsupported room version', ['event-id', '--room-version', '9'], {}, /unsupported room version "9"/],
    ['a non-object event', ['redact', '--room-version', '11'], [1, 2], /expected an event/],
    ['a bad public key', ['verify-json', '--server-name', 'd', '--key-id', 'ed25519:1', '--public-key', '!!'], {}, /--public-key/],
    ['a bad server name', ['sign-json', '--server-name', 'bad_name', '--key-id', 'ed25519:1', '--seed', spec.seed], {}, /--server-name/],
  ];
  for (const [name, args, input, why] of refusals) {
    it(`exits 2 with one line on ${name}`, async () => {
      const r = await hearth(args, input);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(why);
    });
  }
});

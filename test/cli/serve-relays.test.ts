/**
 * `hearth serve --relay A,B` (issue 20): an always-on homeserver given
 * several relays in order, the first of which is down, reserves on the second
 * (its printed addresses are reachable through it) and stays connected to
 * it; a bad --relay or --host is refused in words.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type HearthProcess, freePort, startHearth, stopHearth } from '../helpers/hearth-process.ts';
import { hearth } from './helpers.ts';

const procs: HearthProcess[] = [];
let root: string | undefined;
afterAll(async () => {
  for (const p of procs) await stopHearth(p);
  if (root) await rm(root, { recursive: true, force: true });
});

describe('hearth serve with several relays', () => {
  it('uses the second relay when the first is down, and stays on it', { timeout: 90_000 }, async () => {
    root = await mkdtemp(join(tmpdir(), 'hearth-serve-relays-'));
    const relay = await startHearth(['relay', '--port', '0', '--tcp-port', '0', '--key', join(root, 'relay.key')]);
    procs.push(relay);
    const relayPeer = relay.info.tcp_multiaddr.split('/p2p/')[1]!;
    // A first relay that is not there: a closed port, a valid PeerId (the live relay's would be matched as connected).
    const deadPeer = '12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq';
    const dead = `/ip4/127.0.0.1/tcp/${await freePort()}/p2p/${deadPeer}`;
    const serve = await startHearth(['serve', '--relay', `${dead},${relay.info.tcp_multiaddr}`], 60_000);
    procs.push(serve);
    expect(serve.info.multiaddrs.some((a) => a.includes(`/p2p/${relayPeer}/p2p-circuit`))).toBe(true);
    // Still there a few bootstrap ticks later (serve redials the first every 5 s and keeps the second meanwhile).
    await new Promise((r) => setTimeout(r, 6_000));
    expect(serve.child.exitCode).toBeNull();
    expect(serve.stderr()).not.toMatch(/error/i);
  });

  it('refuses a bad --relay list or --host with a clear message', { timeout: 90_000 }, async () => {
    const [bad, host] = await Promise.all([
      hearth(['serve', '--relay', '/ip4/127.0.0.1/tcp/1/p2p/12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq,relay.example.org:4001'], ''),
      hearth(['serve', '--host', 'my-server'], ''),
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--relay: "relay\.example\.org:4001" is not a multiaddr/);
    expect(host.code).toBe(2);
    expect(host.stderr).toMatch(/--host must be an IPv4 address/);
  });
});

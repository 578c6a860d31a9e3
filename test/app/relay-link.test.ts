/**
 * The tab's relay watcher (src/app/relay-link.ts), on a clock the test moves:
 * "connecting" while a new relay may still answer, "failed" since the moment
 * the link was lost, the configuration read again with backoff while down,
 * and a new relay identity handed to the transport.
 */
import { describe, expect, it } from 'vitest';
import { RelayLink, type RelayStatus, relayPeerOf } from '../../src/app/relay-link.ts';

const OLD = '/ip4/127.0.0.1/tcp/9090/ws/p2p/12D3KooWOld';
const NEW = '/ip4/127.0.0.1/tcp/9090/ws/p2p/12D3KooWNew';
const TIMING = { graceMs: 10_000, firstRetryMs: 2_000, maxRetryMs: 16_000 };

function harness(relays: string[], config: () => string[] | undefined) {
  const h = {
    t: 1_000_000,
    up: new Set<string>(),
    reads: [] as number[],
    dialled: [] as string[][],
    reports: [] as RelayStatus[],
  };
  const link = new RelayLink(
    relays,
    {
      connected: (peers) => peers.some((p) => h.up.has(p)),
      setRelays: (r) => h.dialled.push([...r]),
      readConfig: async () => {
        h.reads.push(h.t);
        return config();
      },
      onChange: (s) => h.reports.push(s),
      now: () => h.t,
    },
    TIMING,
  );
  /** Moves the clock by `ms` in 1 s ticks, letting config reads settle. */
  const advance = async (ms: number) => {
    for (let i = 0; i < ms / 1000; i++) {
      h.t += 1000;
      link.tick();
      await Promise.resolve();
      await Promise.resolve();
    }
  };
  return { h, link, advance };
}

describe('RelayLink', () => {
  it('names the relay PeerId of a multiaddr', () => {
    expect(relayPeerOf(OLD)).toBe('12D3KooWOld');
    expect(relayPeerOf('/ip4/127.0.0.1/tcp/9090/ws')).toBeUndefined();
  });

  it('is connecting within the grace, then unreachable since the start when the relay never answers', async () => {
    const { link, advance, h } = harness([OLD], () => [OLD]);
    const started = h.t;
    expect(link.status()).toEqual({ state: 'connecting', addr: OLD });
    await advance(10_000);
    expect(link.status()).toEqual({ state: 'failed', addr: OLD, since: started });
  });

  it('reports the moment the link was lost, re-reads the config with doubling waits, and dials a new identity', async () => {
    let config: string[] | undefined = [OLD];
    const { h, link, advance } = harness([OLD], () => config);
    h.up.add('12D3KooWOld');
    await advance(1000);
    expect(link.status().state).toBe('connected');
    expect(h.reports.at(-1)?.state).toBe('connected');

    h.up.delete('12D3KooWOld');
    await advance(1000);
    const lost = h.t;
    expect(link.status()).toEqual({ state: 'failed', addr: OLD, since: lost });

    // The config server is down too (undefined), then still names the old relay: waits double, capped.
    config = undefined;
    await advance(30_000);
    const gaps = h.reads.slice(1).map((r, i) => r - h.reads[i]!);
    expect(h.reads[0]! - lost).toBe(2_000);
    expect(gaps.slice(0, 3)).toEqual([4_000, 8_000, 16_000]);
    expect(h.dialled).toEqual([]);
    expect(link.status()).toEqual({ state: 'failed', addr: OLD, since: lost });

    // The relay is back with a new PeerId: the next read hands it to the transport; still "since" the loss until it answers.
    config = [NEW];
    await advance(16_000);
    expect(h.dialled).toEqual([[NEW]]);
    expect(link.current).toEqual([NEW]);
    expect(link.status()).toEqual({ state: 'failed', addr: NEW, since: lost });
    h.up.add('12D3KooWNew');
    await advance(1000);
    expect(link.status()).toEqual({ state: 'connected', addr: NEW });
    expect(h.reports.at(-1)).toEqual({ state: 'connected', addr: NEW });
  });

  it('with no relay known and the config unreadable, says unreachable; with none configured, says none', async () => {
    let config: string[] | undefined;
    const { link, advance } = harness([], () => config);
    await advance(3_000);
    expect(link.status().state).toBe('failed');
    config = [];
    await advance(16_000);
    expect(link.status()).toEqual({ state: 'none' });
  });
});

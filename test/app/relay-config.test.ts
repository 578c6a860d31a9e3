/**
 * hearth-config.json (issue 20): the relays a deployed app uses, checked
 * with a sentence for each problem, and found next to the app under any path.
 */
import { describe, expect, it } from 'vitest';
import { checkRelayConfig, parseRelayConfig, relayConfigUrl } from '../../src/app/relay-config.ts';

const WSS = '/dns4/relay.example.org/tcp/443/wss/p2p/12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq';
const TLS_WS = '/dns4/relay2.example.org/tcp/443/tls/ws/p2p/12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq';
const WS = '/ip4/127.0.0.1/tcp/9090/ws/p2p/12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq';

describe('checkRelayConfig', () => {
  it('keeps the relays in order when all is well', () => {
    expect(checkRelayConfig({ relays: [WSS, TLS_WS, WS] })).toEqual({ relays: [WSS, TLS_WS, WS], problems: [] });
  });

  it('says what is wrong with each bad entry and keeps the good ones', () => {
    const { relays, problems } = checkRelayConfig({
      relays: [42, 'relay.example.org:443', '/dns4/relay.example.org/tcp/443/wss', '/ip4/1.2.3.4/tcp/4001/p2p/12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq', WSS, WSS],
      relay: 'typo',
    });
    expect(relays).toEqual([WSS]);
    expect(problems).toEqual([
      'unknown field "relay" (only "relays" is read)',
      'relays[0]: 42 is not a string',
      expect.stringMatching(/^relays\[1\]: "relay\.example\.org:443" is not a multiaddr/),
      expect.stringMatching(/^relays\[2\]: .* does not end in \/p2p\//),
      expect.stringMatching(/^relays\[3\]: .* is not a WebSockets address/),
      'relays[5]: listed twice',
    ]);
  });

  it('refuses plain ws:// relays for a page served over https (mixed content)', () => {
    const { relays, problems } = checkRelayConfig({ relays: [WS, WSS] }, { pageProtocol: 'https:' });
    expect(relays).toEqual([WSS]);
    expect(problems).toEqual([expect.stringMatching(/^relays\[0\]: .* plain ws:\/\/.* use \/wss/)]);
  });

  it('explains a document that is not a config at all', () => {
    expect(checkRelayConfig([WSS]).problems[0]).toMatch(/must be a JSON object/);
    expect(checkRelayConfig({}).problems).toEqual([expect.stringMatching(/no "relays" field/)]);
    expect(checkRelayConfig({ relays: WSS }).problems).toEqual(['"relays" must be a list of multiaddr strings']);
    expect(checkRelayConfig({ relays: [] }).problems).toEqual([expect.stringMatching(/"relays" is empty/)]);
    expect(parseRelayConfig(null)).toEqual([]);
  });
});

describe('relayConfigUrl', () => {
  it('is next to the page, and one level up from the homeserver worker, under any path', () => {
    const g = globalThis as { document?: unknown; location?: unknown };
    const saved = { document: g.document, location: g.location };
    try {
      g.document = { baseURI: 'https://friends.example.org/hearth/index.html' };
      expect(relayConfigUrl()).toBe('https://friends.example.org/hearth/hearth-config.json');
      g.document = undefined;
      g.location = { href: 'https://friends.example.org/hearth/assets/homeserver.worker-abc123.js' };
      expect(relayConfigUrl()).toBe('https://friends.example.org/hearth/hearth-config.json');
      g.location = { href: 'http://127.0.0.1:5173/workers/homeserver.worker.ts?type=module&worker_file' };
      expect(relayConfigUrl()).toBe('http://127.0.0.1:5173/hearth-config.json');
    } finally {
      g.document = saved.document;
      g.location = saved.location;
    }
  });
});

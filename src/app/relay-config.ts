/**
 * Where a tab learns its relay's address: the server that served the page
 * (`npm start`, scripts/app-server.ts) answers `/hearth-config.json` with
 * `{"relays": ["/ip4/…/tcp/…/ws/p2p/<relay PeerId>"]}`. The page reads it at
 * start-up and the homeserver worker reads it again whenever the relay stops
 * answering (relay-link.ts): a relay restarted with a new key has a new
 * PeerId, so only a fresh read can find it.
 */

export const RELAY_CONFIG_URL = '/hearth-config.json';

/** The relay multiaddrs in a config document; anything malformed is left out. */
export function parseRelayConfig(value: unknown): string[] {
  if (typeof value !== 'object' || value === null) return [];
  const relays = (value as { relays?: unknown }).relays;
  return Array.isArray(relays) ? relays.filter((r): r is string => typeof r === 'string' && r.startsWith('/')) : [];
}

/**
 * The configured relays; none when the server answers without a config (a
 * static host: 404, or a page instead of JSON); undefined when it cannot be
 * asked at all (it is down, or failing).
 */
export async function readRelayConfig(url = RELAY_CONFIG_URL): Promise<string[] | undefined> {
  let res: Response;
  try {
    res = await fetch(url, { cache: 'no-store' });
  } catch {
    return undefined;
  }
  if (res.status === 404) return [];
  if (!res.ok) return undefined;
  return parseRelayConfig(await res.json().catch(() => null));
}

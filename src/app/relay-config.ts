/**
 * Where a tab learns its relays: `hearth-config.json`, next to the app's
 * index.html (a static host serves it as a file; `npm start`,
 * scripts/app-server.ts, answers it with the relay it runs):
 *
 *   { "relays": ["/dns4/relay.example.org/tcp/443/wss/p2p/12D3KooW…", …] }
 *
 * `relays` are in order of preference: the first reachable one is used, the
 * next ones are the fail-over, and the first is taken back when it returns
 * (src/net/relay-order.ts). The page reads the file at start-up and the
 * homeserver worker reads it again whenever no relay answers (relay-link.ts):
 * a relay restarted with a new key has a new PeerId, so only a fresh read can
 * find it. docs/deploy.md describes the format; checkRelayConfig says what is
 * wrong with a file in words (scripts/check-config.ts prints it for a file).
 */
import { multiaddr } from '@multiformats/multiaddr';

/** The file's name, resolved against the app's own address (the app may live under any path). */
export const RELAY_CONFIG_FILE = 'hearth-config.json';

export interface RelayConfigCheck {
  /** The usable relays, in the file's order. */
  relays: string[];
  /** What is wrong, one sentence each (entries with a problem are left out of `relays`). */
  problems: string[];
}

/**
 * Checks a parsed config document. `pageProtocol` ('https:' for a deployed
 * app) adds the checks a browser will otherwise fail silently on: a page
 * served over https may not open ws:// (mixed content).
 */
export function checkRelayConfig(value: unknown, opts: { pageProtocol?: string } = {}): RelayConfigCheck {
  const problems: string[] = [];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { relays: [], problems: ['the config must be a JSON object like {"relays": ["/dns4/…/tcp/443/wss/p2p/…"]}'] };
  }
  const doc = value as Record<string, unknown>;
  for (const key of Object.keys(doc)) if (key !== 'relays') problems.push(`unknown field "${key}" (only "relays" is read)`);
  if (!('relays' in doc)) return { relays: [], problems: [...problems, 'no "relays" field: this app cannot reach anyone on another computer'] };
  if (!Array.isArray(doc.relays)) return { relays: [], problems: [...problems, '"relays" must be a list of multiaddr strings'] };
  const relays: string[] = [];
  doc.relays.forEach((r: unknown, i) => {
    const problem = relayProblem(r, opts.pageProtocol);
    if (problem) problems.push(`relays[${i}]: ${problem}`);
    else if (relays.includes(r as string)) problems.push(`relays[${i}]: listed twice`);
    else relays.push(r as string);
  });
  if (doc.relays.length === 0) problems.push('"relays" is empty: this app cannot reach anyone on another computer');
  return { relays, problems };
}

function relayProblem(r: unknown, pageProtocol: string | undefined): string | undefined {
  if (typeof r !== 'string') return `${JSON.stringify(r)} is not a string`;
  let ma: ReturnType<typeof multiaddr>;
  try {
    ma = multiaddr(r);
  } catch {
    return `${JSON.stringify(r)} is not a multiaddr (expected e.g. /dns4/relay.example.org/tcp/443/wss/p2p/12D3KooW…)`;
  }
  const names = ma.getComponents().map((c) => c.name);
  if (names.at(-1) !== 'p2p') return `${r} does not end in /p2p/<the relay's PeerId> (hearth relay prints it)`;
  const secure = names.includes('wss') || (names.includes('tls') && names.includes('ws'));
  if (!secure && !names.includes('ws')) return `${r} is not a WebSockets address (/ws or /wss): browsers cannot dial it`;
  if (!secure && pageProtocol === 'https:') return `${r} is plain ws://, which a page served over https may not open: use /wss (TLS)`;
  return undefined;
}

/** The usable relays in a config document (problems are dropped; see checkRelayConfig). */
export function parseRelayConfig(value: unknown): string[] {
  return checkRelayConfig(value).relays;
}

/**
 * Where the config is, from here: next to the page (document.baseURI), or —
 * in the homeserver worker, whose script is one directory down (`assets/`
 * when built, `workers/` in development) — one level up from the worker.
 */
export function relayConfigUrl(): string {
  const doc = (globalThis as { document?: { baseURI: string } }).document;
  if (doc) return new URL(RELAY_CONFIG_FILE, doc.baseURI).href;
  return new URL(`../${RELAY_CONFIG_FILE}`, (globalThis as unknown as { location: { href: string } }).location.href).href;
}

/**
 * The configured relays; none when the server answers without a config (a
 * static host with no file: 404, or a page instead of JSON); undefined when
 * it cannot be asked at all (it is down, or failing). Problems with the file
 * are logged to the console in words.
 */
export async function readRelayConfig(url = relayConfigUrl()): Promise<string[] | undefined> {
  let res: Response;
  try {
    res = await fetch(url, { cache: 'no-store' });
  } catch {
    return undefined;
  }
  if (res.status === 404) return [];
  if (!res.ok) return undefined;
  const body = await res.json().catch(() => undefined);
  if (body === undefined) {
    console.warn(`Hearth: ${url} is not JSON; no relays configured`);
    return [];
  }
  const protocol = (globalThis as { location?: { protocol: string } }).location?.protocol;
  const { relays, problems } = checkRelayConfig(body, protocol ? { pageProtocol: protocol } : {});
  for (const p of problems) console.warn(`Hearth: ${url}: ${p}`);
  return relays;
}

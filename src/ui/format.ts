/** Small display helpers: names, initials, colours, times. */

/** `@alice:server` → `alice`. */
export function localpart(userId: string): string {
  const m = /^@([^:]*):/.exec(userId);
  return m?.[1] || userId;
}

/** The server part of a user or room ID, shortened for display (server names are long PeerIds). */
export function shortServer(id: string): string {
  const server = id.slice(id.indexOf(':') + 1);
  return server.length > 14 ? `${server.slice(0, 6)}…${server.slice(-6)}` : server;
}

export function nameOf(userId: string, names: ReadonlyMap<string, string>): string {
  return names.get(userId) ?? localpart(userId);
}

export function initials(name: string): string {
  const words = name
    .replace(/^[@#!]/, '')
    .split(/[\s._-]+/)
    .filter(Boolean);
  const letters = words.length > 1 ? [words[0]?.[0], words[1]?.[0]] : [...(words[0] ?? '?')].slice(0, 2);
  return letters.join('').toUpperCase() || '?';
}

/** A stable hue per user/room ID for avatars. */
export function hueOf(id: string): number {
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) >>> 0;
  return h % 360;
}

// One formatter each, made on first use: `toLocaleTimeString` with options builds a new
// Intl.DateTimeFormat on every call (tens of microseconds each), and a timeline render called it
// twice per tile — with every tile re-rendering, most of the time between a message's arrival
// and its paint.
let hourMinute: Intl.DateTimeFormat | undefined;
let longDate: Intl.DateTimeFormat | undefined;

/** HH:MM in the person's locale. */
export function timeOf(ts: number): string {
  hourMinute ??= new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
  return hourMinute.format(ts);
}

export function dayKey(ts: number): string {
  const d = new Date(ts);
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

export function dayLabel(ts: number, now = Date.now()): string {
  if (dayKey(ts) === dayKey(now)) return 'Today';
  if (dayKey(ts) === dayKey(now - 86_400_000)) return 'Yesterday';
  longDate ??= new Intl.DateTimeFormat(undefined, { weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' });
  return longDate.format(ts);
}

/** A Matrix localpart from a display name: lowercase, allowed characters only. */
export function usernameFrom(displayName: string): string {
  const base = displayName
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9._=/+-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 32);
  return base || 'me';
}

export function chatLink(userId: string): string {
  return `${location.origin}${location.pathname}#/chat/${userId}`;
}

/**
 * Links to one event: `#/room/<room>/<event>`, the form the app's own room links take
 * (`#/room/<room>`) with the event added, each part URI-encoded. Opening one shows the room
 * with the event brought into view and highlighted (the Timeline does that from `focusEvent`).
 *
 * Read before the app's router: a link's event is taken out of the address (which keeps the
 * room's plain link) so the router sees an ordinary room link.
 */
import { openRoom } from './state/actions.ts';
import { currentRoomId, focusEvent, phase } from './state/store.ts';

export function permalink(roomId: string, eventId: string): string {
  return `${location.origin}${location.pathname}#/room/${encodeURIComponent(roomId)}/${encodeURIComponent(eventId)}`;
}

/** The room and event of a permalink's hash (without the `#`), or undefined for any other hash. */
export function parsePermalink(hash: string): { roomId: string; eventId: string } | undefined {
  // Split before decoding: the parts are encoded, so a "/" inside either is not the separator.
  const m = /^\/room\/([^/]+)\/([^/]+)$/.exec(hash);
  if (!m?.[1] || !m[2]) return undefined;
  try {
    const roomId = decodeURIComponent(m[1]);
    const eventId = decodeURIComponent(m[2]);
    return roomId.startsWith('!') && eventId.startsWith('$') ? { roomId, eventId } : undefined;
  } catch {
    return undefined; // a malformed escape: not a link of ours
  }
}

function readPermalink(): void {
  const link = parsePermalink(location.hash.slice(1));
  if (!link) return;
  focusEvent.value = link.eventId;
  // Another room while the app runs: open it now, clearing the last room's timeline (the event is not looked for there).
  if (phase.value === 'ready' && link.roomId !== currentRoomId.value) openRoom(link.roomId);
  else history.replaceState(null, '', `#/room/${encodeURIComponent(link.roomId)}`);
}

/** Reads the page's own address now and every later permalink; call before the app starts (its router listens after). */
export function installPermalinks(): void {
  readPermalink();
  window.addEventListener('hashchange', readPermalink);
}

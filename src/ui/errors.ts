/**
 * Failures in words a person can act on. The worker's own message (an
 * internal exception text) is kept as `detail`, shown behind a "Details" disclosure.
 */
import { errorText } from './api.ts';

export const USER_ID_FORM = 'A user ID looks like @name:server, for example @alice:12D3KooW… (copy it from the person’s “Copy ID” button).';
export const USERNAME_RULE = 'Usernames may use only lowercase letters a–z, digits 0–9 and . _ = - / +';

/** Why `id` is not a user ID, or undefined when it is one. */
export function userIdProblem(id: string): string | undefined {
  const v = id.trim();
  if (!v) return undefined;
  if (!v.startsWith('@')) return `A user ID starts with @. ${USER_ID_FORM}`;
  if (!/^@[^:]+:.+$/.test(v)) return `A user ID needs the server after a colon. ${USER_ID_FORM}`;
  return undefined;
}

/** Why `username` cannot be used, or undefined. */
export function usernameProblem(username: string): string | undefined {
  if (!username) return 'Choose a username.';
  const bad = [...new Set(username.replace(/[a-z0-9._=/+-]/g, ''))];
  if (bad.length === 0) return undefined;
  const shown = bad.map((c) => (c === ' ' ? 'spaces' : `“${c}”`)).join(', ');
  return `${USERNAME_RULE}; not ${shown}.`;
}

/** A person-sized explanation of a failure, and the raw text for the details. */
export function humanError(err: unknown): { text: string; detail: string } {
  const detail = errorText(err);
  const d = detail.toLowerCase();
  let text = 'Something went wrong.';
  if (/quotaexceeded|quota/.test(d)) {
    // IndexedDB refused the write whole (one transaction): what was stored before is intact.
    text =
      'This browser has no room left for this site’s data, so that was not saved. Nothing saved before is lost. Free space under Profile → Storage, or free disk space.';
  } else if (/moved to another place/.test(d)) {
    text = detail.replace(/^.*?(This homeserver moved)/, '$1');
  } else if (/passphrase|backup|already in this browser/.test(d)) {
    // The backup module's messages are written for people (src/server/backup): show them as they are.
    const sentence = detail.replace(/^(Error|BackupError): /, '');
    text = `${sentence.charAt(0).toUpperCase()}${sentence.slice(1)}.`;
  } else if (/unreachable|no route|could not (reach|dial)|dial|timed? ?out|econnrefused|no addresses/.test(d)) {
    text = 'No homeserver with that name is reachable right now: it runs in someone’s browser tab, which may be closed or offline.';
  } else if (/m_invalid_username|username/.test(d)) text = `That username cannot be used. ${USERNAME_RULE}.`;
  else if (/user id|m_invalid_param.*@/.test(d)) text = `That is not a valid user ID. ${USER_ID_FORM}`;
  else if (/forbidden|not allowed|power level|m_forbidden/.test(d)) text = 'You are not allowed to do that here.';
  else if (/banned/.test(d)) text = 'You are banned from that room.';
  else if (/not found|m_not_found|unknown room|no such/.test(d)) text = 'That could not be found.';
  else if (/too large|m_too_large/.test(d)) text = 'That is too large to send.';
  return { text, detail };
}

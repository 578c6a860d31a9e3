/**
 * @-mentions in the composer: which member list to offer for the `@…` being typed, and what a
 * chosen mention becomes when sent — the name as typed in `body`, a matrix.to link to the user
 * in `formatted_body`, and the user in `m.mentions.user_ids` (what decides their notification).
 */
import type { Member } from './api.ts';

export interface Mention {
  /** The name inserted after the `@`. */
  name: string;
  userId: string;
}

/** The `@query` that ends at `caret` (at the start of the text or after a space), if any. */
export function mentionQuery(text: string, caret: number): { start: number; query: string } | undefined {
  const m = /(^|\s)@([^\s@]{0,40})$/.exec(text.slice(0, caret));
  return m ? { start: caret - m[2]!.length - 1, query: m[2]! } : undefined;
}

/** The name a member is offered and inserted under: their display name, else their user ID's localpart. */
export function mentionName(m: Member): string {
  return m.displayName || (/^@([^:]+):/.exec(m.userId)?.[1] ?? m.userId);
}

/** Joined members (not me) whose name or user ID contains `query`, best first, at most `limit`. */
export function matchMembers(members: readonly Member[], query: string, me: string, limit = 6): Member[] {
  const q = query.toLowerCase();
  const rank = (m: Member) => (mentionName(m).toLowerCase().startsWith(q) ? 0 : m.userId.toLowerCase().startsWith(`@${q}`) ? 1 : 2);
  return members
    .filter((m) => m.membership === 'join' && m.userId !== me)
    .filter((m) => mentionName(m).toLowerCase().includes(q) || m.userId.toLowerCase().includes(q))
    .sort((a, b) => rank(a) - rank(b) || mentionName(a).localeCompare(mentionName(b)))
    .slice(0, limit);
}

export function permalink(userId: string): string {
  return `https://matrix.to/#/${encodeURIComponent(userId).replace(/%40/g, '@').replace(/%3A/g, ':')}`;
}

/** Markdown's special characters escaped, so a name is text inside a link. */
function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!~<>|]/g, '\\$&');
}

/**
 * The Markdown source with each chosen mention still present (`@name`) turned into a link to
 * the user, and the users mentioned. Mentions deleted from the text are dropped.
 */
export function applyMentions(body: string, chosen: readonly Mention[]): { markdown: string; userIds: string[] } {
  let markdown = body;
  const userIds: string[] = [];
  // Longest names first, so "@Bob Smith" is not taken for "@Bob".
  for (const m of [...chosen].sort((a, b) => b.name.length - a.name.length)) {
    const token = `@${m.name}`;
    if (!markdown.includes(token)) continue;
    markdown = markdown.split(token).join(`[${escapeMarkdown(m.name)}](${permalink(m.userId)})`);
    if (!userIds.includes(m.userId)) userIds.push(m.userId);
  }
  return { markdown, userIds };
}

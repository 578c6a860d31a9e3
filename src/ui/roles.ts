/** What a power-levels change should be confirmed for before it is sent (the settings dialog asks). */
import type { JsonObject } from '../core/json.ts';
import { ACTIONS, actionLevel, eventLevel, roleLabel, userLevel, whatEventTypeAllows } from '../server/content/power-levels.ts';

/**
 * What saving `next` over `prev` should be confirmed for: lowering my own role (I may not get it
 * back), and actions that become open to everyone (at or below the default role).
 */
export function powerWarnings(prev: JsonObject, next: JsonObject, me: string, amCreator: boolean): string[] {
  const out: string[] = [];
  const before = userLevel(prev, me);
  const after = userLevel(next, me);
  if (!amCreator && after < before) {
    out.push(
      `You are lowering your own role from ${roleLabel(before, actionLevel(prev, 'users_default'))} to ${roleLabel(after, actionLevel(next, 'users_default'))}. Only someone with a higher role can give it back.`,
    );
  }
  const everyone = (pl: JsonObject, level: number) => level <= (typeof pl.users_default === 'number' ? pl.users_default : 0);
  const opened: string[] = [];
  for (const a of ACTIONS) {
    if (everyone(next, actionLevel(next, a.key)) && !everyone(prev, actionLevel(prev, a.key))) opened.push(a.what);
  }
  const types = new Set([...Object.keys((prev.events ?? {}) as JsonObject), ...Object.keys((next.events ?? {}) as JsonObject)]);
  for (const t of types) if (everyone(next, eventLevel(next, t)) && !everyone(prev, eventLevel(prev, t))) opened.push(whatEventTypeAllows(t));
  if (opened.length) out.push(`Everyone in the room will be able to ${opened.join(', ')}.`);
  return out;
}

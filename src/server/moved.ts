/**
 * A homeserver that moved away: its backup was exported with "move" and
 * imported elsewhere, so this copy is retired. One server name (one signing
 * key) must not sign events in two places at once — two copies would extend
 * the same rooms with conflicting events under one name and peers could not
 * tell which is the real one — so the retired copy keeps its data readable
 * but signs nothing, sends nothing and stops federating. The marker lives in
 * the store's meta, so it holds across restarts.
 */
import type { JsonValue } from '../core/json.ts';
import { type MatrixError, forbidden } from './errors.ts';

export const MOVED_META = 'moved_away';
/** Set while `importBackup` writes into a store; a store holding it is not a homeserver yet. */
export const IMPORT_MARK_META = 'import_incomplete';

export interface MovedAway {
  /** When the move's backup was made (ms since the epoch). */
  ts: number;
  /** Where it went, in the person's words or a server address (optional). */
  to?: string;
}

export function parseMovedAway(value: JsonValue | undefined): MovedAway | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const ts = value['ts'];
  if (typeof ts !== 'number' || !Number.isFinite(ts)) return undefined;
  const to = value['to'];
  return { ts, ...(typeof to === 'string' && to !== '' ? { to } : {}) };
}

export function movedAwayJson(m: MovedAway): JsonValue {
  return { ts: m.ts, ...(m.to ? { to: m.to } : {}) };
}

/** What a retired homeserver answers to anything that would sign or send. */
export function movedAwayError(m: MovedAway): MatrixError {
  const when = new Date(m.ts).toISOString().slice(0, 10);
  return forbidden(`This homeserver moved to another place on ${when}${m.to ? ` (${m.to})` : ''}: this copy is read-only and sends nothing`);
}

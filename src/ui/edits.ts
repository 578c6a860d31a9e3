/**
 * A form's edits, kept apart from the room state they were made over.
 *
 * Room state can change while a settings dialog is open: an event that arrived just before the
 * dialog opened may still be on its way to the page, or someone else changes a setting meanwhile.
 * A form that snapshots the state when it opens shows the old values, and saving it writes the
 * old values back over the new ones. Keeping only what the person changed lets the form show
 * the latest state for everything else, and lets a save apply those changes to the latest state.
 */
import type { JsonObject } from '../core/json.ts';

/** Per key: the value the person chose, or null where they removed the key. */
export type Edits<V> = Readonly<Record<string, V | null>>;

/** `latest` with `edits` applied: kept keys keep their order, added keys come last, removed keys go. */
export function withEdits<V>(latest: Readonly<Record<string, V>>, edits: Edits<V>): Record<string, V> {
  const out: Record<string, V> = { ...latest };
  for (const [k, v] of Object.entries(edits)) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return out;
}

/** The edits that turn `latest` into `next`: the keys whose values differ, and null for each key `next` dropped. */
export function editsBetween<V>(latest: Readonly<Record<string, V>>, next: Readonly<Record<string, V>>): Edits<V> {
  const out: Record<string, V | null> = {};
  for (const [k, v] of Object.entries(next)) if (!(k in latest) || latest[k] !== v) out[k] = v;
  for (const k of Object.keys(latest)) if (!(k in next)) out[k] = null;
  return out;
}

/** The person's power-level changes: top-level levels (users_default, kick, …), and the users and events maps. */
export interface PowerEdits {
  levels: Edits<number>;
  users: Edits<number>;
  events: Edits<number>;
}

export const NO_POWER_EDITS: PowerEdits = { levels: {}, users: {}, events: {} };

/** A map of the content as it is; anything else as empty (the form shows numbers only, a save keeps the rest). */
function map(v: unknown): Record<string, unknown> {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** The numeric entries of a map in the content: what the form shows and edits. */
export function levelMap(v: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, n] of Object.entries(map(v))) if (typeof n === 'number') out[k] = n;
  return out;
}

/**
 * The power-levels content to send: `latest` with only the person's changes applied. A key they
 * did not touch keeps whatever `latest` holds, including keys this form does not show.
 */
export function powerLevelsWithEdits(latest: JsonObject, edits: PowerEdits): JsonObject {
  const out: JsonObject = { ...latest };
  for (const [k, v] of Object.entries(edits.levels)) if (v !== null) out[k] = v;
  if (Object.keys(edits.users).length) out.users = withEdits<unknown>(map(latest.users), edits.users) as JsonObject;
  if (Object.keys(edits.events).length) out.events = withEdits<unknown>(map(latest.events), edits.events) as JsonObject;
  return out;
}

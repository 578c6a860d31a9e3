import { UnsupportedRoomVersionError } from '../errors.ts';
import { I1 } from './i1.ts';
import type { RoomVersionId, RoomVersionRules } from './types.ts';
import { V10 } from './v10.ts';
import { V11 } from './v11.ts';
import { V12 } from './v12.ts';

export type { RoomVersionId, RoomVersionRules } from './types.ts';

const REGISTRY: ReadonlyMap<string, RoomVersionRules> = new Map([V10, V11, V12, I1].map((r) => [r.id, r]));

/** Every version whose rules the core implements (the CLI takes any of them). */
export const IMPLEMENTED_ROOM_VERSIONS: readonly RoomVersionId[] = [...REGISTRY.keys()] as RoomVersionId[];

/** Versions the engine creates, joins and advertises: all of them. */
export const SUPPORTED_ROOM_VERSIONS: readonly RoomVersionId[] = IMPLEMENTED_ROOM_VERSIONS;
/** What new rooms get when no version is asked for (the engine, the app, `hearth simulate`): 12, as current homeservers create. */
export const DEFAULT_ROOM_VERSION: RoomVersionId = '12';

export function isSupportedRoomVersion(v: unknown): v is RoomVersionId {
  return typeof v === 'string' && REGISTRY.has(v);
}

/** The rules of a room version; throws UnsupportedRoomVersionError for unknown ones. */
export function roomVersion(v: unknown): RoomVersionRules {
  const rules = typeof v === 'string' ? REGISTRY.get(v) : undefined;
  if (!rules) throw new UnsupportedRoomVersionError(v);
  return rules;
}

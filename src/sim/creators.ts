/**
 * Scenarios are written in the shape of room versions 10/11, where the creator
 * is an ordinary user listed in the power levels at 100. In a room version 12
 * room the creators have infinite power and may not be listed (auth rule 10.4),
 * so the simulator translates: a power levels event a step sends leaves the
 * creators out, and an expectation that names a creator in `users` is met when
 * that user is a creator and the actual event does not list them (their level
 * is then infinite, above any level the scenario asks for) — the other entries
 * are compared as written.
 */
import { type JsonObject, type JsonValue, isJsonObject } from '../core/json.ts';

/** `content` of an m.room.power_levels event without the room's creators in `users`. */
export function powerLevelsWithoutCreators(content: JsonObject, creators: readonly string[]): JsonObject {
  const users = content.users;
  if (creators.length === 0 || !isJsonObject(users)) return content;
  const kept: JsonObject = {};
  for (const [u, level] of Object.entries(users)) if (!creators.includes(u)) kept[u] = level;
  return { ...content, users: kept };
}

/**
 * Splits an expected m.room.power_levels content into what is left to compare as a subset and
 * the failures of its creator entries: a creator listed in the actual `users` is a failure
 * (v12 forbids it); an absent one meets any expected level.
 */
export function creatorPowerExpectation(
  want: JsonValue,
  actual: JsonObject,
  creators: readonly string[],
): { rest: JsonValue; failures: string[] } {
  if (creators.length === 0 || !isJsonObject(want) || !isJsonObject(want.users)) return { rest: want, failures: [] };
  const actualUsers = isJsonObject(actual.users) ? actual.users : {};
  const failures: string[] = [];
  const users: JsonObject = {};
  for (const [u, level] of Object.entries(want.users)) {
    if (!creators.includes(u)) users[u] = level;
    else if (Object.hasOwn(actualUsers, u)) failures.push(`m.room.power_levels lists the creator ${u} (${JSON.stringify(actualUsers[u])}); room version 12 forbids it`);
  }
  return { rest: { ...want, users }, failures };
}

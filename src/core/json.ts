/** JSON values as they appear in Matrix events (after JSON.parse). */
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export type JsonObject = { [key: string]: JsonValue };

/** A JSON object, possibly typed with optional members (e.g. a Pdu): what event functions accept. */
export type JsonRecord = { readonly [key: string]: JsonValue | undefined };

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Deep copy through JSON semantics (events are plain JSON: this is exact). */
export function cloneJson<T extends JsonValue>(value: T): T {
  return structuredClone(value);
}

/** Reading request parameters: each wrong or missing one is a specific M_BAD_JSON / M_MISSING_PARAM / M_INVALID_PARAM. */
import { type JsonObject, type JsonValue, isJsonObject } from '../../core/json.ts';
import { MatrixError } from '../errors.ts';

export function requireString(body: JsonObject, key: string): string {
  const v = body[key];
  if (v === undefined) throw new MatrixError('M_MISSING_PARAM', `missing "${key}"`);
  if (typeof v !== 'string') throw new MatrixError('M_BAD_JSON', `"${key}" must be a string`);
  return v;
}

export function optString(body: JsonObject, key: string): string | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new MatrixError('M_BAD_JSON', `"${key}" must be a string`);
  return v;
}

export function optBool(body: JsonObject, key: string): boolean | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new MatrixError('M_BAD_JSON', `"${key}" must be true or false`);
  return v;
}

export function optObject(body: JsonObject, key: string): JsonObject | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (!isJsonObject(v)) throw new MatrixError('M_BAD_JSON', `"${key}" must be an object`);
  return v;
}

export function optStringArray(body: JsonObject, key: string): string[] | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new MatrixError('M_BAD_JSON', `"${key}" must be a list of strings`);
  return v as string[];
}

export function optArray(body: JsonObject, key: string): JsonValue[] | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw new MatrixError('M_BAD_JSON', `"${key}" must be a list`);
  return v;
}

/** A non-negative integer query parameter, clamped to `max`. */
export function queryInt(q: URLSearchParams, key: string, dflt: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = q.get(key);
  if (raw === null || raw === '') return dflt;
  if (!/^\d{1,15}$/.test(raw)) throw new MatrixError('M_INVALID_PARAM', `query parameter ${key} must be a non-negative integer, got ${JSON.stringify(raw)}`);
  return Math.min(Number(raw), max);
}

export function queryBool(q: URLSearchParams, key: string): boolean {
  const raw = q.get(key);
  if (raw === null) return false;
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  throw new MatrixError('M_INVALID_PARAM', `query parameter ${key} must be true or false`);
}

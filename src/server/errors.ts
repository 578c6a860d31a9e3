/**
 * Errors the engine returns to its callers (UI, CLI, federation peers):
 * a Matrix errcode plus a sentence that says what is wrong, e.g.
 * `M_FORBIDDEN: @bob:… is banned`.
 */
import type { MatrixErrorBody } from './federation/types.ts';

export type MatrixErrcode =
  | 'M_FORBIDDEN'
  | 'M_NOT_FOUND'
  | 'M_BAD_JSON'
  | 'M_INVALID_PARAM'
  | 'M_UNKNOWN'
  | 'M_LIMIT_EXCEEDED'
  | 'M_TOO_LARGE'
  | 'M_UNSUPPORTED_ROOM_VERSION'
  | 'M_INCOMPATIBLE_ROOM_VERSION'
  | 'M_USER_IN_USE'
  | 'M_INVALID_USERNAME'
  | 'M_UNAVAILABLE'
  | 'M_UNRECOGNIZED'
  | 'M_MISSING_TOKEN'
  | 'M_UNKNOWN_TOKEN'
  | 'M_NOT_JSON'
  | 'M_MISSING_PARAM'
  | 'M_USER_DEACTIVATED'
  | 'M_EXCLUSIVE'
  | 'M_ROOM_IN_USE'
  | 'M_BAD_STATE'
  | 'M_WRONG_ROOM_KEYS_VERSION';

const STATUS: Record<MatrixErrcode, number> = {
  M_FORBIDDEN: 403,
  M_NOT_FOUND: 404,
  M_BAD_JSON: 400,
  M_INVALID_PARAM: 400,
  M_UNKNOWN: 500,
  M_LIMIT_EXCEEDED: 429,
  M_TOO_LARGE: 413,
  M_UNSUPPORTED_ROOM_VERSION: 400,
  M_INCOMPATIBLE_ROOM_VERSION: 400,
  M_USER_IN_USE: 400,
  M_INVALID_USERNAME: 400,
  M_UNAVAILABLE: 503,
  M_UNRECOGNIZED: 404,
  M_MISSING_TOKEN: 401,
  M_UNKNOWN_TOKEN: 401,
  M_NOT_JSON: 400,
  M_MISSING_PARAM: 400,
  M_USER_DEACTIVATED: 403,
  M_EXCLUSIVE: 400,
  M_ROOM_IN_USE: 400,
  M_BAD_STATE: 400,
  M_WRONG_ROOM_KEYS_VERSION: 403,
};

export class MatrixError extends Error {
  override readonly name = 'MatrixError';
  constructor(
    readonly errcode: MatrixErrcode,
    readonly reason: string,
    options?: { cause?: unknown; status?: number; extra?: Record<string, unknown> },
  ) {
    super(`${errcode}: ${reason}`, options);
    this.statusOverride = options?.status;
    this.extra = options?.extra;
  }
  /** A status other than the errcode's usual one (e.g. 405 M_UNRECOGNIZED for a known path, wrong method). */
  private readonly statusOverride: number | undefined;
  /** Extra members of the error body (e.g. `retry_after_ms`, `soft_logout`). */
  readonly extra: Record<string, unknown> | undefined;
  get status(): number {
    return this.statusOverride ?? STATUS[this.errcode];
  }
  toBody(): MatrixErrorBody {
    return { ...(this.extra ?? {}), errcode: this.errcode, error: this.reason } as MatrixErrorBody;
  }
}

export const forbidden = (reason: string) => new MatrixError('M_FORBIDDEN', reason);
export const notFound = (reason: string) => new MatrixError('M_NOT_FOUND', reason);
export const badJson = (reason: string) => new MatrixError('M_BAD_JSON', reason);
export const invalidParam = (reason: string) => new MatrixError('M_INVALID_PARAM', reason);

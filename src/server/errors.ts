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
  | 'M_UNAVAILABLE';

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
};

export class MatrixError extends Error {
  override readonly name = 'MatrixError';
  constructor(
    readonly errcode: MatrixErrcode,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`${errcode}: ${reason}`, options);
  }
  get status(): number {
    return STATUS[this.errcode];
  }
  toBody(): MatrixErrorBody {
    return { errcode: this.errcode, error: this.reason };
  }
}

export const forbidden = (reason: string) => new MatrixError('M_FORBIDDEN', reason);
export const notFound = (reason: string) => new MatrixError('M_NOT_FOUND', reason);
export const badJson = (reason: string) => new MatrixError('M_BAD_JSON', reason);
export const invalidParam = (reason: string) => new MatrixError('M_INVALID_PARAM', reason);

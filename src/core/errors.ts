/**
 * Errors raised by the protocol core. Each carries a machine-readable `code`
 * so callers (engine, CLI) can map it to a Matrix errcode or an exit status,
 * and a message that says what is wrong with the input.
 */
export type CoreErrorCode =
  | 'M_BAD_JSON'
  | 'M_NOT_JSON'
  | 'M_INVALID_PARAM'
  | 'M_TOO_LARGE'
  | 'M_UNSUPPORTED_ROOM_VERSION'
  | 'M_INVALID_SIGNATURE'
  | 'M_UNKNOWN';

export class CoreError extends Error {
  override readonly name: string = 'CoreError';
  constructor(
    readonly code: CoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Canonical JSON cannot represent the value (floats, unsafe integers, non-JSON types). */
export class CanonicalJsonError extends CoreError {
  override readonly name = 'CanonicalJsonError';
  constructor(
    message: string,
    readonly path: string,
  ) {
    super('M_BAD_JSON', path ? `${message} at ${path}` : message);
  }
}

/** An identifier (user ID, room ID, event ID, server name) does not match its grammar. */
export class InvalidIdentifierError extends CoreError {
  override readonly name = 'InvalidIdentifierError';
  constructor(message: string) {
    super('M_INVALID_PARAM', message);
  }
}

/** A PDU fails format validation (size limits, field types, ranges). */
export class InvalidPduError extends CoreError {
  override readonly name = 'InvalidPduError';
}

export class UnsupportedRoomVersionError extends CoreError {
  override readonly name = 'UnsupportedRoomVersionError';
  constructor(readonly version: unknown) {
    super('M_UNSUPPORTED_ROOM_VERSION', `unsupported room version ${JSON.stringify(version)}`);
  }
}

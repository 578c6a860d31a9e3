/**
 * A store write that failed (a full disk, the browser's quota) after its
 * batch was already placed in the rooms in memory. The engine keeps the batch
 * and writes it again in front of the next one (Homeserver.commit), so what
 * it holds is never lost and never half-written; `stored` settles once a
 * later write has put it on disk. Callers use it to finish what they started
 * — a local event is announced to peers and to the app only once it is stored
 * — and to answer a retry with the event that already exists instead of
 * creating a second copy.
 */
export class HeldWriteError extends Error {
  constructor(
    /** What the store said, e.g. "QuotaExceededError: …" (kept in the message: the app explains quota errors by it). */
    readonly storeError: unknown,
    /** Resolves once a later write stored the held batch. */
    readonly stored: Promise<void>,
  ) {
    super(describe(storeError));
    this.name = 'HeldWriteError';
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.message.startsWith(err.name) ? err.message : `${err.name}: ${err.message}`;
  return String(err);
}

/** The sentence a held local event's sender gets (the app reads the event ID back from it: heldEventIdOf). */
export function heldEventMessage(cause: string, eventId: string): string {
  return `${cause} — not saved yet: the message is kept (held as ${eventId}) and is saved and sent with the next write that succeeds`;
}

/** The event ID in a heldEventMessage, wherever the message travelled (Comlink keeps only an error's text). */
export function heldEventIdOf(message: string): string | undefined {
  return /\(held as (\$[^\s)]+)\)/.exec(message)?.[1];
}

/**
 * Shared by the matrix-js-sdk tests: waiting for a condition, and the SDK's
 * console output kept out of the test output (its warnings and errors are
 * kept, to print when a case fails).
 */

/** Polls `probe` until it returns something truthy; fails naming `what` (and the last value seen). */
export async function waitFor<T>(what: string, probe: () => T | undefined | null | false | Promise<T | undefined | null | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${String(last)})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The SDK's latest warnings and errors. */
export const sdkLog: string[] = [];
export const realConsole = { log: console.log, info: console.info, debug: console.debug, trace: console.trace, warn: console.warn, error: console.error };

/** The SDK logs through `console` (looked up at call time): debug output dropped, warnings and errors kept in sdkLog. */
export function muteConsole(): void {
  const drop = () => {};
  const keep =
    (level: string) =>
    (...msg: unknown[]) => {
      sdkLog.push(`${level}: ${msg.map((m) => (m instanceof Error ? m.message : typeof m === 'string' ? m : JSON.stringify(m))).join(' ')}`);
      if (sdkLog.length > 300) sdkLog.shift();
    };
  Object.assign(console, { log: drop, info: drop, debug: drop, trace: drop, warn: keep('warn'), error: keep('error') });
}

/**
 * A TCP port on 127.0.0.1 that a server started later can listen on.
 *
 * Why not `listen(0)`: the kernel hands that out from its ephemeral range,
 * the same range it draws the local port of every outgoing connection from.
 * Between the probe and the server's own listen (a build in between, or a
 * server restarted on the same port) a browser's or a client's connection
 * can take it, and the server fails with "port already in use" (seen in CI:
 * e2e/livable-network.spec.ts, port 42931). A port below the ephemeral range
 * is never given to an outgoing connection, so once free it stays free
 * unless something listens on it on purpose.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** Lowest port tried: clear of the well-known and registered ports most services listen on. */
const LOWEST = 10_000;

/** The first port of the kernel's ephemeral range (Linux; 32768 elsewhere, the Linux default). */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 0 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

/** Listens on `port` (0: any) on 127.0.0.1 and closes again; the port, or undefined if it was taken. */
function probe(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(undefined));
    s.listen(port, '127.0.0.1', () => {
      const { port: got } = s.address() as { port: number };
      s.close(() => resolve(got));
    });
  });
}

/** A TCP port free on 127.0.0.1 now, below the ephemeral range when the system leaves room there. */
export async function freePort(): Promise<number> {
  const high = ephemeralLow();
  // Random, not sequential: test files run in parallel processes, each asking for ports.
  for (let i = 0; high - LOWEST > 1_000 && i < 100; i++) {
    const port = await probe(LOWEST + Math.floor(Math.random() * (high - LOWEST)));
    if (port !== undefined) return port;
  }
  const any = await probe(0);
  if (any === undefined) throw new Error('no free TCP port on 127.0.0.1');
  return any;
}

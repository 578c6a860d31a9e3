/**
 * The relay's metrics in Prometheus text format, served over plain HTTP at
 * `/metrics` (`hearth relay --metrics host:port`): libp2p's own (through
 * @libp2p/prometheus-metrics — connections, streams per protocol, bytes
 * sent and received in `libp2p_data_transfer_bytes_total`, of which the
 * `/libp2p/circuit/relay/0.2.0/hop` and `…/stop` labels are relayed traffic)
 * and Hearth's summary gauges:
 *
 *   hearth_relay_peers          distinct peers connected
 *   hearth_relay_connections    open connections
 *   hearth_relay_reservations   circuit-relay-v2 reservations whose holder is connected
 *   hearth_relay_reservation_slots  slots held against --max-reservations (a
 *                               slot outlives its holder until its TTL)
 *   hearth_relay_circuits       relayed connections being carried now
 *   hearth_relay_bytes_total    bytes through all connections, both directions
 *
 * One registry per relay (not prom-client's global one), so two relays in one
 * process (the tests) do not clash. Bind it to loopback or a private address:
 * it tells anyone who asks how busy the relay is.
 */
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Metrics } from '@libp2p/interface';
import { prometheusMetrics } from '@libp2p/prometheus-metrics';
import { Gauge, Registry } from 'prom-client';

export type RelayCountsSource = () => { peers: number; connections: number; reservations: number; reservationSlots: number; circuits: number }

export interface RelayMetrics {
  /** Give this to createLibp2p's `metrics`. */
  libp2pMetrics: (components: never) => Metrics;
  /** Starts the HTTP endpoint; resolves with its URL. */
  serve(host: string, port: number, counts: RelayCountsSource): Promise<string>;
  /** The current text (what GET /metrics answers). */
  text(): Promise<string>;
  close(): Promise<void>;
}

export async function startRelayMetrics(): Promise<RelayMetrics> {
  const registry = new Registry();
  let counts: RelayCountsSource = () => ({ peers: 0, connections: 0, reservations: 0, reservationSlots: 0, circuits: 0 });
  const gauge = (name: string, help: string, pick: (c: ReturnType<RelayCountsSource>) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(pick(counts()));
      },
    });
  gauge('hearth_relay_peers', 'Distinct peers with an open connection to the relay', (c) => c.peers);
  gauge('hearth_relay_connections', 'Open connections', (c) => c.connections);
  gauge('hearth_relay_reservations', 'circuit-relay-v2 reservations whose holder is connected', (c) => c.reservations);
  gauge('hearth_relay_reservation_slots', 'Reservation slots held (until their TTL, even after the holder left); counted against max-reservations', (c) => c.reservationSlots);
  gauge('hearth_relay_circuits', 'Relayed connections being carried now', (c) => c.circuits);
  let server: Server | undefined;
  const text = async () => {
    const body = await registry.metrics();
    // The libp2p counter group counts per label; one total is what a dashboard wants first.
    const global = /^libp2p_data_transfer_bytes_total\{protocol="global (?:sent|received)"\} (\d+)/gm;
    let total = 0;
    for (const m of body.matchAll(global)) total += Number(m[1]);
    return `${body}\n# HELP hearth_relay_bytes_total Bytes through all connections, both directions\n# TYPE hearth_relay_bytes_total counter\nhearth_relay_bytes_total ${total}\n`;
  };
  return {
    libp2pMetrics: prometheusMetrics({ registry, collectDefaultMetrics: false }) as unknown as RelayMetrics['libp2pMetrics'],
    text,
    async serve(host, port, source) {
      counts = source;
      server = createServer((req, res) => {
        if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
          res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: GET /metrics\n');
          return;
        }
        text().then(
          (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body),
          (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(err)}\n`),
        );
      });
      const s = server;
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(port, host, () => resolve());
      });
      const addr = s.address() as AddressInfo;
      const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      return `http://${h}:${addr.port}/metrics`;
    },
    close: () => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())),
  };
}

/**
 * The Client-Server API over `node:http` (`hearth serve --client-port`): a
 * thin door onto the one handler (src/server/client-api). It reads the body
 * (refusing more than MAX_REQUEST_BYTES with M_TOO_LARGE before buffering
 * it), hands the request over and writes the answer back.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CORS_HEADERS } from '../server/client-api/api.ts';
import type { ClientApi } from '../server/client-api/index.ts';
import type { ClientRequest } from '../server/client-api/types.ts';
import { MAX_MEDIA_BYTES } from '../server/media.ts';

/** The largest request body read: a media upload at the media cap, plus headroom. */
export const MAX_REQUEST_BYTES = MAX_MEDIA_BYTES + 64 * 1024;

export interface ClientHttpServer {
  /** e.g. http://127.0.0.1:8008 */
  url: string;
  close(): Promise<void>;
}

function tooLarge(res: ServerResponse, what: string): void {
  res.writeHead(413, { ...CORS_HEADERS, 'content-type': 'application/json', connection: 'close' });
  res.end(JSON.stringify({ errcode: 'M_TOO_LARGE', error: `${what}; the limit is ${MAX_REQUEST_BYTES} bytes` }));
}

/**
 * How much of an over-cap body is read and thrown away before the 413 is
 * sent. Answering while the client is still uploading and then closing the
 * socket makes the client's write fail (EPIPE/ECONNRESET) before it reads the
 * answer, so it sees "connection lost" instead of M_TOO_LARGE. Draining a
 * bounded amount lets an honest client that overshot read the error; past
 * this the socket is dropped, so a hostile one cannot make us read forever.
 */
const DRAIN_LIMIT_BYTES = 4 * MAX_REQUEST_BYTES;

function readBody(req: IncomingMessage, res: ServerResponse): Promise<Uint8Array | undefined> {
  const declared = Number(req.headers['content-length'] ?? 0);
  const refuse = (): void => {
    tooLarge(res, declared > 0 ? `the request body is ${declared} bytes` : 'the request body is too large');
    // Whatever is still unread is dropped with the socket once the answer is out.
    if (!req.complete) res.once('finish', () => req.destroy());
  };
  if (declared > DRAIN_LIMIT_BYTES) {
    refuse();
    return Promise.resolve(undefined);
  }
  // Event-driven rather than for-await: leaving a for-await early destroys the
  // socket before the 413 could be written.
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (body: Uint8Array | undefined): void => {
      if (settled) return;
      settled = true;
      resolve(body);
    };
    req.on('data', (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size <= MAX_REQUEST_BYTES) chunks.push(chunk);
      else if (size > DRAIN_LIMIT_BYTES) {
        req.pause();
        refuse();
        settle(undefined);
      }
    });
    req.on('end', () => {
      if (size > MAX_REQUEST_BYTES) {
        refuse();
        settle(undefined);
      } else settle(new Uint8Array(Buffer.concat(chunks)));
    });
    req.on('error', (err) => {
      if (!settled) {
        settled = true;
        reject(err);
      }
    });
  });
}

export async function serveClientApi(api: ClientApi, opts: { port: number; host?: string }): Promise<ClientHttpServer> {
  const host = opts.host ?? '127.0.0.1';
  const server: Server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req, res);
      if (!body) return;
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
      const request: ClientRequest = {
        method: req.method ?? 'GET',
        path: q < 0 ? url : url.slice(0, q),
        query: q < 0 ? '' : url.slice(q + 1),
        headers,
        body,
      };
      const answer = await api.handle(request);
      res.writeHead(answer.status, { ...answer.headers, 'content-length': String(answer.body.length) });
      res.end(answer.body);
    })().catch((err) => {
      api.log('error', 'client HTTP door failed', { error: String(err) });
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errcode: 'M_UNKNOWN', error: 'internal error' }));
    });
  });
  // Long-polls (/sync) wait up to the handler's cap; keep idle sockets around for clients that reuse them.
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

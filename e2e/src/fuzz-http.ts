/**
 * A deliberately low-level HTTP client for the fuzz run. `fetch` normalises paths (`/../` is resolved,
 * `%2e%2e` kept but dots collapsed), refuses non-ASCII header values and always sends well-formed
 * UTF-8 bodies, which would hide exactly what the fuzz wants to send. `node:http` passes a path and
 * header values through as latin1 bytes (so broken UTF-8 reaches the server unchanged) and bodies as
 * raw Buffers; `rawRequest` writes arbitrary bytes on a socket for requests HTTP itself forbids.
 */
import { Agent, request } from 'node:http';
import { connect } from 'node:net';

export interface FuzzRequest {
  method: string;
  /** Sent as latin1: each char is one byte on the wire (so '\xff' is the byte 0xff). */
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** Raw bytes for the whole request (request line, headers, body); replaces the fields above. */
  raw?: Buffer;
}

export interface FuzzResponse {
  /** HTTP status, or 0 when the server closed the connection without answering. */
  status: number;
  /** Set when no status was read: 'closed', 'reset', 'timeout' or the socket error's code. */
  failure?: string;
  body: string;
  ms: number;
  /** The first attempt ended without an answer and this is the second (see `send`). */
  retried?: boolean;
}

const BODY_CAP = 2 * 1024 * 1024;

export function createFuzzClient(baseUrl: string, options: { sockets?: number; timeoutMs?: number } = {}) {
  const { hostname, port } = new URL(baseUrl);
  // One connection per request: a reset then belongs to that request, never to a stale keep-alive
  // socket or to what an earlier request left on it (loopback connections cost well under a ms).
  const agent = new Agent({ keepAlive: false, maxSockets: options.sockets ?? 8 });
  const timeoutMs = options.timeoutMs ?? 15_000;

  /**
   * A connection closed without any answer is tried once more on a new connection: on a loaded
   * machine this happens very rarely to ordinary requests (Node reports a hang-up as ECONNRESET). A
   * request that itself makes the server drop the connection fails twice and stays a failure;
   * `retried` marks the answer so the counts show how often this happened.
   */
  const retriedFailures: string[] = [];
  async function send(req: FuzzRequest): Promise<FuzzResponse> {
    const first = await sendOnce(req);
    if (req.raw || first.status !== 0 || !first.failure?.startsWith('ECONNRESET')) return first;
    retriedFailures.push(first.failure);
    return { ...(await sendOnce(req)), retried: true };
  }

  function sendOnce(req: FuzzRequest): Promise<FuzzResponse> {
    if (req.raw) return rawRequest(hostname, Number(port), req.raw, timeoutMs);
    // A server may answer an oversized body (above the collector's 64 KiB) early and close while the
    // client still writes: read the answer from the socket instead of losing it to EPIPE.
    if (req.body !== undefined && Buffer.byteLength(req.body) > 64 * 1024) {
      const { head, body } = toRaw(req, `${hostname}:${port}`);
      return rawRequest(hostname, Number(port), head, timeoutMs, body);
    }
    const started = performance.now();
    return new Promise((resolve) => {
      let settled = false;
      const done = (r: Omit<FuzzResponse, 'ms'>) => {
        if (settled) return;
        settled = true;
        resolve({ ...r, ms: performance.now() - started });
      };
      const body = req.body === undefined ? undefined : Buffer.from(req.body);
      const headers: Record<string, string> = { ...req.headers };
      if (body && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-length')) {
        headers['content-length'] = String(body.length);
      }
      let r: ReturnType<typeof request>;
      try {
        r = request({
          host: hostname,
          port: Number(port),
          method: req.method,
          path: req.path,
          headers,
          agent,
        });
      } catch (err) {
        // The client itself refused the request (a path or header node:http will not write).
        throw new Error(
          `client cannot send ${req.method} ${JSON.stringify(req.path)}: ${(err as Error).message}`,
        );
      }
      r.setTimeout(timeoutMs, () => {
        done({ status: 0, failure: 'timeout', body: '' });
        r.destroy();
      });
      r.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          if (size < BODY_CAP) chunks.push(c);
          size += c.length;
        });
        res.on('end', () =>
          done({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('latin1') }),
        );
        res.on('error', () =>
          done({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('latin1') }),
        );
      });
      // A reused socket (the agent hands a freed socket to a queued request) is named in the failure.
      r.on('error', (err: NodeJS.ErrnoException) =>
        done({
          status: 0,
          failure: `${err.code ?? err.message}${r.reusedSocket ? ' (reused socket)' : ''}`,
          body: '',
        }),
      );
      if (body) r.write(body);
      r.end();
    });
  }

  return { send, retriedFailures, close: () => agent.destroy() };
}

/** The bytes of a request as node:http would write them (latin1 path and headers). */
export function toRaw(req: FuzzRequest, host: string): { head: Buffer; body: Buffer } {
  const body = req.body === undefined ? Buffer.alloc(0) : Buffer.from(req.body);
  const headers: Record<string, string> = { host, connection: 'close', ...req.headers };
  if (req.body !== undefined) headers['content-length'] = String(body.length);
  const head = `${req.method} ${req.path} HTTP/1.1\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;
  return { head: Buffer.from(head, 'latin1'), body };
}

/**
 * One request on its own connection, bytes as given; reads until the server closes or answers.
 * `body`, when given, follows the head only if the server has not answered within a second: a server
 * that refuses a body by its Content-Length answers at once and closes, and a client still writing
 * would get a reset that discards the answer (as `Expect: 100-continue` avoids in real clients).
 */
export function rawRequest(
  host: string,
  port: number,
  bytes: Buffer,
  timeoutMs: number,
  body?: Buffer,
): Promise<FuzzResponse> {
  const started = performance.now();
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const socket = connect({ host, port });
    const finish = (failure?: string) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      const status = m ? Number(m[1]) : 0;
      resolve({
        status,
        ...(status === 0 ? { failure: failure ?? 'closed' } : {}),
        body: text.slice(text.indexOf('\r\n\r\n') + 4),
        ms: performance.now() - started,
      });
    };
    socket.setTimeout(timeoutMs, () => finish('timeout'));
    socket.on('connect', () => {
      socket.write(bytes);
      if (body && body.length > 0) {
        setTimeout(() => {
          if (chunks.length === 0 && !settled) socket.write(body, () => {});
        }, 1000).unref();
      }
    });
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      // One answer is all we want: stop once headers and the announced body have arrived.
      const text = Buffer.concat(chunks).toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = text.slice(0, end);
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      if (length) {
        if (text.length - end - 4 >= Number(length[1])) finish();
      } else if (!/\r\ntransfer-encoding:\s*chunked/i.test(head) || text.endsWith('\r\n0\r\n\r\n')) finish();
    });
    socket.on('end', () => finish());
    socket.on('close', () => finish());
    socket.on('error', (err: NodeJS.ErrnoException) => finish(err.code ?? 'error'));
  });
}

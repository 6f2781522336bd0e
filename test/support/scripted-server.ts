/**
 * A real HTTP server on 127.0.0.1 for tests: it records every request and answers from a script
 * (responses queued in order), then from a default handler. Nothing is mocked: the code under test
 * talks to it over TCP exactly as it talks to Webex or a broker.
 *
 *   const server = await startScriptedServer();
 *   server.script({ status: 429, headers: { 'retry-after': '1' } }, { body: { host: [], guest: [] } });
 *   ... call server.url ...
 *   server.requests[0].body; server.maxInFlight;
 *   await server.close();
 */
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface RecordedRequest {
  method: string;
  /** Path and query, as sent (`/api/v2/joseencrypt?x=1`). */
  url: string;
  /** Path only. */
  path: string;
  /** Lower-cased header names, as node parses them. */
  headers: IncomingHttpHeaders;
  /** The body parsed as JSON, or undefined when it is empty or not JSON. */
  body: unknown;
  rawBody: string;
  /** Position among all requests this server received, from 0. */
  index: number;
}

interface ScriptedResponse {
  /** Default 200. */
  status?: number;
  /** HTTP reason phrase; node's default for the status when absent. */
  statusMessage?: string;
  headers?: Record<string, string | number | string[]>;
  /**
   * A string is sent as is (text/plain unless a content-type header is given); anything else
   * is sent as JSON. No body when undefined.
   */
  body?: unknown;
  /** Wait this long before answering (the timer is cleared if the client goes away). */
  delayMs?: number;
  /** Destroy the connection instead of answering (after delayMs): a reset for the client. */
  destroy?: boolean;
}

export type Handler = (request: RecordedRequest) => ScriptedResponse | Promise<ScriptedResponse>;

/** One scripted step: a fixed response, or a function of the request. */
type Reply = ScriptedResponse | Handler;

export interface ScriptedServerOptions {
  /** Answers when the script is empty. Default: 500 with a message saying nothing was scripted. */
  handler?: Handler;
}

export interface ScriptedServer {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  readonly url: string;
  readonly port: number;
  /** Every request received, in arrival order (recorded once its body is read). */
  readonly requests: RecordedRequest[];
  /** Requests being handled right now (from arrival until the response ends or the client leaves). */
  readonly inFlight: number;
  /** The most requests that were in flight at once. */
  readonly maxInFlight: number;
  /** Queues responses, used in order before the default handler. */
  script(...replies: Reply[]): ScriptedServer;
  /** Replaces the default handler. */
  setHandler(handler: Handler): ScriptedServer;
  /** Forgets requests, the script and maxInFlight (the handler stays). */
  reset(): void;
  /** Resolves once at least `count` requests have been recorded. */
  waitForRequests(count: number): Promise<RecordedRequest[]>;
  /** Stops listening, destroys open sockets and clears pending delays. */
  close(): Promise<void>;
}

const unscripted: Handler = (request) => ({
  status: 500,
  body: { message: `scripted-server: nothing scripted for ${request.method} ${request.url}` },
});

function send(res: ServerResponse, reply: ScriptedResponse): void {
  if (res.destroyed || res.writableEnded) return;
  if (reply.destroy) {
    res.socket?.destroy();
    return;
  }
  const headers: Record<string, string | number | string[]> = { ...reply.headers };
  const hasType = Object.keys(headers).some((h) => h.toLowerCase() === 'content-type');
  let payload: string | undefined;
  if (typeof reply.body === 'string') {
    payload = reply.body;
    if (!hasType) headers['content-type'] = 'text/plain; charset=utf-8';
  } else if (reply.body !== undefined) {
    payload = JSON.stringify(reply.body);
    if (!hasType) headers['content-type'] = 'application/json';
  }
  if (payload !== undefined) headers['content-length'] = Buffer.byteLength(payload);
  const status = reply.status ?? 200;
  if (reply.statusMessage !== undefined) res.writeHead(status, reply.statusMessage, headers);
  else res.writeHead(status, headers);
  res.end(payload);
}

export async function startScriptedServer(options: ScriptedServerOptions = {}): Promise<ScriptedServer> {
  let handler: Handler = options.handler ?? unscripted;
  let queue: Reply[] = [];
  let requests: RecordedRequest[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let waiters: { count: number; resolve: (r: RecordedRequest[]) => void }[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let closing: Promise<void> | undefined;

  const record = (req: IncomingMessage, rawBody: string): RecordedRequest => {
    let body: unknown;
    try {
      body = rawBody.length > 0 ? JSON.parse(rawBody) : undefined;
    } catch {
      body = undefined;
    }
    const url = req.url ?? '/';
    const recorded: RecordedRequest = {
      method: req.method ?? 'GET',
      url,
      path: url.split('?')[0] ?? url,
      headers: req.headers,
      body,
      rawBody,
      index: requests.length,
    };
    requests.push(recorded);
    const ready = waiters.filter((w) => requests.length >= w.count);
    waiters = waiters.filter((w) => requests.length < w.count);
    for (const w of ready) w.resolve(requests);
    return recorded;
  };

  const server: Server = createServer((req, res) => {
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    let timer: NodeJS.Timeout | undefined;
    res.on('close', () => {
      inFlight -= 1;
      if (timer) {
        clearTimeout(timer);
        timers.delete(timer);
      }
    });
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request = record(req, Buffer.concat(chunks).toString('utf8'));
      const step = queue.shift() ?? handler;
      Promise.resolve()
        .then(() => (typeof step === 'function' ? step(request) : step))
        .then(
          (reply) => {
            if (!reply.delayMs) return send(res, reply);
            timer = setTimeout(() => {
              if (timer) timers.delete(timer);
              send(res, reply);
            }, reply.delayMs);
            timers.add(timer);
          },
          (err: unknown) =>
            send(res, { status: 500, body: { message: `scripted-server handler threw: ${String(err)}` } }),
        );
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  const api: ScriptedServer = {
    url: `http://127.0.0.1:${port}`,
    port,
    get requests() {
      return requests;
    },
    get inFlight() {
      return inFlight;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    script(...replies) {
      queue.push(...replies);
      return api;
    },
    setHandler(next) {
      handler = next;
      return api;
    },
    reset() {
      requests = [];
      queue = [];
      maxInFlight = inFlight;
    },
    waitForRequests(count) {
      if (requests.length >= count) return Promise.resolve(requests);
      return new Promise((resolve) => waiters.push({ count, resolve }));
    },
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        server.close((err) => (err ? reject(err) : resolve()));
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
  return api;
}

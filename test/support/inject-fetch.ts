/**
 * `fetch` for tests, through Fastify's `app.inject()` when the URL is a test server's: the request
 * goes through the whole app (hooks, validation, routes, error handler) in-process, with no socket,
 * no keep-alive pool and no port, so a busy machine cannot make it time out. Any other URL (the
 * Webex emulator, a proxy, a scripted server, a server started with `sockets: true`) goes to the
 * real `fetch`, and so does a request with a streamed body or an abort signal.
 *
 * Redirects are followed as `fetch` follows them (303, and 301/302 after a POST, become a GET),
 * unless `redirect: 'manual'`, which returns the redirect itself.
 */
import type { FastifyInstance } from 'fastify';

const apps = new Map<string, FastifyInstance>();

/** Routes requests to `origin` (e.g. `http://127.0.0.1:41234`) through `app.inject()` until the returned function is called. */
export function injectFor(origin: string, app: FastifyInstance): () => void {
  apps.set(origin, app);
  return () => {
    if (apps.get(origin) === app) apps.delete(origin);
  };
}

const NO_BODY = new Set([101, 103, 204, 205, 304]);
const REDIRECT = new Set([301, 302, 303, 307, 308]);

type InjectableBody = string | URLSearchParams | Uint8Array | null | undefined;

const injectable = (body: RequestInit['body']): body is InjectableBody =>
  body === undefined ||
  body === null ||
  typeof body === 'string' ||
  body instanceof URLSearchParams ||
  body instanceof Uint8Array;

export async function testFetch(input: string | URL, init: RequestInit = {}): Promise<Response> {
  let url = new URL(String(input));
  if (!apps.has(url.origin) || !injectable(init.body) || init.signal) return fetch(input, init);
  let method = (init.method ?? 'GET').toUpperCase();
  let body: InjectableBody = init.body;
  const headers = new Headers(init.headers);
  for (let hops = 0; ; hops++) {
    const app = apps.get(url.origin);
    if (!app) return fetch(url, { ...init, method, headers, body: body ?? null });
    const answer = await inject(app, url, method, headers, body);
    const location = answer.headers.get('location');
    if (init.redirect === 'manual' || !REDIRECT.has(answer.status) || !location)
      return asFetched(answer, url, hops > 0);
    if (init.redirect === 'error' || hops === 20) throw new TypeError('fetch failed: redirect');
    url = new URL(location, url);
    if (answer.status === 303 || ((answer.status === 301 || answer.status === 302) && method === 'POST')) {
      method = 'GET';
      body = undefined;
      headers.delete('content-type');
    }
  }
}

/** What `fetch` sets on its answers and a constructed Response lacks: its URL, whether redirected. */
function asFetched(response: Response, url: URL, redirected: boolean): Response {
  Object.defineProperty(response, 'url', { value: url.toString() });
  Object.defineProperty(response, 'redirected', { value: redirected });
  return response;
}

async function inject(
  app: FastifyInstance,
  url: URL,
  method: string,
  requestHeaders: Headers,
  body: InjectableBody,
): Promise<Response> {
  const headers: Record<string, string> = {};
  requestHeaders.forEach((value, name) => {
    headers[name] = value;
  });
  headers['host'] ??= url.host;
  let payload: string | Buffer | undefined;
  if (typeof body === 'string') payload = body;
  else if (body instanceof URLSearchParams) {
    payload = body.toString();
    headers['content-type'] ??= 'application/x-www-form-urlencoded;charset=UTF-8';
  } else if (body instanceof Uint8Array) payload = Buffer.from(body);
  const answer = await app.inject({
    method: method as 'GET',
    url: `${url.pathname}${url.search}`,
    headers,
    ...(payload !== undefined ? { payload } : {}),
    remoteAddress: '127.0.0.1',
  });
  const out = new Headers();
  for (const [name, value] of Object.entries(answer.headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) out.append(name, String(v));
  }
  const status = answer.statusCode;
  const empty = NO_BODY.has(status) || method === 'HEAD';
  return new Response(empty ? null : answer.rawPayload, { status, headers: out });
}

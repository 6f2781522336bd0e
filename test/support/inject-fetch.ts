/**
 * `fetch` for tests, through Fastify's `app.inject()` when the URL is a test server's: the request
 * goes through the whole app (hooks, validation, routes, error handler) in-process, with no socket,
 * no keep-alive pool and no port, so a busy machine cannot make it time out. Any other URL (the
 * Webex emulator, a proxy, a scripted server, a server started with `sockets: true`) goes to the
 * real `fetch`.
 *
 * Only requests made with `redirect: 'manual'` (a redirect returned, never followed) and a string,
 * bytes or form body are injected; the others go to the real `fetch` too.
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

export async function testFetch(input: string | URL, init: RequestInit = {}): Promise<Response> {
  const url = new URL(String(input));
  const app = apps.get(url.origin);
  const body = init.body;
  const injectable =
    body === undefined ||
    body === null ||
    typeof body === 'string' ||
    body instanceof URLSearchParams ||
    body instanceof Uint8Array;
  if (!app || init.redirect !== 'manual' || !injectable || init.signal) return fetch(input, init);
  const headers: Record<string, string> = {};
  new Headers(init.headers).forEach((value, name) => {
    headers[name] = value;
  });
  headers['host'] ??= url.host;
  let payload: string | Buffer | undefined;
  if (typeof body === 'string') payload = body;
  else if (body instanceof URLSearchParams) {
    payload = body.toString();
    headers['content-type'] ??= 'application/x-www-form-urlencoded;charset=UTF-8';
  } else if (body instanceof Uint8Array) payload = Buffer.from(body);
  else if (body !== undefined && body !== null)
    throw new Error('testFetch: a string, Buffer or URLSearchParams body');
  const answer = await app.inject({
    method: (init.method ?? 'GET').toUpperCase() as 'GET',
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
  const head = (init.method ?? 'GET').toUpperCase() === 'HEAD';
  return new Response(NO_BODY.has(status) || head ? null : answer.rawPayload, { status, headers: out });
}

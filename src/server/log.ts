/** What the HTTP logs show: secrets censored in headers, bodies and URLs. */
import type { FastifyRequest } from 'fastify';

/** Secrets never reach a log line, whatever a route logs. */
export const LOG_REDACT = {
  paths: [
    'req.headers.authorization',
    'req.headers.cookie',
    'req.headers["x-spark-signature"]',
    'req.headers["x-ic-signature"]',
    'req.query.data',
    'headers.authorization',
    'authorization',
    'token',
    'key',
    'secret',
    'cipher',
  ],
  censor: '[REDACTED]',
};

/** Routes whose path parameters are secrets: a short link's code opens its visit. */
const SECRET_PATH_ROUTES = new Set(['/visit/:code']);
/** Query parameters whose (short, plain) values say nothing secret: link page flags, list filters. */
const PLAIN_QUERY = new Set(['int', 'v', 'limit', 'offset', 'from', 'to', 'state', 'tab', 'page']);

/**
 * The request URL as logged. Query strings carry secrets under any spelling of their names (a link
 * page's `?data=` is the link's whole cipher, and `?%64ata=` is the same parameter once decoded;
 * the live API's `?ticket=` is a page's ticket; `q` searches subjects), so every query value is
 * censored but those of a few plain parameters; a name is kept when it is a plain word. A short
 * link's code is its secret too, so `/visit/<code>` is censored.
 */
function redactUrl(url: string, route?: string): string {
  const { censor } = LOG_REDACT;
  const cut = url.indexOf('?');
  const path = cut === -1 ? url : url.slice(0, cut);
  const shown =
    route !== undefined && SECRET_PATH_ROUTES.has(route)
      ? route.replace(/:\w+/g, censor)
      : path.replace(/^\/visit\/[^/]+/i, `/visit/${censor}`);
  if (cut === -1) return shown;
  const query = url
    .slice(cut + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = eq === -1 ? pair : pair.slice(0, eq);
      if (PLAIN_QUERY.has(name) && /^[\w.-]{0,16}$/.test(pair.slice(eq + 1))) return pair;
      const shownName = /^[A-Za-z_][A-Za-z0-9_]{0,19}$/.test(name) ? name : censor;
      return eq === -1 ? shownName : `${shownName}=${censor}`;
    })
    .join('&');
  return `${shown}?${query}`;
}

export const LOG_SERIALIZERS = {
  req: (request: FastifyRequest) => ({
    method: request.method,
    url: redactUrl(request.url, request.routeOptions?.url),
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  }),
};

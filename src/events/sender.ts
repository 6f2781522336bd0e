/**
 * One delivery attempt: a POST to a subscriber's URL over node:http/https, connecting only to an
 * address the policy allows (checked after DNS resolution, in the socket's own `lookup`, so the
 * address checked is the one connected to: no DNS rebinding), following at most a few redirects
 * and checking each again, within one deadline. No connection is reused between attempts.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import type { AddressPolicy } from './ssrf.js';

/** An attempt that got no HTTP status: refused address, DNS, connection, timeout, redirects. */
class DeliveryFailure extends Error {}

export interface SendOptions {
  policy: AddressPolicy;
  timeoutMs: number;
  /** Redirects followed (each checked again); more is a failure. */
  maxRedirects?: number;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** Why `url` cannot be a delivery target before any DNS (scheme, credentials, a refused literal address). */
export function urlProblem(url: string, policy: AddressPolicy): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'url must be an absolute http:// or https:// URL';
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')
    return 'url must be an absolute http:// or https:// URL';
  if (parsed.username || parsed.password) return 'url must not carry a user name or password';
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) return policy.refusal(host);
  return undefined;
}

function guardedLookup(policy: AddressPolicy): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { all: true, verbatim: true }, (err, addresses: LookupAddress[]) => {
      const cb = callback as (...args: unknown[]) => void;
      if (err) return cb(err);
      const allowed = addresses.filter((a) => policy.refusal(a.address) === undefined);
      if (allowed.length === 0) {
        const first = addresses[0]?.address ?? 'nothing';
        return cb(
          new DeliveryFailure(`${hostname} resolves to ${first}: ${policy.refusal(first) ?? 'refused'}`),
        );
      }
      if ((options as { all?: boolean }).all) return cb(null, allowed);
      return cb(null, allowed[0]!.address, allowed[0]!.family);
    });
  };
}

/** POSTs `body`; resolves with the final HTTP status, or rejects with a DeliveryFailure. */
export async function postWebhook(
  url: string,
  headers: Record<string, string>,
  body: string,
  options: SendOptions,
): Promise<number> {
  const deadline = Date.now() + options.timeoutMs;
  const max = options.maxRedirects ?? 3;
  let target = url;
  for (let hop = 0; ; hop++) {
    const problem = urlProblem(target, options.policy);
    if (problem)
      throw new DeliveryFailure(hop === 0 ? problem : `redirect to ${safeUrl(target)} refused: ${problem}`);
    const res = await once(target, headers, body, options.policy, deadline - Date.now());
    const location = res.headers.location;
    res.resume();
    if (!REDIRECTS.has(res.statusCode ?? 0) || !location) return res.statusCode ?? 0;
    if (hop >= max) throw new DeliveryFailure(`more than ${max} redirects`);
    target = new URL(location, target).toString();
  }
}

/** The URL without its query (which may hold a receiver's token), for errors. */
function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return 'an invalid URL';
  }
}

function once(
  url: string,
  headers: Record<string, string>,
  body: string,
  policy: AddressPolicy,
  timeoutMs: number,
): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    if (timeoutMs <= 0) return reject(new DeliveryFailure('timed out'));
    const u = new URL(url);
    const request = u.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = request(u, {
      method: 'POST',
      agent: false,
      lookup: guardedLookup(policy),
      headers: {
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(body)),
        'user-agent': 'instant-connect-events/1',
        ...headers,
      },
    });
    const timer = setTimeout(
      () => req.destroy(new DeliveryFailure(`timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
    req.on('response', (res) => {
      clearTimeout(timer);
      resolve(res);
    });
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err instanceof DeliveryFailure ? err : new DeliveryFailure(describe(err)));
    });
    req.end(body);
  });
}

function describe(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ENOTFOUND') return 'the host name does not resolve';
  if (code === 'ECONNRESET') return 'connection reset';
  return code ? `${code}: ${err.message}` : err.message;
}

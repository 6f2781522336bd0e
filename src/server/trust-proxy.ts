/**
 * Which reverse proxies are believed about the client's address (`X-Forwarded-For`). Rate limits
 * and logs use `request.ip`: behind a proxy that is the proxy's own address for every client
 * unless the proxy is trusted, and a header from anyone else must never be believed (a direct
 * client could pick any address and dodge every per-address limit).
 *
 * - `false` (the default): the socket's address, X-Forwarded-For ignored.
 * - `{ addresses }`: addresses or CIDRs of the proxies (also `loopback`, `linklocal`,
 *   `uniquelocal`); the client is the first address, from the right, that is not one of them.
 *   The safe choice: a direct client's header is ignored.
 * - `{ hops }`: the last `hops` entries are proxies, whoever sent them. Only when nothing but the
 *   proxy can reach the port (fastify itself refuses a bare hop count for that reason).
 * - `true`: every hop trusted, the client is the first entry: only behind a proxy that replaces
 *   the header rather than appending to it.
 */
import { isIP } from 'node:net';
import type { FastifyServerOptions } from 'fastify';
import { InstantConnectError } from '../errors.js';

export type TrustProxy = boolean | { hops: number } | { addresses: string[] };

const NAMED_RANGES = new Set(['loopback', 'linklocal', 'uniquelocal']);

function validAddress(entry: string): boolean {
  if (NAMED_RANGES.has(entry)) return true;
  const [address, bits, ...rest] = entry.split('/');
  if (rest.length > 0 || address === undefined) return false;
  const family = isIP(address);
  if (family === 0) return false;
  if (bits === undefined) return true;
  if (!/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

/**
 * TRUST_PROXY as written: empty or `false` (off), `true`, a hop count (`1`), or a comma list of
 * addresses and CIDRs (`127.0.0.1,10.0.0.0/8`). A bad value names the variable and the rule.
 */
export function parseTrustProxy(raw: string | undefined, name = 'TRUST_PROXY'): TrustProxy {
  const value = raw?.trim() ?? '';
  if (value === '' || /^false$/i.test(value)) return false;
  if (/^true$/i.test(value)) return true;
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    if (hops > 32)
      throw new InstantConnectError('ERR_VALIDATION', `${name} must be a hop count from 0 to 32`);
    return hops === 0 ? false : { hops };
  }
  const addresses = value.split(',').map((entry) => entry.trim());
  const bad = addresses.find((entry) => !validAddress(entry));
  if (bad !== undefined)
    throw new InstantConnectError(
      'ERR_VALIDATION',
      `${name} must be true, false, a hop count, or a comma-separated list of IP addresses or CIDRs (such as 127.0.0.1,10.0.0.0/8); ${JSON.stringify(bad.slice(0, 60))} is neither`,
    );
  return { addresses };
}

/** The option as fastify takes it (a hop count as a function: fastify turns a bare number off). */
export function fastifyTrustProxy(trust: TrustProxy | undefined): FastifyServerOptions['trustProxy'] {
  if (trust === undefined || trust === false) return false;
  if (trust === true) return true;
  if ('hops' in trust) {
    const hops = trust.hops;
    return (_address: string, hop: number) => hop < hops;
  }
  return trust.addresses;
}

/** For the start-up lines: what is trusted, in words. */
export function describeTrustProxy(trust: TrustProxy | undefined): string {
  if (trust === undefined || trust === false) return 'off (X-Forwarded-For ignored)';
  if (trust === true) return 'every hop (X-Forwarded-For believed)';
  if ('hops' in trust) return `${trust.hops} hop${trust.hops === 1 ? '' : 's'}`;
  return trust.addresses.join(', ');
}

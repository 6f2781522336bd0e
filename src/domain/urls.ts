/** Where links and brokers live, and every URL form of a link. Pure string work. */
import type { Role, Vertical } from './constants.js';

export type EnvironmentName = 'commercial' | 'usgov';

export interface Environment {
  name: EnvironmentName | 'custom';
  /** Origin of the joseencrypt broker. */
  brokerUrl: string;
  /** Origin that serves the long links (`/{gen|hc}/v1/{login|talk}`). */
  linkBaseUrl: string;
  /** Webex REST API base, e.g. https://webexapis.com/v1 (undefined for a custom broker). */
  webexApiUrl?: string;
}

export const ENVIRONMENTS: Record<EnvironmentName, Environment> = {
  commercial: {
    name: 'commercial',
    brokerUrl: 'https://mtg-broker-a.wbx2.com',
    linkBaseUrl: 'https://instant.webex.com',
    webexApiUrl: 'https://webexapis.com/v1',
  },
  usgov: {
    name: 'usgov',
    brokerUrl: 'https://mtg-broker.gov.ciscospark.com',
    linkBaseUrl: 'https://instant-usgov.webex.com',
    webexApiUrl: 'https://api-usgov.webex.com/v1',
  },
};

const trimSlash = (url: string) => url.replace(/\/+$/, '');

/**
 * `commercial`, `usgov`, or the URL of another broker (the project's own serves its long links
 * on the same origin, so that is the default link base for a custom broker).
 */
export function resolveEnvironment(broker: string, linkBaseUrl?: string): Environment {
  if (broker === 'commercial' || broker === 'usgov') {
    const env = ENVIRONMENTS[broker];
    return linkBaseUrl ? { ...env, linkBaseUrl: trimSlash(linkBaseUrl) } : env;
  }
  let url: URL;
  try {
    url = new URL(broker);
  } catch {
    throw new TypeError(
      `broker must be "commercial", "usgov" or an http(s) URL (got ${JSON.stringify(broker)})`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`broker URL must be http or https (got ${url.protocol})`);
  }
  if (url.username || url.password) throw new TypeError('broker URL must not carry credentials');
  const base = trimSlash(`${url.origin}${url.pathname}`);
  return { name: 'custom', brokerUrl: base, linkBaseUrl: trimSlash(linkBaseUrl ?? base) };
}

export interface LongUrlParts {
  linkBaseUrl: string;
  vertical: Vertical;
  role: Role;
  /** Hosts go to `login` unless false (then `talk`, no login offered). */
  hostLogin: boolean;
  cipher: string;
}

/** `/{gen|hc}/v1/{login|talk}?int=jose&v=1&data=<cipher>` on the link origin. */
export function longUrl(parts: LongUrlParts): string {
  const page = parts.role === 'host' && parts.hostLogin ? 'login' : 'talk';
  return `${trimSlash(parts.linkBaseUrl)}/${parts.vertical}/v1/${page}?int=jose&v=1&data=${encodeURIComponent(parts.cipher)}`;
}

/** The host link that offers no "join as guest": `login?int=jose&v=1&fli=true&data=…`. */
export function forcedLoginUrl(parts: Omit<LongUrlParts, 'role' | 'hostLogin'>): string {
  return `${trimSlash(parts.linkBaseUrl)}/${parts.vertical}/v1/login?int=jose&v=1&fli=true&data=${encodeURIComponent(parts.cipher)}`;
}

/** `baseUrl + short`: Cisco's baseUrl already ends in a slash; tolerate one that does not. */
export function shortUrl(baseUrl: string, short: string): string {
  return `${baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`}${short}`;
}

export interface ParsedLink {
  form: 'long' | 'forced-login' | 'short' | 'cipher';
  origin?: string;
  vertical?: Vertical;
  page?: 'login' | 'talk';
  cipher?: string;
  short?: string;
}

/** What kind of link a string is: a long URL, a short URL, or a bare cipher. */
export function parseLink(text: string): ParsedLink | undefined {
  const value = text.trim();
  if (/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]*){4}$/.test(value)) return { form: 'cipher', cipher: value };
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  const long = /^(?:.*)\/(gen|hc)\/v1\/(login|talk)\/?$/.exec(url.pathname);
  const data = url.searchParams.get('data');
  if (long && data) {
    return {
      form: url.searchParams.get('fli') === 'true' ? 'forced-login' : 'long',
      origin: url.origin,
      vertical: long[1] as Vertical,
      page: long[2] as 'login' | 'talk',
      cipher: data,
    };
  }
  const short = /\/visit\/([A-Za-z0-9]+)\/?$/.exec(url.pathname);
  if (short) return { form: 'short', origin: url.origin, short: short[1] };
  return undefined;
}

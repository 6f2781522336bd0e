/** One typed result for both response shapes (v2 objects, v1 strings), with every URL form. */
import Type from 'typebox';
import { BadResponseError } from '../errors.js';
import type { Role, Vertical } from './constants.js';
import type { ResolvedLinkRequest } from './input.js';
import { type Environment, forcedLoginUrl, longUrl, shortUrl } from './urls.js';

export const RoleField = Type.Enum(['host', 'guest']);

/** One link with every URL form (the SDK's result, and each link of a visit in the API). */
export const LinkSchema = Type.Object(
  {
    role: RoleField,
    index: Type.Integer({ minimum: 0, description: 'Position among the links of its role, from 0.' }),
    cipher: Type.String({ minLength: 1, description: 'The token (a JWE compact serialisation).' }),
    short: Type.Optional(Type.String({ description: 'Short code, when short URLs were asked for.' })),
    shortUrl: Type.Optional(
      Type.String({ format: 'uri', description: '`baseUrl + short`, when short URLs were asked for.' }),
    ),
    longUrl: Type.String({ format: 'uri', description: 'The link with the cipher in its `data` parameter.' }),
    forcedLoginUrl: Type.Optional(
      Type.String({ format: 'uri', description: 'Hosts only: the link that forces a Webex login.' }),
    ),
  },
  { $id: 'Link' },
);
export type Link = Type.Static<typeof LinkSchema>;

export interface LinkSet {
  hosts: Link[];
  guests: Link[];
  /** The broker's short-link base (ends with `/`), when short URLs were asked for. */
  baseUrl?: string;
}

export interface LinkResult extends LinkSet {
  subject: string;
  /** True when the SDK generated the subject (it names the meeting space: keep it). */
  subjectGenerated: boolean;
  /** Epoch seconds, when the links open later than now. */
  notBefore?: number;
  /** Epoch seconds. */
  expiresAt: number;
  vertical: Vertical;
  environment: Environment['name'];
  brokerUrl: string;
  /** How many broker calls it took. */
  calls: number;
}

/** The result of a request: its resolved window and subject, where it was sent, and its links. */
export function linkResult(
  request: ResolvedLinkRequest,
  environment: Pick<Environment, 'name' | 'brokerUrl'>,
  calls: number,
  links: LinkSet,
): LinkResult {
  return {
    subject: request.subject,
    subjectGenerated: request.subjectGenerated,
    ...(request.notBefore !== undefined ? { notBefore: request.notBefore } : {}),
    expiresAt: request.expiresAt,
    vertical: request.vertical,
    environment: environment.name,
    brokerUrl: environment.brokerUrl,
    calls,
    ...links,
  };
}

export interface NormaliseContext {
  linkBaseUrl: string;
  vertical: Vertical;
  hostLogin: boolean;
  /** When given, the response must hold exactly this many links of each role. */
  expect?: { hosts: number; guests: number };
}

type Entry = { cipher: string; short?: string };

function entries(body: Record<string, unknown>, key: 'host' | 'guest'): Entry[] {
  const list = body[key] ?? [];
  if (!Array.isArray(list)) throw new BadResponseError(`"${key}" is not an array`);
  return list.map((item, i) => {
    if (typeof item === 'string' && item.length > 0) return { cipher: item }; // v1
    if (typeof item === 'object' && item !== null && typeof (item as Entry).cipher === 'string') {
      const { cipher, short } = item as Entry;
      if (!cipher) throw new BadResponseError(`${key}[${i}].cipher is empty`);
      if (short !== undefined && (typeof short !== 'string' || !short)) {
        throw new BadResponseError(`${key}[${i}].short is not a string`);
      }
      return short ? { cipher, short } : { cipher };
    }
    throw new BadResponseError(`${key}[${i}] is neither a cipher string (v1) nor {cipher} (v2)`);
  });
}

export function normaliseResponse(body: unknown, ctx: NormaliseContext): LinkSet {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new BadResponseError('expected a JSON object with "host" and "guest"');
  }
  const record = body as Record<string, unknown>;
  if (!('host' in record) && !('guest' in record))
    throw new BadResponseError('no "host" or "guest" in the body');
  const baseUrl = record['baseUrl'];
  if (baseUrl !== undefined && typeof baseUrl !== 'string')
    throw new BadResponseError('"baseUrl" is not a string');
  const build = (role: Role, list: Entry[]): Link[] =>
    list.map((entry, index) => {
      const link: Link = {
        role,
        index,
        cipher: entry.cipher,
        longUrl: longUrl({ ...ctx, role, cipher: entry.cipher }),
      };
      if (entry.short) {
        link.short = entry.short;
        if (baseUrl) link.shortUrl = shortUrl(baseUrl, entry.short);
      }
      if (role === 'host') link.forcedLoginUrl = forcedLoginUrl({ ...ctx, cipher: entry.cipher });
      return link;
    });
  const set: LinkSet = {
    hosts: build('host', entries(record, 'host')),
    guests: build('guest', entries(record, 'guest')),
  };
  if (baseUrl) set.baseUrl = baseUrl;
  if (ctx.expect && (set.hosts.length !== ctx.expect.hosts || set.guests.length !== ctx.expect.guests)) {
    throw new BadResponseError(
      `asked for ${ctx.expect.hosts} host and ${ctx.expect.guests} guest links, got ${set.hosts.length} and ${set.guests.length}`,
    );
  }
  return set;
}

/** Batches merged in order; indexes renumbered across the whole set. */
export function mergeLinkSets(sets: LinkSet[]): LinkSet {
  const merged: LinkSet = {
    hosts: sets.flatMap((s) => s.hosts).map((l, index) => ({ ...l, index })),
    guests: sets.flatMap((s) => s.guests).map((l, index) => ({ ...l, index })),
  };
  const baseUrl = sets.find((s) => s.baseUrl)?.baseUrl;
  if (baseUrl) merged.baseUrl = baseUrl;
  return merged;
}

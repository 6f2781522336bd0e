/**
 * The friendly input (subject, hosts, guests, notBefore/expiresAt or ttl, devices, …) resolved
 * into one validated request, then planned as joseencrypt wire bodies of at most 25 links each.
 */
import { type Issue, ValidationError } from '../errors.js';
import { planBatches } from './batch.js';
import {
  AUDIENCE,
  DEFAULT_TTL_SECONDS,
  DEFAULTS,
  MAX_LINKS_PER_REQUEST,
  type Vertical,
} from './constants.js';
import { type CryptoOptions, type JoseEncryptRequest, LinkInput, type LinkRequestInput } from './schema.js';
import { generateSubject, type RandomBytes } from './subject.js';
import { isoSeconds, parseDuration, parseInstant } from './time.js';
import { type KeyAliases, schemaIssues, windowIssues } from './validate.js';

export interface ResolvedLinkRequest {
  subject: string;
  /** True when we made the subject up (callers should show it: it names the space). */
  subjectGenerated: boolean;
  hosts: number;
  guests: number;
  /** Epoch seconds. */
  notBefore?: number;
  /** Epoch seconds; always set, so every batch of one request shares one window. */
  expiresAt: number;
  devices: string[];
  shortUrls: boolean;
  vertical: Vertical;
  hostLogin: boolean;
  crypto: CryptoOptions;
  audience: string;
}

export interface ResolveContext {
  /** Epoch seconds. */
  now: number;
  randomBytes?: RandomBytes;
  /** Prefix of generated subjects. */
  subjectPrefix?: string;
  /** Accept an expiry in the past (used only to revoke at Cisco). */
  allowPast?: boolean;
}

const FRIENDLY_ALIASES: Record<string, KeyAliases> = {
  '': {
    sub: 'subject',
    numHost: 'hosts',
    numGuest: 'guests',
    nbf: 'notBefore',
    exp: 'expiresAt',
    start: 'notBefore',
    end: 'expiresAt',
    provideShortUrls: 'shortUrls',
    verticalType: 'vertical',
    loginUrlForHost: 'hostLogin',
    jweAlg: 'crypto.jweAlg',
    enc: 'crypto.enc',
    jwsAlg: 'crypto.jwsAlg',
    saltLength: 'crypto.saltLength',
    iterations: 'crypto.iterations',
    aud: 'audience',
  },
};

/** Validates and resolves the friendly input; throws one ValidationError listing every problem. */
export function resolveLinkInput(input: LinkRequestInput, ctx: ResolveContext): ResolvedLinkRequest {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ValidationError(schemaIssues(LinkInput, input));
  }
  const issues: Issue[] = [];
  const json: Record<string, unknown> = { ...input };
  // Dates become epoch seconds before the schema sees them (the schema is JSON).
  for (const key of ['notBefore', 'expiresAt'] as const) {
    const value = json[key];
    if (value instanceof Date) {
      const parsed = parseInstant(value);
      if (parsed.ok) json[key] = parsed.value;
      else {
        issues.push({ path: key, rule: parsed.rule, message: `${key} ${parsed.message}` });
        delete json[key];
      }
    }
  }
  issues.push(...schemaIssues(LinkInput, json, { aliases: FRIENDLY_ALIASES }));

  const failed = new Set(issues.map((i) => i.path));
  const instant = (key: 'notBefore' | 'expiresAt'): number | undefined => {
    const value = json[key];
    if (value === undefined || failed.has(key)) return undefined;
    const parsed = parseInstant(value as string | number);
    if (parsed.ok) return parsed.value;
    issues.push({ path: key, rule: parsed.rule, message: `${key}: ${parsed.message}` });
    return undefined;
  };
  const notBefore = instant('notBefore');
  let expiresAt = instant('expiresAt');
  let ttl = DEFAULT_TTL_SECONDS;
  if (input.ttl !== undefined && !failed.has('ttl')) {
    const parsed = parseDuration(input.ttl);
    if (parsed.ok) ttl = parsed.value;
    else issues.push({ path: 'ttl', rule: parsed.rule, message: `ttl: ${parsed.message}` });
  }
  if (input.ttl !== undefined && input.expiresAt !== undefined) {
    issues.push({ path: 'ttl', rule: 'exclusive', message: 'give expiresAt or ttl, not both' });
  }
  // ttl counts from the start of the window: a visit tomorrow at 14:00 for 45m ends at 14:45.
  const defaultLength = input.ttl === undefined && input.expiresAt === undefined;
  expiresAt ??= (notBefore ?? ctx.now) + ttl;
  for (const issue of windowIssues(
    notBefore,
    expiresAt,
    { nbf: 'notBefore', exp: input.expiresAt !== undefined ? 'expiresAt' : 'ttl' },
    { now: ctx.now, refusePastExpiry: !ctx.allowPast },
  )) {
    // Only a start was given: the start is what is wrong, not a ttl nobody wrote.
    if (issue.rule === 'past' && defaultLength && notBefore !== undefined) {
      issues.push({
        path: 'notBefore',
        rule: 'past',
        message: `notBefore (${isoSeconds(notBefore)}) is in the past: with the default length of ${ttl / 60} minutes the links would end at ${isoSeconds(expiresAt)}, before now; give a later notBefore, or an expiresAt or ttl`,
      });
    } else issues.push(issue);
  }

  const hosts = input.hosts ?? DEFAULTS.numHost;
  const guests = input.guests ?? DEFAULTS.numGuest;
  if (!failed.has('hosts') && !failed.has('guests')) {
    if (hosts + guests === 0) {
      issues.push({
        path: 'hosts',
        rule: 'total',
        message: 'hosts and guests are both 0: ask for at least one link',
      });
    } else if (hosts + guests > MAX_LINKS_PER_REQUEST) {
      issues.push({
        path: 'guests',
        rule: 'total',
        message: `hosts + guests must be at most ${MAX_LINKS_PER_REQUEST} in one request (got ${hosts + guests})`,
      });
    }
  }
  if (issues.length > 0) throw new ValidationError(issues);

  const subject = input.subject?.trim();
  return {
    subject:
      subject || generateSubject({ prefix: ctx.subjectPrefix, now: ctx.now, randomBytes: ctx.randomBytes }),
    subjectGenerated: !subject,
    hosts,
    guests,
    ...(notBefore !== undefined ? { notBefore } : {}),
    expiresAt,
    devices: (input.devices ?? []).map((d) => d.trim()),
    shortUrls: input.shortUrls ?? DEFAULTS.provideShortUrls,
    vertical: input.vertical ?? DEFAULTS.verticalType,
    hostLogin: input.hostLogin ?? DEFAULTS.loginUrlForHost,
    crypto: { ...input.crypto },
    audience: input.audience ?? AUDIENCE,
  };
}

/** The wire bodies for a resolved request: one per batch, same subject and window in each. */
export function toJoseEncryptRequests(request: ResolvedLinkRequest): JoseEncryptRequest[] {
  return planBatches(request.hosts, request.guests).map(({ numHost, numGuest }) => {
    const body: JoseEncryptRequest = {
      aud: request.audience,
      jwt: {
        sub: request.subject,
        ...(request.notBefore !== undefined ? { nbf: request.notBefore } : {}),
        exp: request.expiresAt,
        ...(request.devices.length > 0
          ? { flow: { id: 'sip-no-knock' as const, data: request.devices.map((uri) => ({ uri })) } }
          : {}),
      },
      numHost,
      numGuest,
      provideShortUrls: request.shortUrls,
      verticalType: request.vertical,
      loginUrlForHost: request.hostLogin,
      ...request.crypto,
    };
    return body;
  });
}

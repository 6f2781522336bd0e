/** `links` flags → the SDK's friendly input, and the SDK's field names → the flags people typed. */
import { parseWhen } from '../domain/local-time.js';
import type { CryptoOptions, LinkRequestInput } from '../domain/schema.js';
import { type Issue, ValidationError } from '../errors.js';

export interface LinkFlags {
  subject?: string;
  hosts?: number;
  guests?: number;
  start?: string;
  end?: string;
  ttl?: string;
  tz?: string;
  device?: string[];
  short?: boolean;
  vertical?: 'gen' | 'hc';
  hostLogin?: boolean;
  jweAlg?: string;
  enc?: string;
  jwsAlg?: string;
  saltLength?: number;
  iterations?: number;
}

const OPTION_OF: Record<string, string> = {
  subject: '--subject',
  hosts: '--hosts',
  guests: '--guests',
  notBefore: '--start',
  expiresAt: '--end',
  ttl: '--ttl',
  devices: '--device',
  shortUrls: '--short',
  vertical: '--vertical',
  hostLogin: '--no-host-login',
  'crypto.jweAlg': '--jwe-alg',
  'crypto.enc': '--enc',
  'crypto.jwsAlg': '--jws-alg',
  'crypto.saltLength': '--salt-length',
  'crypto.iterations': '--iterations',
};

/** The same issue, speaking of the flag instead of the SDK field. */
export function asOptionIssue(issue: Issue): Issue {
  const base = issue.path.replace(/\[\d+\]$/, '');
  const option = OPTION_OF[base];
  if (!option) return issue;
  const index = /\[(\d+)\]$/.exec(issue.path)?.[1];
  const name = index !== undefined ? `${option} #${Number(index) + 1}` : option;
  if (issue.rule === 'total') {
    // Rules about hosts and guests together name both flags.
    return {
      ...issue,
      path: option,
      message: issue.message.replace(/\bhosts\b/, '--hosts').replace(/\bguests\b/, '--guests'),
    };
  }
  const message = issue.message.startsWith(issue.path)
    ? `${name}${issue.message.slice(issue.path.length)}`
    : `${name}: ${issue.message}`;
  return { ...issue, path: option, message };
}

export function localTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** Builds the SDK input; times are read in `--tz` (default: this machine's zone). */
export function toLinkInput(flags: LinkFlags, now: number): LinkRequestInput {
  const issues: Issue[] = [];
  const timeZone = flags.tz ?? localTimeZone();
  const when = (text: string | undefined, option: string) => {
    if (text === undefined) return undefined;
    const parsed = parseWhen(text, { now, timeZone });
    if (parsed.ok) return parsed.value;
    issues.push({ path: option, rule: parsed.rule, message: `${option}: ${parsed.message}` });
    return undefined;
  };
  const notBefore = when(flags.start, '--start');
  const expiresAt = when(flags.end, '--end');
  if (issues.length > 0) throw new ValidationError(issues);
  const crypto: CryptoOptions = {};
  if (flags.jweAlg !== undefined) crypto.jweAlg = flags.jweAlg as CryptoOptions['jweAlg'];
  if (flags.enc !== undefined) crypto.enc = flags.enc as CryptoOptions['enc'];
  if (flags.jwsAlg !== undefined) crypto.jwsAlg = flags.jwsAlg as CryptoOptions['jwsAlg'];
  if (flags.saltLength !== undefined) crypto.saltLength = flags.saltLength;
  if (flags.iterations !== undefined) crypto.iterations = flags.iterations;
  const input: LinkRequestInput = {
    hosts: flags.hosts ?? 1,
    guests: flags.guests ?? 1,
    shortUrls: flags.short ?? false,
    hostLogin: flags.hostLogin ?? true,
  };
  if (flags.subject !== undefined) input.subject = flags.subject;
  if (notBefore !== undefined) input.notBefore = notBefore;
  if (expiresAt !== undefined) input.expiresAt = expiresAt;
  if (flags.ttl !== undefined) input.ttl = flags.ttl;
  if (flags.device?.length) input.devices = flags.device;
  if (flags.vertical !== undefined) input.vertical = flags.vertical;
  if (Object.keys(crypto).length > 0) input.crypto = crypto;
  return input;
}

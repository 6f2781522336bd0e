/** `links` flags → the SDK's friendly input, and the SDK's field names → the flags people typed. */
import { resolveLinkInput } from '../domain/input.js';
import { isTimeZone, parseWhen } from '../domain/local-time.js';
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

/** Field names that rules about two fields mention in their message body ("notBefore … before expiresAt"). */
const FIELD_WORDS = /(?<![\w-])(notBefore|expiresAt|ttl|hosts|guests)(?![\w-])/g;
const RULES_NAMING_OTHER_FIELDS = new Set(['total', 'order', 'exclusive', 'past']);

/** The same issue, speaking of the flag instead of the SDK field. */
export function asOptionIssue(issue: Issue): Issue {
  const base = issue.path.replace(/\[\d+\]$/, '');
  const option = OPTION_OF[base];
  if (!option) return issue;
  const index = /\[(\d+)\]$/.exec(issue.path)?.[1];
  const name = index !== undefined ? `${option} #${Number(index) + 1}` : option;
  let message = issue.message.startsWith(issue.path)
    ? `${name}${issue.message.slice(issue.path.length)}`
    : `${name}: ${issue.message}`;
  if (issue.rule === 'total') message = issue.message;
  if (RULES_NAMING_OTHER_FIELDS.has(issue.rule)) {
    // Rules about two fields (hosts and guests, start before end, end or ttl) name both flags.
    message = message.replace(FIELD_WORDS, (word) => OPTION_OF[word]!);
  }
  return { ...issue, path: option, message };
}

export function localTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/**
 * Builds the SDK input; times are read in `--tz` (default: this machine's zone). A bad `--tz`,
 * `--start` or `--end` is reported together with every other bad flag, in one ValidationError.
 */
export function toLinkInput(flags: LinkFlags, now: number): LinkRequestInput {
  const issues: Issue[] = [];
  const timeZone = flags.tz ?? localTimeZone();
  const zoneOk = isTimeZone(timeZone);
  if (!zoneOk) {
    issues.push({
      path: '--tz',
      rule: 'timezone',
      message: `--tz: ${JSON.stringify(timeZone)} is not a known time zone: use an IANA name such as Europe/London`,
    });
  }
  const when = (text: string | undefined, option: string) => {
    if (text === undefined || !zoneOk) return undefined;
    const parsed = parseWhen(text, { now, timeZone });
    if (parsed.ok) return parsed.value;
    issues.push({ path: option, rule: parsed.rule, message: `${option}: ${parsed.message}` });
    return undefined;
  };
  const notBefore = when(flags.start, '--start');
  const expiresAt = when(flags.end, '--end');
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
  if (issues.length > 0) {
    // The other flags are checked too, so one run names every problem.
    try {
      resolveLinkInput(input, { now });
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      issues.push(...err.issues);
    }
    throw new ValidationError(issues);
  }
  return input;
}

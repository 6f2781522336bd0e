/**
 * What staff, workflow engines and the bot send to make a visit: the link input with a visit's
 * words (`start`/`end` in a `timeZone`, short links on by default), converted to the SDK's input.
 */
import Type from 'typebox';
import { type Issue, ValidationError } from '../errors.js';
import { DEFAULT_TTL_SECONDS, MAX_DEVICES } from './constants.js';
import { resolveLinkInput } from './input.js';
import { isTimeZone, parseWhen } from './local-time.js';
import { assignRecipients, type Recipient, RecipientInput } from './recipients.js';
import { CryptoOptions, type LinkRequestInput, SipUri, Subject, VerticalField } from './schema.js';
import { parseDuration } from './time.js';
import { schemaIssues } from './validate.js';

const When = Type.Union(
  [Type.String({ minLength: 1, maxLength: 64 }), Type.Integer({ minimum: 0, maximum: 1e11 - 1 })],
  {
    'x-rule': 'now, +45m, 14:30, 2026-11-28 14:30 (in timeZone), ISO-8601 or epoch seconds',
  },
);

export const VisitInput = Type.Object(
  {
    subject: Type.Optional(Subject),
    start: Type.Optional(When),
    end: Type.Optional(When),
    ttl: Type.Optional(
      Type.Union([Type.String({ minLength: 1, maxLength: 32 }), Type.Integer({ minimum: 1 })], {
        'x-rule': 'a duration with a unit such as 45m, 1h30m or PT45M, or a JSON number of seconds',
      }),
    ),
    timeZone: Type.Optional(
      Type.String({ minLength: 1, maxLength: 64, 'x-rule': 'an IANA time zone such as Europe/London' }),
    ),
    hosts: Type.Optional(Type.Integer({ minimum: 0, maximum: 500 })),
    guests: Type.Optional(Type.Integer({ minimum: 0, maximum: 500 })),
    devices: Type.Optional(Type.Array(SipUri, { maxItems: MAX_DEVICES })),
    shortUrls: Type.Optional(Type.Boolean({ default: true })),
    vertical: Type.Optional(VerticalField),
    hostLogin: Type.Optional(Type.Boolean()),
    crypto: Type.Optional(CryptoOptions),
    gateway: Type.Optional(
      Type.Boolean({
        description:
          "Visits on Cisco's brokers (or any broker URL): hand out links on this service's origin (`gatewayUrl`), which redirect to the broker's while the visit is open and stop when it is cancelled. On by default when the server's PUBLIC_URL is set; `false` hands out the broker's own URLs.",
      }),
    ),
    alertTo: Type.Optional(
      Type.String({
        format: 'email',
        pattern: '^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$',
        maxLength: 254,
        'x-rule': 'an email address',
        description:
          'Who gets a 1:1 Webex message from the bot, with the host link, when a guest waits and no host has joined (WAITING_ALERT_SECONDS).',
      }),
    ),
    recipients: Type.Optional(
      Type.Array(RecipientInput, {
        maxItems: 1000,
        description:
          'Who gets each link, by email (with a calendar invitation) when the server has SMTP_URL: a notice when the visit is made and when it is cancelled. A recipient without `index` takes the next link of its role no one has; host links go only to `host` recipients.',
      }),
    ),
  },
  { additionalProperties: false, $id: 'VisitInput' },
);
export type VisitInput = Type.Static<typeof VisitInput>;

export const AddLinksInput = Type.Object(
  {
    hosts: Type.Optional(Type.Integer({ minimum: 0, maximum: 500, default: 0 })),
    guests: Type.Optional(Type.Integer({ minimum: 0, maximum: 500, default: 0 })),
  },
  { additionalProperties: false, $id: 'AddLinksInput' },
);
export type AddLinksInput = Type.Static<typeof AddLinksInput>;

/** SDK field → visit field, for messages. */
export const VISIT_FIELD_NAMES: Record<string, string> = { notBefore: 'start', expiresAt: 'end' };

/** The same issue, naming fields as the caller knows them (`--start`, `start`, …). */
export function renameIssue(issue: Issue, names: Record<string, string>): Issue {
  const base = issue.path.replace(/\[\d+\]$/, '');
  // Own keys only: a field named `valueOf` must not find Object.prototype.valueOf.
  const renamed = Object.hasOwn(names, base) ? names[base] : undefined;
  const words = new RegExp(
    `(?<![\\w-])(${Object.keys(names)
      .map((k) => k.replace('.', '\\.'))
      .join('|')})(?![\\w-])`,
    'g',
  );
  const message = issue.message.replace(words, (w) => names[w] ?? w);
  return { ...issue, path: renamed ? issue.path.replace(base, renamed) : issue.path, message };
}

const VISIT_ALIASES = {
  '': {
    notBefore: 'start',
    expiresAt: 'end',
    numHost: 'hosts',
    numGuest: 'guests',
    sub: 'subject',
    tz: 'timeZone',
  },
};

/** Validates a visit input and turns it into the SDK's input; every problem reported at once. */
export function toLinkRequest(input: unknown, now: number, defaultTimeZone: string): LinkRequestInput {
  const issues = schemaIssues(VisitInput, input, { aliases: VISIT_ALIASES });
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new ValidationError(issues);
  const v = input as VisitInput;
  const timeZone = v.timeZone ?? defaultTimeZone;
  const failed = new Set(issues.map((i) => i.path));
  if (v.timeZone !== undefined && !failed.has('timeZone') && !isTimeZone(v.timeZone)) {
    issues.push({
      path: 'timeZone',
      rule: 'timezone',
      message: `timeZone "${v.timeZone}" is not a known IANA time zone`,
    });
  }
  const when = (key: 'start' | 'end'): number | undefined => {
    const value = v[key];
    if (value === undefined || failed.has(key)) return undefined;
    if (typeof value === 'number') return value;
    const parsed = parseWhen(value, { now, timeZone: isTimeZone(timeZone) ? timeZone : 'UTC' });
    if (parsed.ok) return parsed.value;
    issues.push({ path: key, rule: parsed.rule, message: `${key}: ${parsed.message}` });
    return undefined;
  };
  const notBefore = when('start');
  const expiresAt = when('end');
  if (v.hosts === 0 && !failed.has('hosts') && !failed.has('guests') && (v.guests ?? 1) > 0) {
    issues.push({
      path: 'hosts',
      rule: 'minimum',
      message:
        'hosts must be at least 1: guests wait in the lobby until a host joins, so a visit without a host link would never start (POST /api/visits/:id/links adds guest links to a visit)',
    });
  }
  if (v.recipients !== undefined && !issues.some((i) => i.path.startsWith('recipients')))
    issues.push(...visitRecipients(v.recipients, v).issues);
  if (issues.length > 0)
    throw new ValidationError([...issues, ...laterIssues(v, issues, notBefore, expiresAt, now)]);
  const request: LinkRequestInput = {
    hosts: v.hosts ?? 1,
    guests: v.guests ?? 1,
    shortUrls: v.shortUrls ?? true,
  };
  if (v.subject !== undefined) request.subject = v.subject;
  if (notBefore !== undefined) request.notBefore = notBefore;
  if (expiresAt !== undefined) request.expiresAt = expiresAt;
  // The window is fixed here, from the one `now` the visit is made at: its end is absolute before
  // any link is made, so the links, the record and what staff see agree to the second.
  const length =
    v.ttl === undefined ? { ok: true as const, value: DEFAULT_TTL_SECONDS } : parseDuration(v.ttl);
  if (expiresAt === undefined && length.ok) request.expiresAt = (notBefore ?? now) + length.value;
  else if (v.ttl !== undefined) request.ttl = v.ttl; // the SDK names the problem (bad duration, or both)
  if (v.devices !== undefined) request.devices = v.devices;
  if (v.vertical !== undefined) request.vertical = v.vertical;
  if (v.hostLogin !== undefined) request.hostLogin = v.hostLogin;
  if (v.crypto !== undefined) request.crypto = v.crypto;
  return request;
}

/**
 * The SDK's own checks (window, totals) on the fields that passed the schema, so that one answer
 * lists every problem, not only the schema's (the SDK would run them only once the schema passed).
 */
function laterIssues(
  v: VisitInput,
  issues: Issue[],
  notBefore: number | undefined,
  expiresAt: number | undefined,
  now: number,
): Issue[] {
  const failed = (key: string) =>
    issues.some((i) => i.path === key || i.path.startsWith(`${key}[`) || i.path.startsWith(`${key}.`));
  const zoneOk = !failed('timeZone');
  const partial: LinkRequestInput = {};
  if (v.hosts !== undefined && !failed('hosts')) partial.hosts = v.hosts;
  if (v.guests !== undefined && !failed('guests')) partial.guests = v.guests;
  if (v.ttl !== undefined && !failed('ttl')) partial.ttl = v.ttl;
  if (notBefore !== undefined && zoneOk) partial.notBefore = notBefore;
  if (expiresAt !== undefined && zoneOk) partial.expiresAt = expiresAt;
  try {
    resolveLinkInput(partial, { now });
    return [];
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    const named = (path: string) => VISIT_FIELD_NAMES[path] ?? path;
    return err.issues.filter((i) => !failed(named(i.path)) && !issues.some((j) => j.path === named(i.path)));
  }
}

/**
 * The `from`/`to` filters of a visit list, in the forms `start` and `end` take (`now`, `+2h`, `14:30`,
 * `2026-11-28 14:30` read in `timeZone`, ISO-8601 or epoch seconds). Every bad one is named.
 */
export function listWindow(
  raw: { from?: string; to?: string; timeZone?: string },
  now: number,
  defaultTimeZone: string,
): { from?: number; to?: number } {
  const issues: Issue[] = [];
  const timeZone = raw.timeZone ?? defaultTimeZone;
  if (!isTimeZone(timeZone)) {
    issues.push({
      path: 'timeZone',
      rule: 'timezone',
      message: `timeZone "${timeZone}" is not a known IANA time zone`,
    });
    throw new ValidationError(issues);
  }
  const at = (key: 'from' | 'to'): number | undefined => {
    const text = raw[key];
    if (text === undefined) return undefined;
    const parsed = parseWhen(text, { now, timeZone });
    if (parsed.ok) return parsed.value;
    issues.push({ path: key, rule: parsed.rule, message: `${key}: ${parsed.message}` });
    return undefined;
  };
  const from = at('from');
  const to = at('to');
  if (issues.length > 0) throw new ValidationError(issues);
  return { ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}) };
}

/** The recipients of a visit input (already past the schema), with their links chosen. */
export function visitRecipients(
  recipients: readonly RecipientInput[],
  counts: { hosts?: number | undefined; guests?: number | undefined },
): { recipients: Recipient[]; issues: Issue[] } {
  return assignRecipients(recipients, { hosts: counts.hosts ?? 1, guests: counts.guests ?? 1 });
}

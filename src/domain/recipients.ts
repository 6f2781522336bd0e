/**
 * Who a visit's links go to. `recipients` of a visit input name a role and, optionally, a link
 * index; one without an index takes the next free link of its role. A host link goes only to a
 * recipient with the role `host` (the role picks the link). Pure: checks and assignment only.
 */
import Type from 'typebox';
import type { Issue } from '../errors.js';
import { isTimeZone } from './local-time.js';
import { CATALOGS, hasCatalog } from './messages/index.js';

export const CHANNELS = ['email', 'sms'] as const;
export type ChannelName = (typeof CHANNELS)[number];

export const RecipientInput = Type.Object(
  {
    role: Type.Enum(['host', 'guest'], { description: 'Which kind of link this person gets.' }),
    index: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 499,
        description:
          'The link of that role (0-based); without it, the next link of the role no recipient has.',
      }),
    ),
    name: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, 'x-rule': 'a name of 1 to 200 characters' }),
    ),
    email: Type.Optional(
      Type.String({
        format: 'email',
        pattern: '^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$',
        maxLength: 254,
        'x-rule': 'an email address',
      }),
    ),
    phone: Type.Optional(
      Type.String({
        pattern: '^\\+[1-9][0-9]{6,14}$',
        'x-rule': 'a phone number in E.164 form, such as +14155550123',
      }),
    ),
    channel: Type.Optional(
      Type.Enum([...CHANNELS], {
        description: 'How to reach them; default email when there is an address, else SMS.',
      }),
    ),
    language: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$',
        'x-rule': `a language tag such as en or es-MX (messages exist in: ${Object.keys(CATALOGS).join(', ')})`,
        description: `The language of their messages (${Object.keys(CATALOGS).join(', ')}); default English.`,
      }),
    ),
    timeZone: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        'x-rule': 'an IANA time zone such as Europe/Madrid',
        description: "The zone their messages give times in; default the visit's `timeZone`.",
      }),
    ),
  },
  { additionalProperties: false, $id: 'RecipientInput' },
);
export type RecipientInput = Type.Static<typeof RecipientInput>;

/** A recipient with its link chosen. */
export interface Recipient {
  role: 'host' | 'guest';
  index: number;
  name?: string;
  email?: string;
  phone?: string;
  channel?: ChannelName;
  language?: string;
  timeZone?: string;
}

/**
 * The checks the schema cannot make (an address for the channel, a known zone and language, a
 * link of that role for each recipient, one recipient per link) and the links chosen. `inputs`
 * passed the schema.
 */
export function assignRecipients(
  inputs: readonly RecipientInput[],
  counts: { hosts: number; guests: number },
  path = 'recipients',
): { recipients: Recipient[]; issues: Issue[] } {
  const issues: Issue[] = [];
  const taken = { host: new Set<number>(), guest: new Set<number>() };
  const available = { host: counts.hosts, guest: counts.guests };
  const plural = { host: 'hosts', guest: 'guests' };
  inputs.forEach((r, i) => {
    const at = `${path}[${i}]`;
    if (r.email === undefined && r.phone === undefined)
      issues.push({ path: at, rule: 'required', message: `${at} needs an email or a phone` });
    if (r.channel === 'email' && r.email === undefined)
      issues.push({
        path: `${at}.email`,
        rule: 'required',
        message: `${at}.email is required with channel email`,
      });
    if (r.channel === 'sms' && r.phone === undefined)
      issues.push({
        path: `${at}.phone`,
        rule: 'required',
        message: `${at}.phone is required with channel sms`,
      });
    if (r.timeZone !== undefined && !isTimeZone(r.timeZone))
      issues.push({
        path: `${at}.timeZone`,
        rule: 'timezone',
        message: `${at}.timeZone "${r.timeZone}" is not a known IANA time zone`,
      });
    if (r.language !== undefined && !hasCatalog(r.language))
      issues.push({
        path: `${at}.language`,
        rule: 'enum',
        message: `${at}.language "${r.language}" has no messages (known: ${Object.keys(CATALOGS).join(', ')})`,
      });
    if (r.index === undefined) return;
    if (r.index >= available[r.role])
      issues.push({
        path: `${at}.index`,
        rule: 'range',
        message: `${at}.index ${r.index} is not a ${r.role} link: the visit has ${available[r.role]} ${plural[r.role]} (indexes from 0)`,
      });
    else if (taken[r.role].has(r.index))
      issues.push({
        path: `${at}.index`,
        rule: 'unique',
        message: `${at}.index: ${r.role} link ${r.index} already has a recipient`,
      });
    else taken[r.role].add(r.index);
  });
  const recipients: Recipient[] = [];
  const next = { host: 0, guest: 0 };
  inputs.forEach((r, i) => {
    let index = r.index;
    if (index === undefined) {
      while (taken[r.role].has(next[r.role])) next[r.role] += 1;
      index = next[r.role];
      if (index >= available[r.role]) {
        issues.push({
          path: `${path}[${i}]`,
          rule: 'count',
          message: `${path}[${i}]: more ${r.role} recipients than ${r.role} links (${available[r.role]}): ask for more ${plural[r.role]}`,
        });
        return;
      }
      taken[r.role].add(index);
    }
    const out: Recipient = { role: r.role, index };
    for (const key of ['name', 'email', 'phone', 'channel', 'language', 'timeZone'] as const) {
      if (r[key] !== undefined) (out as unknown as Record<string, unknown>)[key] = r[key];
    }
    recipients.push(out);
  });
  return { recipients, issues };
}

/** The channel a recipient is reached on: theirs, else email when they have an address, else SMS. */
export function channelOf(r: Pick<Recipient, 'channel' | 'email' | 'phone'>): ChannelName | undefined {
  if (r.channel) return r.channel;
  if (r.email) return 'email';
  if (r.phone) return 'sms';
  return undefined;
}

/** An address for logs: `j***@example.com`, `+4479******23`. */
export function maskAddress(address: string): string {
  const at = address.lastIndexOf('@');
  if (at > 0) return `${address[0]}***${address.slice(at)}`;
  if (address.length <= 6) return '***';
  return `${address.slice(0, 5)}${'*'.repeat(address.length - 7)}${address.slice(-2)}`;
}

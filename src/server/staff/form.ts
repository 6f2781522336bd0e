import { localDateTime } from '../../domain/local-time.js';
import type { Issue } from '../../errors.js';

export const FIELDS = [
  'subject',
  'start',
  'duration',
  'hosts',
  'guests',
  'devices',
  'shortUrls',
  'vertical',
  'hostLogin',
  'gateway',
  'alertTo',
  'recipients',
] as const;
export type FieldName = (typeof FIELDS)[number];

/** What the form shows: the posted text, kept as typed. */
export interface VisitFormValues {
  subject: string;
  start: string;
  duration: string;
  hosts: string;
  guests: string;
  devices: string;
  shortUrls: boolean;
  vertical: string;
  hostLogin: boolean;
  /** Gateway links (shown only when the server can make them: Cisco's broker and PUBLIC_URL). */
  gateway: boolean;
  alertTo: string;
  /** Who gets the links by email: one a line, `guest ana@example.com`, `host dr@clinic.example`, or an address (a guest). */
  recipients: string;
  timeZone: string;
}

export interface FormErrors {
  /** Messages next to each field. */
  fields: Partial<Record<FieldName, string[]>>;
  /** Every message, in order, for the summary at the top (with the field it belongs to). */
  summary: { field?: FieldName; message: string }[];
}

/** Starts now (in UTC until the page's script knows the browser's zone), 30 minutes, one host, one guest. */
export function defaultValues(nowMs: number): VisitFormValues {
  return {
    subject: '',
    start: localDateTime(nowMs, 'UTC'),
    duration: '30',
    hosts: '1',
    guests: '1',
    devices: '',
    shortUrls: true,
    vertical: 'hc',
    hostLogin: true,
    gateway: true,
    alertTo: '',
    recipients: '',
    timeZone: '',
  };
}

/** One text field of a parsed urlencoded body (the first, when repeated). */
export function textField(body: unknown, name: string): string {
  if (typeof body !== 'object' || body === null) return '';
  const value = (body as Record<string, unknown>)[name];
  const first = Array.isArray(value) ? value[0] : value;
  return typeof first === 'string' ? first : '';
}

export function readForm(body: unknown): VisitFormValues {
  const text = (name: string) => textField(body, name);
  const checked = (name: string) => text(name) !== '';
  return {
    subject: text('subject'),
    start: text('start'),
    duration: text('duration'),
    hosts: text('hosts'),
    guests: text('guests'),
    devices: text('devices'),
    shortUrls: checked('shortUrls'),
    vertical: text('vertical'),
    hostLogin: checked('hostLogin'),
    gateway: checked('gateway'),
    alertTo: text('alertTo'),
    recipients: text('recipients'),
    timeZone: text('timeZone'),
  };
}

/** Whole numbers become numbers; anything else is passed on as typed, for the API to name the rule. */
const count = (text: string): number | string => (/^\s*\d{1,6}\s*$/.test(text) ? Number(text) : text);

/** The API's visit input. An empty time zone means UTC: the zone the default start was shown in. */
export function toVisitInput(values: VisitFormValues): Record<string, unknown> {
  const input: Record<string, unknown> = {
    hosts: count(values.hosts),
    guests: count(values.guests),
    shortUrls: values.shortUrls,
    hostLogin: values.hostLogin,
    vertical: values.vertical,
    timeZone: values.timeZone.trim() || 'UTC',
  };
  // Unchecked: the broker's own URLs. Checked (or not offered): the server's default.
  if (!values.gateway) input['gateway'] = false;
  const subject = values.subject.trim();
  if (subject) input['subject'] = subject;
  const start = values.start.trim();
  if (start) input['start'] = start;
  const duration = values.duration.trim();
  // Minutes; other durations (1h30m) as the API reads them.
  input['ttl'] = /^\d{1,6}$/.test(duration) ? `${Number(duration)}m` : duration;
  const devices = values.devices
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '');
  if (devices.length > 0) input['devices'] = devices;
  const alertTo = values.alertTo.trim();
  if (alertTo) input['alertTo'] = alertTo;
  const recipients = recipientLines(values.recipients);
  if (recipients.length > 0) input['recipients'] = recipients;
  return input;
}

/** `guest ana@example.com`, `host dr@clinic.example`, or an address alone (a guest); `+…` is a phone. */
function recipientLines(text: string): Record<string, string>[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line): Record<string, string> => {
      const words = line.split(/\s+/);
      const role = words[0] === 'host' || words[0] === 'guest' ? words.shift()! : 'guest';
      const address = words.join(' ');
      return address.startsWith('+') ? { role, phone: address } : { role, email: address };
    });
}

/** The form field an issue of the API belongs to (undefined: the summary only). */
function fieldOf(path: string): FieldName | undefined {
  const base = path.replace(/[[.].*$/, '');
  switch (base) {
    case 'ttl':
    case 'end':
      return 'duration';
    case 'start':
    case 'timeZone':
      return 'start';
    case 'subject':
    case 'hosts':
    case 'guests':
    case 'devices':
    case 'vertical':
    case 'shortUrls':
    case 'hostLogin':
    case 'gateway':
    case 'alertTo':
    case 'recipients':
      return base;
    default:
      return undefined;
  }
}

const LABELS: Record<string, string> = {
  ttl: 'Duration',
  end: 'The end',
  start: 'Start',
  timeZone: 'The time zone',
  subject: 'Subject',
  hosts: 'Hosts',
  guests: 'Guests',
  vertical: 'Kind of visit',
  shortUrls: 'Short links',
  hostLogin: 'Host login',
  gateway: 'Gateway links',
  devices: 'Devices',
  alertTo: 'Tell when a guest waits',
  recipients: 'Recipients',
};

/** The API's sentence with the form's words: `devices[1] must…` → `Line 2 must…`, `ttl` → `Duration`. */
function formMessage(issue: Issue): string {
  if (issue.path === 'ttl') {
    const past = /^ttl \(([^)]+)\) is in the past/.exec(issue.message);
    if (past) {
      return `The visit would end at ${past[1]}, in the past: choose a later start or a longer duration`;
    }
    if (issue.rule !== 'exclusive' && issue.rule !== 'order') {
      return 'Duration must be a whole number of minutes, at least 1 (or a duration such as 1h30m)';
    }
  }
  const recipient = /^recipients\[(\d+)\](?:\.(\w+))?:?/.exec(issue.message);
  if (recipient)
    return `Recipients, line ${Number(recipient[1]) + 1}${recipient[2] ? ` (${recipient[2]})` : ''}:${issue.message.slice(recipient[0].length)}`;
  const line = /^devices\[(\d+)\]/.exec(issue.message);
  if (line) return `Line ${Number(line[1]) + 1}${issue.message.slice(line[0].length)}`;
  const first = /^(\w+)\b/.exec(issue.message);
  if (first && LABELS[first[1]!]) return `${LABELS[first[1]!]}${issue.message.slice(first[0].length)}`;
  return issue.message.charAt(0).toUpperCase() + issue.message.slice(1);
}

export function formErrors(issues: Issue[]): FormErrors {
  const errors: FormErrors = { fields: {}, summary: [] };
  for (const issue of issues) {
    const field = fieldOf(issue.path);
    const message = formMessage(issue);
    if (field) {
      const messages = errors.fields[field] ?? [];
      messages.push(message);
      errors.fields[field] = messages;
    }
    errors.summary.push(field ? { field, message } : { message });
  }
  return errors;
}

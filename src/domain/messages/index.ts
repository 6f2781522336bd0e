/**
 * The notices a recipient gets (creation, cancellation, reminder), in their language: a subject, a plain-text
 * part and an HTML part with the link written out in full. Pure: no I/O, no clock. What people
 * wrote (the subject, the name) is escaped in HTML. A language is one file (en.ts, es.ts) listed in
 * CATALOGS.
 */
import { en } from './en.js';
import { es } from './es.js';
import type { Catalog } from './types.js';

export const CATALOGS: Readonly<Record<string, Catalog>> = { en, es };
const DEFAULT_LANGUAGE = 'en';

/** The catalog for a BCP 47 tag (`es-MX` → es), else English. */
function catalogFor(language: string | undefined): Catalog {
  const base = (language ?? '').toLowerCase().split('-')[0] ?? '';
  return Object.hasOwn(CATALOGS, base) ? CATALOGS[base]! : CATALOGS[DEFAULT_LANGUAGE]!;
}

/** Whether a language tag has a catalog of its own (its base language). */
export function hasCatalog(language: string): boolean {
  return Object.hasOwn(CATALOGS, language.toLowerCase().split('-')[0] ?? '');
}

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/** A date and time as the recipient reads it, in their zone and language. */
function localWhen(epochSeconds: number, timeZone: string, locale: string): string {
  return new Intl.DateTimeFormat(locale, {
    dateStyle: 'full',
    timeStyle: 'short',
    timeZone,
  }).format(new Date(epochSeconds * 1000));
}

export type NoticeKind = 'created' | 'cancelled' | 'reminder';

export interface NoticeInput {
  kind: NoticeKind;
  role: 'host' | 'guest';
  subject: string;
  name?: string;
  language?: string;
  timeZone: string;
  start: number;
  end: number;
  /** The link to give (the gateway's, else the short one, else the long one). */
  url: string;
}

export interface Notice {
  subject: string;
  /** A reminder's first line (the visit starts at <time in the recipient's zone>), for SMS. */
  headline?: string;
  text: string;
  html: string;
}

export function composeNotice(input: NoticeInput): Notice {
  const c = catalogFor(input.language);
  const when = c.when(
    localWhen(input.start, input.timeZone, c.locale),
    localWhen(input.end, input.timeZone, c.locale),
    input.timeZone,
  );
  const lines: string[] = [c.greeting(input.name), ''];
  const html: string[] = [`<p>${escapeHtml(c.greeting(input.name))}</p>`];
  if (input.kind === 'cancelled') {
    lines.push(c.cancelled, '', input.subject, when);
    html.push(
      `<p>${escapeHtml(c.cancelled)}</p>`,
      `<p><strong>${escapeHtml(input.subject)}</strong><br>${escapeHtml(when)}</p>`,
    );
  } else {
    const intro =
      input.kind === 'reminder'
        ? c.reminder(localWhen(input.start, input.timeZone, c.locale))
        : c.created[input.role];
    lines.push(intro, '', input.subject, when, '', c.join, input.url, '', c.window);
    const href = escapeHtml(input.url);
    html.push(
      `<p>${escapeHtml(intro)}</p>`,
      `<p><strong>${escapeHtml(input.subject)}</strong><br>${escapeHtml(when)}</p>`,
      `<p>${escapeHtml(c.join)}<br><a href="${href}">${href}</a></p>`,
      `<p>${escapeHtml(c.window)}</p>`,
    );
    if (input.role === 'host') {
      lines.push(c.hostOnly);
      html.push(`<p>${escapeHtml(c.hostOnly)}</p>`);
    }
  }
  lines.push('', c.signature);
  html.push(`<p>${escapeHtml(c.signature)}</p>`);
  return {
    subject: c.subject[input.kind](input.subject),
    ...(input.kind === 'reminder'
      ? { headline: c.reminder(localWhen(input.start, input.timeZone, c.locale)) }
      : {}),
    text: `${lines.join('\n')}\n`,
    html: `<!doctype html><html><body>${html.join('\n')}</body></html>`,
  };
}

/**
 * A generic HTTP SMS provider, for those Twilio's shape does not fit: a POST to a URL with a body
 * template in which `{{to}}` and `{{text}}` stand for the number and the message. A template
 * starting with `{` is JSON (the values are escaped as JSON string contents: write `"{{to}}"`);
 * any other is a form (`to={{to}}&text={{text}}`, the values percent-encoded). An auth header is
 * sent as `Authorization`, or as its own header when written `Name: value`. The answer's `id`,
 * `sid` or `messageId`, when present, is the provider's id for the message.
 */
import type { Channel, ChannelResult, OutboundMessage } from '../../domain/channels.js';
import { type Fetch, providerRequest } from './request.js';

export const DEFAULT_HTTP_BODY = '{"to":"{{to}}","text":"{{text}}"}';

const PLACEHOLDER = /\{\{\s*(to|text)\s*\}\}/g;

/** The template's kind, and whether it names both placeholders (config checks it). */
export function templateProblem(template: string): string | undefined {
  const names = new Set([...template.matchAll(PLACEHOLDER)].map((m) => m[1]));
  if (!names.has('to') || !names.has('text')) return 'must contain {{to}} and {{text}}';
  if (isJsonTemplate(template)) {
    try {
      JSON.parse(renderTemplate(template, { to: '', text: '' }));
    } catch {
      return 'starts with { but is not JSON once {{to}} and {{text}} are filled in (quote them: "{{to}}")';
    }
  }
  return undefined;
}

const isJsonTemplate = (template: string): boolean => template.trimStart().startsWith('{');

/** The body with its placeholders filled in, escaped for the template's kind. */
function renderTemplate(template: string, values: { to: string; text: string }): string {
  const json = isJsonTemplate(template);
  return template.replace(PLACEHOLDER, (_, name: 'to' | 'text') =>
    json ? JSON.stringify(values[name]).slice(1, -1) : encodeURIComponent(values[name]),
  );
}

/** `Name: value` as that header, anything else as the Authorization header's value. */
export function authHeader(auth: string): [string, string] {
  const named = /^([A-Za-z0-9-]+):\s*(.+)$/.exec(auth.trim());
  return named ? [named[1]!.toLowerCase(), named[2]!] : ['authorization', auth.trim()];
}

export interface HttpSmsOptions {
  url: string;
  /** The body template (default DEFAULT_HTTP_BODY). */
  body?: string;
  /** An auth header (a secret): `Bearer …`, `Basic …`, or `Name: value`. */
  auth?: string;
  fetch?: Fetch;
  timeoutMs?: number;
}

export class HttpSms implements Channel {
  readonly name = 'sms' as const;
  readonly provider = 'http';
  readonly #options: HttpSmsOptions;
  readonly #template: string;

  constructor(options: HttpSmsOptions) {
    this.#options = options;
    this.#template = options.body ?? DEFAULT_HTTP_BODY;
  }

  toString(): string {
    return `HttpSms(${new URL(this.#options.url).origin})`;
  }

  toJSON(): Record<string, unknown> {
    return { provider: this.provider, origin: new URL(this.#options.url).origin };
  }

  async send(message: OutboundMessage, signal?: AbortSignal): Promise<ChannelResult> {
    const headers: Record<string, string> = {
      'content-type': isJsonTemplate(this.#template)
        ? 'application/json'
        : 'application/x-www-form-urlencoded',
      accept: 'application/json',
    };
    const auth = this.#options.auth ? authHeader(this.#options.auth) : undefined;
    if (auth) headers[auth[0]] = auth[1];
    const answer = await providerRequest({
      label: 'The SMS provider',
      fetch: this.#options.fetch ?? fetch,
      url: this.#options.url,
      headers,
      body: renderTemplate(this.#template, { to: message.to, text: message.text }),
      timeoutMs: this.#options.timeoutMs ?? 15_000,
      ...(signal ? { signal } : {}),
      secrets: [this.#options.auth, auth?.[1], ...(auth?.[1].split(/\s+/) ?? [])],
    });
    const id = answer.json?.['id'] ?? answer.json?.['sid'] ?? answer.json?.['messageId'];
    return {
      ...(typeof id === 'string' || typeof id === 'number' ? { providerId: String(id) } : {}),
      status: 'queued',
    };
  }
}
